"""Typed settings that components own: built from plain values (YAML, JSON), checked, and back.

A component declares its settings once, as a frozen dataclass beside its executor; the
pipeline's config composes those types, and the component's spec carries them as plain
values (custom_config, JSON) to its executor, which rebuilds the same type with `from_dict`.
A number setting declares the values it may take where it is declared, as
`Annotated[int, Bounds(1, 65_536)]`: every setting that decides memory, shapes or time has
bounds, so an absurd value is refused when the config loads, not by TensorFlow minutes in. A
settings type may also define `problems()`: (field, what is wrong) pairs for rules that span
fields. `check` collects both, with the dotted path of each field.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from components.errors import PipelineError

Settings = TypeVar("Settings")


class SettingsError(PipelineError, ValueError):
    """A setting is unknown, missing or has a bad value; the message names it."""


class FrozenMap(dict[str, Any]):
    """A section whose keys the user names (a `Mapping[str, X]` field), read-only and hashable
    as the rest of the settings are (frozen dataclasses, tuples)."""

    def __hash__(self) -> int:  # type: ignore[override]  # dict's is None
        return hash(frozenset(self.items()))

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("settings are read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _read_only


@dataclass(frozen=True)
class Bounds:
    """The values a number setting may take, `low`..`high` (`low` itself excluded when
    `above_low`); of a list setting, the values of each item, and `items` how many there may be."""

    low: float
    high: float
    above_low: bool = False
    items: tuple[int, int] | None = None

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value`, naming the bound; None when it is within."""
        if isinstance(value, tuple):
            return self._count_problem(len(value)) or self._items_problem(list(value))
        return None if self._holds(value) else f"must be {self._range()}, got {value}"

    def _holds(self, value: float) -> bool:
        return (self.low < value if self.above_low else self.low <= value) and value <= self.high

    def _range(self) -> str:
        return f"> {self.low} and <= {self.high}" if self.above_low else f"in {self.low}..{self.high}"

    def _count_problem(self, count: int) -> str | None:
        if self.items is None or self.items[0] <= count <= self.items[1]:
            return None
        low, high = self.items
        return f"must have {low if low == high else f'{low}..{high}'} items, got {count}"

    def _items_problem(self, items: list[Any]) -> str | None:
        return None if all(map(self._holds, items)) else f"must be {self._range()} each, got {items}"


def from_dict(cls: type[Settings], values: Any, path: str = "") -> Settings:
    """Builds dataclass `cls` from a mapping, converting and checking each field's type.

    `path` prefixes the names in messages, e.g. "training." gives 'training.batch_size'.
    """
    if not isinstance(values, Mapping):
        raise SettingsError(f"'{path.rstrip('.')}' must be a section of settings")
    hints = typing.get_type_hints(cls)
    names = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]  # Settings: a dataclass
    missing = [name for name in names if name not in values]
    if missing:
        raise SettingsError(f"missing setting(s): {', '.join(path + name for name in missing)}")
    unknown = [key for key in values if key not in names]
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(path + str(key) for key in unknown)}")
    return cls(**{name: _convert(values[name], hints[name], path + name) for name in names})


def to_dict(settings: Any) -> dict[str, Any]:
    """The settings as plain JSON values (tuples become lists)."""
    return _plain(dataclasses.asdict(settings))


def check(settings: Any, path: str = "") -> list[str]:
    """Every value out of its bounds and every problem that the settings and the settings nested
    in them report, with dotted names, in the order of the fields."""
    hints = typing.get_type_hints(type(settings), include_extras=True)
    found = []
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        bounds = declared_bounds(hints[field.name])
        problem = bounds.problem(value) if bounds is not None and value is not None else None
        if problem:
            found.append(f"'{path}{field.name}' {problem}")
        if dataclasses.is_dataclass(value):
            found += check(value, f"{path}{field.name}.")
        elif isinstance(value, Mapping):
            found += [
                problem
                for key, item in value.items()
                if dataclasses.is_dataclass(item)
                for problem in check(item, f"{path}{field.name}.{key}.")
            ]
    return found + [f"'{path}{name}' {problem}" for name, problem in getattr(settings, "problems", list)()]


def declared_bounds(hint: Any) -> Bounds | None:
    """The Bounds of an `Annotated[X, Bounds(...)]` type hint (read with include_extras=True)."""
    return next((item for item in getattr(hint, "__metadata__", ()) if isinstance(item, Bounds)), None)


def _convert(value: Any, hint: Any, key: str) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_dict(hint, value, key + ".")
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):  # `X | None`
        return None if value is None else _convert(value, args[0], key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise SettingsError(f"'{key}' must be a list, got {value!r}")
        return tuple(_convert(item, args[0], f"{key}[{index}]") for index, item in enumerate(value))
    if origin is Mapping:  # Mapping[str, X]: a section whose keys the user names
        if not isinstance(value, Mapping):
            raise SettingsError(f"'{key}' must be a section of settings, got {value!r}")
        return FrozenMap({str(name): _convert(item, args[1], f"{key}.{name}") for name, item in value.items()})
    if hint is float:
        return _float(value, key)
    if hint is int and isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON and protobuf Structs carry every number as a float
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise SettingsError(f"'{key}' must be of type {hint.__name__}, got {value!r}")
    if hint is str and not is_utf8(value):  # YAML's "\udcff" is a lone surrogate
        raise SettingsError(f"'{key}' must be UTF-8 text, got {value!r}")
    return value


def is_utf8(text: str) -> bool:
    """Whether `text` can be written as UTF-8: Python keeps bytes that are not UTF-8 (in a path,
    an argument) as lone surrogates, which TFX, ML Metadata and JSON files refuse deep in a run."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _float(value: Any, key: str) -> float:
    """A finite float: YAML 1.1 reads "1e-3" as a string, and .nan or .inf are never a setting."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"'{key}' must be of type float, got {value!r}")
    if not math.isfinite(value):
        raise SettingsError(f"'{key}' must be a finite number, got {value!r}")
    return float(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
