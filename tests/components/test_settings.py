"""components/settings.py: settings types built from plain values, checked, and back."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

import pytest

from components.errors import PipelineError
from components.settings import Bounds, SettingsError, check, from_dict, to_dict


@dataclass(frozen=True)
class Inner:
    rate: Annotated[float, Bounds(0, 10, above_low=True)]
    sizes: tuple[int, ...]


@dataclass(frozen=True)
class Outer:
    name: str
    count: Annotated[int, Bounds(0, 100)]
    limit: Annotated[int | None, Bounds(1, 1000)]
    enabled: bool
    inner: Inner

    def problems(self) -> list[tuple[str, str]]:
        too_low = self.limit is not None and self.limit < self.count
        return [("limit", f"must be >= count, got {self.limit} < {self.count}")] if too_low else []


VALUES = {"name": "n", "count": 3, "limit": None, "enabled": True, "inner": {"rate": 0.5, "sizes": [1, 2]}}


def values(**changes) -> dict:
    return {**VALUES, **changes}


def test_from_dict_builds_nested_types_and_lists_become_tuples():
    settings = from_dict(Outer, VALUES)
    assert settings == Outer("n", 3, None, True, Inner(0.5, (1, 2)))


def test_to_dict_gives_back_plain_values():
    assert to_dict(from_dict(Outer, VALUES)) == VALUES


@pytest.mark.parametrize(
    "given, expected",
    [(1, 1.0), ("1e-3", 0.001), ("2.5", 2.5)],  # YAML 1.1 reads 1e-3 as a string
)
def test_float_fields_take_ints_and_numeric_strings(given, expected):
    rate = from_dict(Outer, values(inner={"rate": given, "sizes": []})).inner.rate
    assert rate == expected and isinstance(rate, float)


def test_int_fields_take_integral_floats_as_json_and_struct_carry_them():
    settings = from_dict(Outer, values(count=3.0, inner={"rate": 1.0, "sizes": [4.0]}))
    assert settings.count == 3 and isinstance(settings.count, int)
    assert settings.inner.sizes == (4,)


def test_optional_field_takes_a_value_or_none():
    assert from_dict(Outer, values(limit=7)).limit == 7
    assert from_dict(Outer, values(limit=None)).limit is None


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"count": "3"}, "'p.count' must be of type int, got '3'"),
        ({"count": True}, "'p.count' must be of type int, got True"),
        ({"count": 2.5}, "'p.count' must be of type int, got 2.5"),
        ({"enabled": 1}, "'p.enabled' must be of type bool, got 1"),
        ({"name": None}, "'p.name' must be of type str, got None"),
        ({"name": "n\udcff"}, "'p.name' must be UTF-8 text, got 'n\\udcff'"),  # a byte 0xff, as Python keeps it
        ({"limit": "all"}, "'p.limit' must be of type int, got 'all'"),
        ({"inner": {"rate": True, "sizes": []}}, "'p.inner.rate' must be of type float, got True"),
        ({"inner": {"rate": "fast", "sizes": []}}, "'p.inner.rate' must be of type float, got 'fast'"),
        ({"inner": {"rate": 1.0, "sizes": 3}}, "'p.inner.sizes' must be a list, got 3"),
        ({"inner": {"rate": 1.0, "sizes": [1, "x"]}}, r"'p.inner.sizes[1]' must be of type int, got 'x'"),
        ({"inner": 5}, "'p.inner' must be a section of settings"),
    ],
)
def test_a_bad_type_is_refused_naming_the_dotted_key(changes, message):
    with pytest.raises(SettingsError) as error:
        from_dict(Outer, values(**changes), "p.")
    assert str(error.value) == message


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "nan", "inf", "-inf"])
def test_nan_and_infinity_are_never_a_setting(bad):
    with pytest.raises(SettingsError, match=r"^'p\.inner\.rate' must be a finite number, got "):
        from_dict(Outer, values(inner={"rate": bad, "sizes": []}), "p.")


def test_nan_for_an_int_is_refused_naming_the_key():
    with pytest.raises(SettingsError, match=r"^'count' must be of type int, got nan$"):
        from_dict(Outer, values(count=math.nan))


def test_missing_keys_are_all_named():
    with pytest.raises(SettingsError, match=r"^missing setting\(s\): p\.name, p\.limit$"):
        from_dict(Outer, {key: value for key, value in VALUES.items() if key not in ("name", "limit")}, "p.")


def test_a_missing_nested_key_is_named_with_its_section():
    with pytest.raises(SettingsError, match=r"^missing setting\(s\): inner\.sizes$"):
        from_dict(Outer, values(inner={"rate": 1.0}))


def test_unknown_keys_are_all_named():
    with pytest.raises(SettingsError, match=r"^unknown setting\(s\): p\.colour, p\.size$") as error:
        from_dict(Outer, values(colour="red", size=1), "p.")
    assert isinstance(error.value, PipelineError) and isinstance(error.value, ValueError)


def test_an_unknown_nested_key_is_named_with_its_section():
    with pytest.raises(SettingsError, match=r"^unknown setting\(s\): p\.inner\.extra$"):
        from_dict(Outer, values(inner={"rate": 1.0, "sizes": [], "extra": 1}), "p.")


def test_check_collects_problems_of_nested_settings_with_dotted_paths():
    settings = from_dict(Outer, values(count=-1, inner={"rate": -2.0, "sizes": []}))
    assert check(settings, "top.") == [
        "'top.count' must be in 0..100, got -1",
        "'top.inner.rate' must be > 0 and <= 10, got -2.0",
    ]
    assert check(from_dict(Outer, VALUES)) == []


@pytest.mark.parametrize(
    "changes, problems",
    [
        ({"count": 101}, ["'p.count' must be in 0..100, got 101"]),
        ({"count": 2**70}, [f"'p.count' must be in 0..100, got {2**70}"]),
        ({"count": 0, "limit": 0}, ["'p.limit' must be in 1..1000, got 0"]),
        ({"count": 100, "limit": 1000}, []),
        ({"limit": None}, []),
        ({"inner": {"rate": 0.0, "sizes": []}}, ["'p.inner.rate' must be > 0 and <= 10, got 0.0"]),
        ({"inner": {"rate": 10.5, "sizes": []}}, ["'p.inner.rate' must be > 0 and <= 10, got 10.5"]),
        ({"inner": {"rate": 10, "sizes": []}}, []),
    ],
)
def test_a_value_out_of_its_declared_bounds_is_named_with_the_bounds(changes, problems):
    assert check(from_dict(Outer, values(**changes)), "p.") == problems


@dataclass(frozen=True)
class Shape:
    sides: Annotated[tuple[int, ...], Bounds(1, 64, items=(2, 2))]
    layers: Annotated[tuple[int, ...], Bounds(1, 8, items=(1, 3))]


@pytest.mark.parametrize(
    "sides, layers, problems",
    [
        ((28, 28), (1, 8, 8), []),
        ((28,), (1,), ["'sides' must have 2 items, got 1"]),
        ((28, 65), (), ["'sides' must be in 1..64 each, got [28, 65]", "'layers' must have 1..3 items, got 0"]),
        ((1, 1), (0, 9), ["'layers' must be in 1..8 each, got [0, 9]"]),
    ],
)
def test_a_list_setting_bounds_how_many_items_and_each_item(sides, layers, problems):
    assert check(Shape(sides, layers)) == problems


def test_the_rules_that_span_fields_come_after_the_bounds():
    settings = from_dict(Outer, values(count=5, limit=3, inner={"rate": 11, "sizes": []}))
    assert check(settings) == [
        "'inner.rate' must be > 0 and <= 10, got 11.0",
        "'limit' must be >= count, got 3 < 5",
    ]


def test_check_passes_types_without_problems():
    @dataclass(frozen=True)
    class Plain:
        value: int

    assert check(Plain(1)) == []


@dataclass(frozen=True)
class ByName:
    """A section whose keys the user names, e.g. kubeflow.resources by task."""

    items: Mapping[str, Inner]


def test_a_mapping_section_converts_each_value_and_stays_hashable_and_read_only():
    settings = from_dict(ByName, {"items": {"a": {"rate": 1, "sizes": [2]}, "b-c": {"rate": 0.5, "sizes": []}}})
    assert settings.items == {"a": Inner(1.0, (2,)), "b-c": Inner(0.5, ())}
    assert hash(settings) == hash(from_dict(ByName, to_dict(settings)))
    with pytest.raises(TypeError, match="read-only"):
        settings.items["d"] = Inner(1.0, ())  # type: ignore[index]


def test_a_mapping_sections_values_are_checked_and_named_by_their_key():
    with pytest.raises(SettingsError, match=r"^'p\.items\.a\.rate' must be of type float, got 'x'$"):
        from_dict(ByName, {"items": {"a": {"rate": "x", "sizes": []}}}, "p.")
    with pytest.raises(SettingsError, match=r"^'p\.items' must be a section of settings, got \[1\]$"):
        from_dict(ByName, {"items": [1]}, "p.")
    settings = from_dict(ByName, {"items": {"a": {"rate": -1, "sizes": []}}})
    assert check(settings, "p.") == ["'p.items.a.rate' must be > 0 and <= 10, got -1.0"]
