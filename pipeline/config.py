"""Typed settings: configs/pipeline.yaml, then a user's file, then `--set key=value` overrides.

configs/pipeline.yaml holds every setting and its default. Each section's type is declared by
the code that uses it (the components' settings types, the ones below); this module merges the
files and the overrides into one mapping (refusing a key the defaults do not have) and lets
pydantic build the config from it. A bad value is a ConfigError naming the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import model_validator
from pydantic.dataclasses import dataclass

from components.evaluator.settings import EvaluationSettings
from components.example_format import ExampleFormat
from components.idx_example_gen.settings import IngestSettings
from components.settings import SETTINGS, Bounds, Int, SettingsError, Text, from_dict, problems
from components.trainer.settings import TrainerSettings, size_problems

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "configs" / "pipeline.yaml"
ConfigError = SettingsError  # one error type for every bad setting, wherever it is found


@dataclass(frozen=True, config=SETTINGS)
class ValidationConfig:
    schema_file: Text

    @property
    def schema_path(self) -> Path:
        return PROJECT_ROOT / self.schema_file  # an absolute schema_file wins over the root


@dataclass(frozen=True, config=SETTINGS)
class BeamConfig:
    pipeline_args: tuple[Text, ...]


@dataclass(frozen=True, config=SETTINGS)
class MetadataConfig:
    grpc_host: Text | None  # None: `lineage` reads <output-dir>/metadata.sqlite
    grpc_port: Annotated[Int, Bounds(1, 65_535)]


@dataclass(frozen=True, config=SETTINGS)
class PipelineConfig:
    """configs/pipeline.yaml: each section is the settings type of the code that uses it."""

    pipeline_name: Text
    data: ExampleFormat
    ingest: IngestSettings
    validation: ValidationConfig
    training: TrainerSettings
    evaluation: EvaluationSettings
    beam: BeamConfig
    # Read by pipeline/kubeflow/ only, which checks it (KubeflowConfig, for `compile` and
    # `submit`); here a mapping with no key that configs/pipeline.yaml does not have.
    kubeflow: Any
    metadata: MetadataConfig

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @model_validator(mode="after")
    def _model_size(self) -> PipelineConfig:
        """The model's size, once each setting that makes it is within its own bounds."""
        found = size_problems(self.training, self.data)
        if found:
            raise problems(type(self).__name__, found)
        return self


def load_config(config_file: Path | None = None, overrides: Iterable[str] = ()) -> PipelineConfig:
    """The config the defaults, `config_file` and the `key=value` overrides make, checked."""
    return from_dict(PipelineConfig, merged_settings(config_file, overrides))


def merged_settings(config_file: Path | None, overrides: Iterable[str]) -> dict[str, Any]:
    """The defaults with `config_file` and the `key=value` overrides merged in, as plain values;
    a key the defaults do not have is refused naming where it came from."""
    settings = _read_yaml(DEFAULT_CONFIG_FILE)
    if config_file is not None:
        _merge(settings, _read_yaml(config_file), source=str(config_file))
    for override in overrides:
        key, value = _parse_override(override)
        _merge(settings, _nest(key, value), source=f"--set {override}")
    return settings


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")  # YAML's own encoding, whatever the locale's
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file ({error.strerror})") from error
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x} on line {line})") from error
    content = _load_yaml(text, f"{path}: not valid YAML")
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of settings")
    return content


def _load_yaml(text: str, what: str) -> Any:
    """`text` as YAML; else a ConfigError `what` and where."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{what}{_where(error)}") from error
    except RecursionError as error:  # PyYAML composes nested collections recursively
        raise ConfigError(f"{what}: collections nested too deeply") from error


def _where(error: yaml.YAMLError) -> str:
    """`at line L, column C: problem`, as one line (PyYAML's own message spans several)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f" at line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else f": {problem}"


def _parse_override(override: str) -> tuple[str, Any]:
    key, separator, text = override.partition("=")
    if not separator or not key.strip():
        raise ConfigError(f"--set {override}: expected key=value, e.g. training.learning_rate=0.01")
    shown = override if len(override) <= 100 else f"{override[:100]}..."  # the line stays readable
    return key.strip(), _load_yaml(text, f"--set {shown}: the value is not valid YAML")


def _nest(dotted_key: str, value: Any) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    *parents, leaf = dotted_key.split(".")
    level = nested
    for parent in parents:
        level = level.setdefault(parent, {})
    level[leaf] = value
    return nested


def _merge(base: dict[str, Any], update: Mapping[str, Any], source: str, prefix: str = "") -> None:
    """Merges `update` into `base` in place; `update` may only name keys that `base` has."""
    for key, value in update.items():
        if key not in base:
            known = ", ".join(prefix + name for name in base)
            raise ConfigError(f"{source}: unknown setting '{prefix}{key}' (known: {known})")
        if isinstance(base[key], dict):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{source}: '{prefix}{key}' is a section, give one of its keys")
            _merge(base[key], value, source, prefix=f"{prefix}{key}.")
        else:
            base[key] = value
