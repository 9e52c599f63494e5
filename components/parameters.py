"""Settings as component parameters: one ExecutionParameter per field, named as its YAML key.

A parameter of its own stands by value in TFX's cache key and in ML Metadata, and a Kubeflow run
may set it (a TFX RuntimeParameter, compiled into a root input of the spec): a field of a JSON
custom_config could only be replaced whole. TFX's parameters, and KFP's, are numbers and text, so
the two other kinds of setting travel as TFX's own components carry them: a bool as 0 or 1
(TransformSpec's force_tf_compat_v1), a list as JSON text (EvaluatorSpec's example_splits).
`settings` turns the parameters back into the settings type in one parse, checked as the config
checks them: a Kubeflow run's values are only type-checked when the run is created.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from components.settings import from_dict, to_dict

if TYPE_CHECKING:  # the run page reads settings back, and a refused run imports no TFX
    from tfx.types.component_spec import ExecutionParameter

Settings = TypeVar("Settings")
ParameterValue = int | float | str  # what a TFX or KFP parameter holds


def spec(cls: type, optional: bool = False) -> dict[str, ExecutionParameter]:
    """The ExecutionParameters of a settings type, one per field, for a ComponentSpec's PARAMETERS."""
    from tfx.types.component_spec import ExecutionParameter

    return {name: ExecutionParameter(type=_parameter_type(hint), optional=optional) for name, hint in _fields(cls)}


def values(settings: Any) -> dict[str, ParameterValue]:
    """The settings as parameter values, by field name."""
    return {name: _parameter_value(value) for name, value in to_dict(settings).items()}


def settings(cls: type[Settings], exec_properties: Mapping[str, Any], path: str) -> Settings:
    """The settings type from an execution's parameters, checked; a bad value is one SettingsError
    naming it, with `path` (e.g. "training.") before the name. An executor gets a list as JSON
    text (TFX and KFP alike); the run page reads the parameters back from ML Metadata decoded
    (pipeline/inspect/store.py ExecutionInfo.parameters), the list already parsed."""
    given = {
        name: _setting_value(exec_properties[name], hint) for name, hint in _fields(cls) if name in exec_properties
    }
    return from_dict(cls, given, path)


def _fields(cls: type) -> list[tuple[str, Any]]:
    hints = typing.get_type_hints(cls)
    return [(field.name, hints[field.name]) for field in dataclasses.fields(cls)]


def _parameter_type(hint: Any) -> type:
    if hint is bool:
        return int
    if typing.get_origin(hint) is tuple:
        return str
    if hint in (int, float, str):
        return hint
    raise TypeError(f"a setting of type {hint} cannot be a component parameter")


def _parameter_value(value: Any) -> ParameterValue:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return json.dumps(value)
    return value


def _setting_value(value: Any, hint: Any) -> Any:
    if hint is bool and value in (0, 1) and not isinstance(value, bool):
        return bool(value)
    if typing.get_origin(hint) is tuple and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value  # from_dict names the setting: it must be a list
    return value
