"""ServingProbe: which version the serving dir serves now, handed to ServedModel as `served`.

ServedModel's cache key then follows the serving dir (components/probe.py says how, locally and
on Kubeflow): it is cached, and so are the comparison and the push after it, while the same
model is served, and re-runs once another was pushed, or the served one was removed.
"""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components import probe, serving_dir

SERVING_DIR_KEY = "serving_dir"


def served_now(exec_properties: dict[str, Any]) -> str:
    """`<version>:<model URI>` of the newest complete version, or serving_dir.NOTHING_SERVED."""
    return serving_dir.fingerprint(serving_dir.latest(exec_properties[SERVING_DIR_KEY]))


class Executor(probe.Executor):
    look = staticmethod(served_now)


class Driver(probe.Driver):
    look = staticmethod(served_now)


class ServingProbeSpec(ComponentSpec):
    PARAMETERS = {SERVING_DIR_KEY: ExecutionParameter(type=str), **probe.PARAMETERS}
    INPUTS: dict[str, ChannelParameter] = {}
    OUTPUTS = probe.OUTPUTS


class ServingProbe(base_component.BaseComponent):
    """Says what `serving_dir` serves now."""

    SPEC_CLASS = ServingProbeSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
    DRIVER_CLASS = Driver

    def __init__(self, serving_dir: str, code_sha256: str):
        super().__init__(
            ServingProbeSpec(
                serving_dir=serving_dir,
                code_sha256=code_sha256,
                value=types.Channel(type=probe.OUTPUTS[probe.VALUE_KEY].type),
            )
        )
