"""Typed settings: configs/pipeline.yaml, then a user's file, then `--set key=value` overrides.

configs/pipeline.yaml holds every setting and its default. Each section's type is declared by
the code that uses it (the components' settings types, the runners' below); this module only
composes them. An unknown key, a missing key or a bad value is a ConfigError naming the key.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml

from components.evaluator.settings import EvaluationSettings
from components.example_format import ExampleFormat
from components.idx_example_gen.settings import IngestSettings
from components.settings import Bounds, SettingsError, check, from_dict
from components.trainer.settings import TrainerSettings, size_problems

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "configs" / "pipeline.yaml"
ConfigError = SettingsError  # one error type for every bad setting, wherever it is found
# The DirectRunner's worker count: on Kubeflow the compiler sets it per Beam task from its CPU limit.
BEAM_WORKERS_FLAG = "--direct_num_workers"
# What one Kubeflow task may ask for: more than the largest machines of the clouds have.
CORES = Bounds(0, 1024, above_low=True)
MEMORY_GB = Bounds(0, 16_384, above_low=True)
DAY_SECONDS = 24 * 3600


@dataclasses.dataclass(frozen=True)
class ValidationConfig:
    schema_file: str

    @property
    def schema_path(self) -> Path:
        return PROJECT_ROOT / self.schema_file  # an absolute schema_file wins over the root


@dataclasses.dataclass(frozen=True)
class BeamConfig:
    pipeline_args: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class TaskResources:
    """What one Kubeflow task's pod requests and may use at most: CPU in cores, memory in GB
    (10^9 bytes: KFP's driver reads the spec's numbers as "<n>G", driver.go getPodResource)."""

    cpu_request: Annotated[float, CORES]
    cpu_limit: Annotated[float, CORES]
    memory_request_gb: Annotated[float, MEMORY_GB]
    memory_limit_gb: Annotated[float, MEMORY_GB]

    def problems(self) -> list[tuple[str, str]]:
        return [
            (f"{kind}_request{unit}", f"must not exceed {kind}_limit{unit}, got {request} > {limit}")
            for kind, unit, request, limit in (
                ("cpu", "", self.cpu_request, self.cpu_limit),
                ("memory", "_gb", self.memory_request_gb, self.memory_limit_gb),
            )
            if request > limit
        ]


@dataclasses.dataclass(frozen=True)
class Accelerator:
    """Accelerators for one task: on KFP a Kubernetes resource name, e.g. nvidia.com/gpu."""

    type: str
    count: Annotated[int, Bounds(1, 64)]

    def problems(self) -> list[tuple[str, str]]:
        return [("type", "must name a resource, e.g. nvidia.com/gpu")] if not self.type.strip() else []


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How often a failed task runs again, and when."""

    max_retries: Annotated[int, Bounds(0, 100)]  # 0: a failed task fails the run
    # The wait before the first retry; times backoff_factor before each next one.
    backoff_seconds: Annotated[int, Bounds(0, DAY_SECONDS)]
    backoff_factor: Annotated[float, Bounds(1, 100)]
    # No retry starts later than this after the task's first attempt started.
    window_seconds: Annotated[int, Bounds(1, 30 * DAY_SECONDS)]

    def problems(self) -> list[tuple[str, str]]:
        if self.window_seconds <= self.backoff_seconds:
            return [("window_seconds", f"must be > backoff_seconds, got {self.window_seconds}")]
        return []


@dataclasses.dataclass(frozen=True)
class KubeflowSettings:
    """Where and how the pipeline runs on Kubeflow; `compile` and `submit` flags override these."""

    image: str
    pipeline_root: str
    data_dir: str
    serving_dir: str
    beam_pipeline_args: tuple[str, ...]
    task_env: tuple[str, ...]  # NAME=VALUE
    task_secret_env: tuple[str, ...]  # NAME=SECRET/KEY
    resources: Mapping[str, TaskResources]  # by task (node id)
    trainer_accelerator: Accelerator | None
    retry: RetryPolicy

    def env(self) -> list[tuple[str, str]]:
        """task_env as (NAME, VALUE)."""
        return [assignment for item in self.task_env if (assignment := _assignment(item))]  # checked: all are

    def secret_env(self) -> list[tuple[str, str, str]]:
        """task_secret_env as (NAME, SECRET, KEY)."""
        pairs = [assignment for item in self.task_secret_env if (assignment := _assignment(item))]
        return [(name, *reference.partition("/")[::2]) for name, reference in pairs]

    def storage_uris(self) -> dict[str, str]:
        """The object-storage locations, by the setting (and flag) that names each."""
        return {
            "kubeflow.pipeline_root (--pipeline-root)": self.pipeline_root,
            "kubeflow.data_dir (--data-dir)": self.data_dir,
            "kubeflow.serving_dir (--serving-dir)": self.serving_dir,
        }

    def problems(self) -> list[tuple[str, str]]:
        found = [
            ("task_env", f"expected NAME=VALUE with a variable name, got {item!r}")
            for item in self.task_env
            if _assignment(item) is None
        ]
        found += [
            ("task_secret_env", f"expected NAME=SECRET/KEY, got {item!r}")
            for item in self.task_secret_env
            if not re.fullmatch(r"[^/]+/[^/]+", (_assignment(item) or ("", ""))[1])
        ]
        found += [
            ("beam_pipeline_args", f"must not set {arg}: each Beam task runs one worker per core of its cpu_limit")
            for arg in self.beam_pipeline_args
            if arg.startswith(BEAM_WORKERS_FLAG)
        ]
        return found


@dataclasses.dataclass(frozen=True)
class MetadataConfig:
    grpc_host: str | None  # None: `lineage` reads <output-dir>/metadata.sqlite
    grpc_port: Annotated[int, Bounds(1, 65_535)]


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """configs/pipeline.yaml: each section is the settings type of the code that uses it."""

    pipeline_name: str
    data: ExampleFormat
    ingest: IngestSettings
    validation: ValidationConfig
    training: TrainerSettings
    evaluation: EvaluationSettings
    beam: BeamConfig
    kubeflow: KubeflowSettings
    metadata: MetadataConfig

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def problems(self) -> list[tuple[str, str]]:
        """The model's size, once each setting that makes it is within its own bounds."""
        return [] if check(self.data) or check(self.training) else size_problems(self.training, self.data)


def load_config(config_file: Path | None = None, overrides: Iterable[str] = ()) -> PipelineConfig:
    """Loads the defaults, merges `config_file` and the `key=value` overrides, and checks them."""
    settings = _read_yaml(DEFAULT_CONFIG_FILE)
    if config_file is not None:
        _merge(settings, _read_yaml(config_file), source=str(config_file))
    for override in overrides:
        key, value = _parse_override(override)
        _merge(settings, _nest(key, value), source=f"--set {override}")
    config = from_dict(PipelineConfig, settings)
    problems = check(config)
    if problems:
        raise ConfigError("; ".join(problems))
    return config


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


def _assignment(item: str) -> tuple[str, str] | None:
    """NAME=VALUE as (NAME, VALUE); None when NAME is not a variable name."""
    name, separator, value = item.partition("=")
    return (name, value) if separator and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else None
