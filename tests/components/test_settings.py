"""components/settings.py: settings types built from plain values, checked, and back."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from components.errors import PipelineError
from components.settings import SettingsError, check, from_dict, to_dict


@dataclass(frozen=True)
class Inner:
    rate: float
    sizes: tuple[int, ...]

    def problems(self) -> list[tuple[str, str]]:
        return [("rate", f"must be > 0, got {self.rate}")] if self.rate <= 0 else []


@dataclass(frozen=True)
class Outer:
    name: str
    count: int
    limit: int | None
    enabled: bool
    inner: Inner

    def problems(self) -> list[tuple[str, str]]:
        return [("count", f"must be >= 0, got {self.count}")] if self.count < 0 else []


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
    assert check(settings, "top.") == ["'top.count' must be >= 0, got -1", "'top.inner.rate' must be > 0, got -2.0"]
    assert check(from_dict(Outer, VALUES)) == []


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
    assert check(settings, "p.") == ["'p.items.a.rate' must be > 0, got -1.0"]
