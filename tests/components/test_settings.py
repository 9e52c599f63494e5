"""components/settings.py: settings types built from plain values, checked, and back; pydantic's
errors as one SettingsError line."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Annotated

import pytest
from pydantic import AfterValidator, ValidationError, model_validator
from pydantic.dataclasses import dataclass

from components.errors import PipelineError
from components.settings import SETTINGS, Bounds, Flag, Float, Int, SettingsError, Text, from_dict, problems, to_dict


def _positive_sizes(sizes: tuple[int, ...]) -> tuple[int, ...]:
    if any(size < 0 for size in sizes):
        raise ValueError(f"must not be negative, got {list(sizes)}")
    return sizes


@dataclass(frozen=True, config=SETTINGS)
class Inner:
    rate: Annotated[Float, Bounds(0, 10, above_low=True)]
    sizes: Annotated[tuple[Int, ...], AfterValidator(_positive_sizes)]


@dataclass(frozen=True, config=SETTINGS)
class Outer:
    name: Text
    count: Annotated[Int, Bounds(0, 100)]
    limit: Annotated[Int | None, Bounds(1, 1000)]
    enabled: Flag
    inner: Inner

    @model_validator(mode="after")
    def _limit_above_count(self) -> Outer:
        if self.limit is not None and self.limit < self.count:
            raise problems("Outer", [("limit", f"must be >= count, got {self.limit} < {self.count}")])
        return self


VALUES = {"name": "n", "count": 3, "limit": None, "enabled": True, "inner": {"rate": 0.5, "sizes": [1, 2]}}


def values(**changes) -> dict:
    return {**VALUES, **changes}


def message(cls: type, given: dict, path: str = "p.") -> str:
    with pytest.raises(SettingsError) as error:
        from_dict(cls, given, path)
    return str(error.value)


def test_from_dict_builds_nested_types_and_lists_become_tuples():
    settings = from_dict(Outer, VALUES)
    assert settings == Outer("n", 3, None, True, Inner(0.5, (1, 2)))


def test_to_dict_gives_back_plain_values():
    assert to_dict(from_dict(Outer, VALUES)) == VALUES


def test_settings_are_frozen_and_built_only_checked():
    settings = from_dict(Outer, VALUES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.count = 4  # type: ignore[misc]
    with pytest.raises(ValidationError):
        dataclasses.replace(settings, count=-1)


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
    "changes, expected",
    [
        ({"count": "3"}, "'p.count' must be of type int, got '3'"),
        ({"count": True}, "'p.count' must be of type int, got True"),
        ({"count": 2.5}, "'p.count' must be of type int, got 2.5"),
        ({"count": math.nan}, "'p.count' must be of type int, got nan"),
        ({"enabled": 1}, "'p.enabled' must be of type bool, got 1"),
        ({"name": None}, "'p.name' must be of type str, got None"),
        ({"name": "n\udcff"}, "'p.name' must be UTF-8 text, got 'n\\udcff'"),  # a byte 0xff, as Python keeps it
        ({"limit": "all"}, "'p.limit' must be of type int, got 'all'"),
        ({"inner": {"rate": True, "sizes": []}}, "'p.inner.rate' must be of type float, got True"),
        ({"inner": {"rate": "fast", "sizes": []}}, "'p.inner.rate' must be of type float, got 'fast'"),
        ({"inner": {"rate": 1.0, "sizes": 3}}, "'p.inner.sizes' must be a list, got 3"),
        ({"inner": {"rate": 1.0, "sizes": [1, "x"]}}, "'p.inner.sizes[1]' must be of type int, got 'x'"),
        ({"inner": 5}, "'p.inner' must be a section of settings, got 5"),
    ],
)
def test_a_bad_type_is_refused_naming_the_dotted_key(changes, expected):
    assert message(Outer, values(**changes)) == expected


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "nan", "inf", "-inf"])
def test_nan_and_infinity_are_never_a_setting(bad):
    assert message(Outer, values(inner={"rate": bad, "sizes": []})).startswith(
        "'p.inner.rate' must be a finite number, got "
    )


def test_not_a_section_at_all_names_the_path():
    assert message(Outer, [1]) == "'p' must be a section of settings, got [1]"


def test_missing_and_unknown_keys_are_all_named_with_their_section():
    given = {key: value for key, value in values(colour="red").items() if key not in ("name", "limit")}
    given["inner"] = {"rate": 1.0, "extra": 1}
    assert message(Outer, given).split("; ") == [
        "missing setting 'p.name'",
        "missing setting 'p.limit'",
        "missing setting 'p.inner.sizes'",
        "unknown setting 'p.inner.extra'",
        "unknown setting 'p.colour'",
    ]


def test_a_settings_error_is_a_pipeline_error_and_a_value_error():
    with pytest.raises(SettingsError) as error:
        from_dict(Outer, values(colour="red"))
    assert isinstance(error.value, PipelineError) and isinstance(error.value, ValueError)


def test_every_bad_value_is_named_in_one_line_in_the_order_of_the_fields():
    assert message(Outer, values(count=-1, name=3, inner={"rate": -2, "sizes": [-1]}), "top.") == (
        "'top.name' must be of type str, got 3; 'top.count' must be in 0..100, got -1; "
        "'top.inner.rate' must be > 0 and <= 10, got -2.0; 'top.inner.sizes' must not be negative, got [-1]"
    )


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"count": 101}, "'p.count' must be in 0..100, got 101"),
        ({"count": 2**70}, f"'p.count' must be in 0..100, got {2**70}"),
        ({"count": 1e23}, f"'p.count' must be in 0..100, got {int(1e23)}"),  # the int the float is
        ({"count": 0, "limit": 0}, "'p.limit' must be in 1..1000, got 0"),
        ({"inner": {"rate": 0.0, "sizes": []}}, "'p.inner.rate' must be > 0 and <= 10, got 0.0"),
        ({"inner": {"rate": 11, "sizes": []}}, "'p.inner.rate' must be > 0 and <= 10, got 11.0"),
    ],
)
def test_a_value_out_of_its_declared_bounds_is_named_with_the_bounds(changes, expected):
    assert message(Outer, values(**changes)) == expected


@pytest.mark.parametrize(
    "changes", [{"count": 100, "limit": 1000}, {"limit": None}, {"inner": {"rate": 10, "sizes": []}}]
)
def test_a_bound_itself_is_within(changes):
    from_dict(Outer, values(**changes))


@dataclass(frozen=True, config=SETTINGS)
class Shape:
    sides: Annotated[tuple[Int, ...], Bounds(1, 64, items=(2, 2))]
    layers: Annotated[tuple[Int, ...], Bounds(1, 8, items=(1, 3))]


@pytest.mark.parametrize(
    "sides, layers, expected",
    [
        ([28], [1], "'sides' must have 2 items, got 1"),
        ([28, 65], [], "'sides' must be in 1..64 each, got [28, 65]; 'layers' must have 1..3 items, got 0"),
        ([1, 1], [0, 9], "'layers' must be in 1..8 each, got [0, 9]"),
    ],
)
def test_a_list_setting_bounds_how_many_items_and_each_item(sides, layers, expected):
    assert from_dict(Shape, {"sides": [28, 28], "layers": [1, 8, 8]}) == Shape((28, 28), (1, 8, 8))
    assert message(Shape, {"sides": sides, "layers": layers}, "") == expected


def test_a_rule_spanning_fields_names_the_field_it_blames():
    assert message(Outer, values(count=5, limit=3)) == "'p.limit' must be >= count, got 3 < 5"


def test_a_rule_spanning_fields_waits_for_the_fields_own_checks():
    assert message(Outer, values(count=5, limit=3, inner={"rate": 11, "sizes": []})) == (
        "'p.inner.rate' must be > 0 and <= 10, got 11.0"
    )


@dataclass(frozen=True, config=SETTINGS)
class ByName:
    """A section whose keys the user names, e.g. kubeflow.resources by task."""

    items: Mapping[str, Inner]


def test_a_mapping_sections_values_are_checked_and_named_by_their_key():
    settings = from_dict(ByName, {"items": {"a": {"rate": 1, "sizes": [2]}, "b-c": {"rate": 0.5, "sizes": []}}})
    assert settings.items == {"a": Inner(1.0, (2,)), "b-c": Inner(0.5, ())}
    assert message(ByName, {"items": {"a": {"rate": "x", "sizes": []}}}) == (
        "'p.items.a.rate' must be of type float, got 'x'"
    )
    assert message(ByName, {"items": [1]}) == "'p.items' must be a section of settings, got [1]"
    assert message(ByName, {"items": {"a": {"rate": -1, "sizes": []}}}) == (
        "'p.items.a.rate' must be > 0 and <= 10, got -1.0"
    )
