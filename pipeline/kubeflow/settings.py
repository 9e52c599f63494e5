"""The `kubeflow` section: where and how the pipeline runs on Kubeflow, which only `compile` and
`submit` read.

The core config (pipeline/config.py) holds this section as a plain mapping, since the core may
not import this package; KubeflowConfig is the config with the section checked as
KubeflowSettings, which the CLI's `compile` and `submit` load before anything else, so a bad
value is one line naming its key, as any other setting's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, model_validator
from pydantic.dataclasses import dataclass

from components.settings import SETTINGS, Bounds, Float, Int, Text, from_dict, problems
from pipeline.config import PipelineConfig, merged_settings

# The DirectRunner's worker count: the compiler sets it per Beam task from its CPU limit.
BEAM_WORKERS_FLAG = "--direct_num_workers"
# What one Kubeflow task may ask for: more than the largest machines of the clouds have.
CORES = Bounds(0, 1024, above_low=True)
MEMORY_GB = Bounds(0, 16_384, above_low=True)
DAY_SECONDS = 24 * 3600


@dataclass(frozen=True, config=SETTINGS)
class TaskResources:
    """What one Kubeflow task's pod requests and may use at most: CPU in cores, memory in GB
    (10^9 bytes: KFP's driver reads the spec's numbers as "<n>G", driver.go getPodResource)."""

    cpu_request: Annotated[Float, CORES]
    cpu_limit: Annotated[Float, CORES]
    memory_request_gb: Annotated[Float, MEMORY_GB]
    memory_limit_gb: Annotated[Float, MEMORY_GB]

    @model_validator(mode="after")
    def _requests_within_limits(self) -> TaskResources:
        found = [
            (f"{kind}_request{unit}", f"must not exceed {kind}_limit{unit}, got {request} > {limit}")
            for kind, unit, request, limit in (
                ("cpu", "", self.cpu_request, self.cpu_limit),
                ("memory", "_gb", self.memory_request_gb, self.memory_limit_gb),
            )
            if request > limit
        ]
        if found:
            raise problems(type(self).__name__, found)
        return self


def _resource_name(name: str) -> str:
    if not name.strip():
        raise ValueError("must name a resource, e.g. nvidia.com/gpu")
    return name


@dataclass(frozen=True, config=SETTINGS)
class Accelerator:
    """Accelerators for one task: on KFP a Kubernetes resource name, e.g. nvidia.com/gpu."""

    type: Annotated[Text, AfterValidator(_resource_name)]
    count: Annotated[Int, Bounds(1, 64)]


@dataclass(frozen=True, config=SETTINGS)
class RetryPolicy:
    """How often a failed task runs again, and when."""

    max_retries: Annotated[Int, Bounds(0, 100)]  # 0: a failed task fails the run
    # The wait before the first retry; times backoff_factor before each next one.
    backoff_seconds: Annotated[Int, Bounds(0, DAY_SECONDS)]
    backoff_factor: Annotated[Float, Bounds(1, 100)]
    # No retry starts later than this after the task's first attempt started.
    window_seconds: Annotated[Int, Bounds(1, 30 * DAY_SECONDS)]

    @model_validator(mode="after")
    def _window_after_backoff(self) -> RetryPolicy:
        if self.window_seconds <= self.backoff_seconds:
            raise problems(
                type(self).__name__, [("window_seconds", f"must be > backoff_seconds, got {self.window_seconds}")]
            )
        return self


def _assignment(item: str) -> tuple[str, str] | None:
    """NAME=VALUE as (NAME, VALUE); None when NAME is not a variable name."""
    name, separator, value = item.partition("=")
    return (name, value) if separator and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else None


def _env(items: tuple[str, ...]) -> tuple[str, ...]:
    for item in items:
        if _assignment(item) is None:
            raise ValueError(f"expected NAME=VALUE with a variable name, got {item!r}")
    return items


def _secret_env(items: tuple[str, ...]) -> tuple[str, ...]:
    for item in items:
        if not re.fullmatch(r"[^/]+/[^/]+", (_assignment(item) or ("", ""))[1]):
            raise ValueError(f"expected NAME=SECRET/KEY, got {item!r}")
    return items


def _no_worker_count(args: tuple[str, ...]) -> tuple[str, ...]:
    for arg in args:
        if arg.startswith(BEAM_WORKERS_FLAG):
            raise ValueError(f"must not set {arg}: each Beam task runs one worker per core of its cpu_limit")
    return args


@dataclass(frozen=True, config=SETTINGS)
class KubeflowSettings:
    """Where and how the pipeline runs on Kubeflow; `compile` and `submit` flags override these."""

    image: Text
    pipeline_root: Text
    data_dir: Text
    serving_dir: Text
    beam_pipeline_args: Annotated[tuple[Text, ...], AfterValidator(_no_worker_count)]
    task_env: Annotated[tuple[Text, ...], AfterValidator(_env)]  # NAME=VALUE
    task_secret_env: Annotated[tuple[Text, ...], AfterValidator(_secret_env)]  # NAME=SECRET/KEY
    resources: Mapping[str, TaskResources]  # by task (node id)
    trainer_accelerator: Accelerator | None
    retry: RetryPolicy
    # The settings a run may set (the spec's run-time parameters), by dotted key: the data dir or a
    # setting that is a component's parameter (checked by pipeline/kubeflow/compiler.py).
    run_parameters: tuple[Text, ...]

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


@dataclass(frozen=True, config=SETTINGS)
class KubeflowConfig(PipelineConfig):
    """The config as `compile` and `submit` read it: the `kubeflow` section checked too."""

    kubeflow: KubeflowSettings


def load_kubeflow_config(config_file: Path | None = None, overrides: Iterable[str] = ()) -> KubeflowConfig:
    """load_config's config, its `kubeflow` section checked as well."""
    return from_dict(KubeflowConfig, merged_settings(config_file, overrides))
