"""The bounds each number setting declares, read from a settings type (tests of configs)."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping

from components.settings import Bounds


def number_settings(cls: type, path: str = "") -> dict[str, Bounds | None]:
    """Dotted key -> its declared Bounds, of every int and float setting, lists of them included."""
    found: dict[str, Bounds | None] = {}
    hints, bare_hints = typing.get_type_hints(cls, include_extras=True), typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        metadata = getattr(hints[field.name], "__metadata__", ())
        bounds = next((item for item in metadata if isinstance(item, Bounds)), None)
        bare = _not_none(bare_hints[field.name])
        if typing.get_origin(bare) is Mapping:  # a section by name: its values' settings
            bare = _not_none(typing.get_args(bare)[1])
        if dataclasses.is_dataclass(bare):
            found |= number_settings(typing.cast(type, bare), f"{path}{field.name}.")
        elif bare in (int, float) or typing.get_args(bare)[:1] in ((int,), (float,)):
            found[f"{path}{field.name}"] = bounds
    return found


def _not_none(hint: typing.Any) -> typing.Any:
    """X of `X | None`; any other hint as it is."""
    if typing.get_origin(hint) not in (typing.Union, types.UnionType):
        return hint
    return next(arg for arg in typing.get_args(hint) if arg is not type(None))
