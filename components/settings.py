"""Typed settings that components own: pydantic dataclasses built from plain values (YAML, JSON),
checked, and back; any fault one SettingsError line naming each dotted key.

A component declares its settings once, beside its executor, as
`@dataclass(frozen=True, config=SETTINGS)` (pydantic's), with the strict field types below (no
"3" for an int, no True for a number, no NaN, no text that is not UTF-8). Every number setting
that decides memory, shapes or time declares its `Bounds`, so an absurd value is refused when
the config loads, not by TensorFlow minutes in; a rule spanning fields is a model validator
raising `problems`. A component's settings reach its executor by one of two routes: the
training and evaluation settings as one parameter per field (components/parameters.py `values`,
rebuilt by its `settings`), which a Kubeflow run may set one by one; the others (ingest, the
Examples' format) as plain values in a custom_config (`to_dict`), rebuilt by `from_dict`.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, AllowInfNan, BeforeValidator, ConfigDict, Strict, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, core_schema

from components.errors import PipelineError

Settings = TypeVar("Settings")
SETTINGS = ConfigDict(extra="forbid")  # an unknown key is refused


class SettingsError(PipelineError, ValueError):
    """A setting is unknown, missing or has a bad value; the message names it."""


def _whole(value: Any) -> Any:
    """JSON and protobuf Structs carry every number as a float: 3.0 is the int 3 (and 1e23 an
    int that the bounds then refuse, naming it)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _number_text(value: Any) -> Any:
    """YAML 1.1 reads "1e-3" as text."""
    try:
        return float(value) if isinstance(value, str) else value
    except ValueError:
        return value


def is_utf8(text: str) -> bool:
    """Whether `text` can be written as UTF-8: Python keeps bytes that are not UTF-8 (in a path,
    an argument, YAML's "\\udcff") as lone surrogates, which TFX, ML Metadata and JSON files
    refuse deep in a run."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _utf8(text: str) -> str:
    if not is_utf8(text):
        raise ValueError(f"must be UTF-8 text, got {text!r}")
    return text


Int = Annotated[int, Strict(), BeforeValidator(_whole)]
Float = Annotated[float, Strict(), AllowInfNan(False), BeforeValidator(_number_text)]  # an int is one too
Text = Annotated[str, Strict(), AfterValidator(_utf8)]
Flag = Annotated[bool, Strict()]


@dataclasses.dataclass(frozen=True)
class Bounds:
    """The values a number setting may take, `low`..`high` (`low` itself excluded when
    `above_low`); of a list setting, the values of each item, and `items` how many there may be.
    Checked after the type (so 2 given for a float shows as 2.0), in a message naming both ends,
    which pydantic's own ge/le constraints do not."""

    low: float
    high: float
    above_low: bool = False
    items: tuple[int, int] | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def _check(self, value: Any) -> Any:
        problem = None if value is None else self._problem(value)
        if problem:
            raise ValueError(problem)
        return value

    def _problem(self, value: Any) -> str | None:
        within = f"> {self.low} and <= {self.high}" if self.above_low else f"in {self.low}..{self.high}"
        if not isinstance(value, tuple):
            return None if self._holds(value) else f"must be {within}, got {value}"
        if self.items and not self.items[0] <= len(value) <= self.items[1]:
            low, high = self.items
            return f"must have {low if low == high else f'{low}..{high}'} items, got {len(value)}"
        return None if all(map(self._holds, value)) else f"must be {within} each, got {list(value)}"

    def _holds(self, value: float) -> bool:
        return (self.low < value if self.above_low else self.low <= value) and value <= self.high


def problems(title: str, found: list[tuple[str, str]]) -> ValidationError:
    """What a model validator raises for a rule spanning fields: each (dotted field, problem)
    is named under the settings' own key, as a field's own error is."""
    errors = [
        InitErrorDetails(type="value_error", loc=tuple(field.split(".")), input=None, ctx={"error": problem})
        for field, problem in found
    ]
    return ValidationError.from_exception_data(title, errors)


def from_dict(cls: type[Settings], values: Any, path: str = "") -> Settings:
    """Settings dataclass `cls` from plain values, checked; `path` prefixes the names in the
    message, e.g. "training." gives 'training.batch_size'."""
    try:
        return TypeAdapter(cls).validate_python(values)
    except ValidationError as error:
        raise settings_error(error, path) from None


def to_dict(settings: Any) -> dict[str, Any]:
    """The settings as plain JSON values (tuples become lists)."""
    return TypeAdapter(type(settings)).dump_python(settings, mode="json")


# What pydantic's error types mean, as our messages say it; each is followed by ", got <value>".
_TYPE_PROBLEMS = {
    "int_type": "must be of type int",
    "float_type": "must be of type float",
    "bool_type": "must be of type bool",
    "string_type": "must be of type str",
    "tuple_type": "must be a list",
    "dataclass_type": "must be a section of settings",
    "dict_type": "must be a section of settings",
    "finite_number": "must be a finite number",
}


def settings_error(error: ValidationError, path: str = "") -> SettingsError:
    """pydantic's errors as one line: each names its dotted key (`path` before it) and the problem."""
    return SettingsError("; ".join(dict.fromkeys(_line(details, path) for details in error.errors())))


def _line(details: ErrorDetails, path: str) -> str:
    key = path.rstrip(".")
    for part in details["loc"]:
        key += f"[{part}]" if isinstance(part, int) else f".{part}" if key else part
    key = key or "settings"
    kind = details["type"]
    if kind in ("missing", "missing_argument"):
        return f"missing setting '{key}'"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return f"unknown setting '{key}'"
    if kind == "value_error":  # our own checks raise ValueError, with the whole message
        return f"'{key}' {details.get('ctx', {}).get('error')}"
    return f"'{key}' {_TYPE_PROBLEMS.get(kind, details['msg'])}, got {details['input']!r}"
