"""Typed settings: configs/pipeline.yaml, then a user's file, then `--set key=value` overrides.

configs/pipeline.yaml holds every setting and its default; the dataclasses below only give
them types. An unknown key, a missing key or a value of the wrong type is a ConfigError.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from components.errors import PipelineError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "configs" / "pipeline.yaml"
OPTIMIZERS = ("adam", "sgd", "rmsprop")


class ConfigError(PipelineError, ValueError):
    """A setting is unknown, missing or has a bad value."""


@dataclasses.dataclass(frozen=True)
class DataConfig:
    train_images: str
    train_labels: str
    test_images: str
    test_labels: str
    image_shape: tuple[int, ...]
    num_classes: int


@dataclasses.dataclass(frozen=True)
class IngestConfig:
    validation_size: int
    train_size: int | None
    test_size: int | None
    records_per_shard: int
    gzip_level: int


@dataclasses.dataclass(frozen=True)
class ValidationConfig:
    schema_file: str

    @property
    def schema_path(self) -> Path:
        return PROJECT_ROOT / self.schema_file  # an absolute schema_file wins over the root


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    hidden_units: tuple[int, ...]
    optimizer: str
    learning_rate: float
    cosine_decay: bool
    batch_size: int
    train_steps: int
    log_every_steps: int
    checkpoint_every_steps: int
    seed: int


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    accuracy_threshold: float
    max_accuracy_regression: float
    compare_with_blessed: bool


@dataclasses.dataclass(frozen=True)
class BeamConfig:
    pipeline_args: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class KubeflowConfig:
    image: str
    pipeline_root: str
    data_dir: str
    serving_dir: str
    beam_pipeline_args: tuple[str, ...]
    task_env: tuple[str, ...]  # NAME=VALUE
    task_secret_env: tuple[str, ...]  # NAME=SECRET/KEY


@dataclasses.dataclass(frozen=True)
class MetadataConfig:
    grpc_host: str | None  # None: `lineage` reads <output-dir>/metadata.sqlite
    grpc_port: int


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    pipeline_name: str
    data: DataConfig
    ingest: IngestConfig
    validation: ValidationConfig
    training: TrainingConfig
    evaluation: EvaluationConfig
    beam: BeamConfig
    kubeflow: KubeflowConfig
    metadata: MetadataConfig

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_config(config_file: Path | None = None, overrides: Iterable[str] = ()) -> PipelineConfig:
    """Loads the defaults, merges `config_file` and the `key=value` overrides, and checks them."""
    settings = _read_yaml(DEFAULT_CONFIG_FILE)
    if config_file is not None:
        _merge(settings, _read_yaml(config_file), source=str(config_file))
    for override in overrides:
        key, value = _parse_override(override)
        _merge(settings, _nest(key, value), source=f"--set {override}")
    config = _build(PipelineConfig, settings, path="")
    _check_values(config)
    return config


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        content = yaml.safe_load(Path(path).read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: a config file must be a mapping of settings")
    return content


def _parse_override(override: str) -> tuple[str, Any]:
    key, separator, text = override.partition("=")
    if not separator or not key.strip():
        raise ConfigError(f"--set {override}: expected key=value, e.g. training.learning_rate=0.01")
    try:
        return key.strip(), yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {override}: the value is not valid YAML ({error})") from error


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


def _build(cls: type, values: Any, path: str) -> Any:
    """Builds dataclass `cls` from a mapping, converting and checking each field's type."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"'{path.rstrip('.')}' must be a section of settings")
    hints = typing.get_type_hints(cls)
    missing = [field.name for field in dataclasses.fields(cls) if field.name not in values]
    if missing:
        raise ConfigError(f"missing setting(s): {', '.join(path + name for name in missing)}")
    return cls(**{name: _convert(values[name], hints[name], path + name) for name in hints})


def _convert(value: Any, hint: Any, key: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key + ".")
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is types.UnionType:  # `X | None`
        return None if value is None else _convert(value, args[0], key)
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"'{key}' must be a list, got {value!r}")
        return tuple(_convert(item, args[0], f"{key}[{index}]") for index, item in enumerate(value))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
        try:
            return float(value)
        except ValueError:
            pass
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"'{key}' must be of type {hint.__name__}, got {value!r}")
    return value


def _check_values(config: PipelineConfig) -> None:
    """Checks ranges that types alone do not catch."""
    problems = []
    positive = {
        "data.num_classes": config.data.num_classes,
        "ingest.records_per_shard": config.ingest.records_per_shard,
        "training.batch_size": config.training.batch_size,
        "training.train_steps": config.training.train_steps,
        "training.log_every_steps": config.training.log_every_steps,
        "training.checkpoint_every_steps": config.training.checkpoint_every_steps,
        "training.learning_rate": config.training.learning_rate,
    }
    problems += [f"'{key}' must be > 0, got {value}" for key, value in positive.items() if value <= 0]
    sizes = {
        "ingest.validation_size": config.ingest.validation_size,
        "ingest.train_size": config.ingest.train_size,
        "ingest.test_size": config.ingest.test_size,
    }
    problems += [f"'{key}' must be >= 0, got {value}" for key, value in sizes.items() if (value or 0) < 0]
    if not 0 <= config.ingest.gzip_level <= 9:
        problems.append(f"'ingest.gzip_level' must be in 0..9, got {config.ingest.gzip_level}")
    if not config.data.image_shape or min(config.data.image_shape) <= 0:
        problems.append(f"'data.image_shape' must be positive sizes, got {list(config.data.image_shape)}")
    if not config.training.hidden_units or min(config.training.hidden_units) <= 0:
        problems.append(f"'training.hidden_units' must be positive sizes, got {list(config.training.hidden_units)}")
    if config.training.optimizer not in OPTIMIZERS:
        problems.append(f"'training.optimizer' must be one of {', '.join(OPTIMIZERS)}, got {config.training.optimizer!r}")
    for key, value in {
        "evaluation.accuracy_threshold": config.evaluation.accuracy_threshold,
        "evaluation.max_accuracy_regression": config.evaluation.max_accuracy_regression,
    }.items():
        if not 0 <= value <= 1:
            problems.append(f"'{key}' must be in 0..1, got {value}")
    if problems:
        raise ConfigError("; ".join(problems))
