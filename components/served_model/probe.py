"""ServingProbe: which version the serving dir serves now, handed to ServedModel as `served`.

ServedModel's cache key then follows the serving dir (components/probe.py says how, locally and
on Kubeflow): it is cached, and so are the comparison and the push after it, while the same
model is served, and re-runs once another was pushed, or the served one was removed.
"""

from __future__ import annotations

import logging
from typing import Any

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components import probe, serving_dir

SERVING_DIR_KEY = "serving_dir"

log = logging.getLogger(__name__)


def served_now(exec_properties: dict[str, Any]) -> str:
    """`<version>:<model URI>` of the newest complete version, or serving_dir.NOTHING_SERVED.
    Names the entries it skipped: the probe looks once per run (its driver locally, its task on
    Kubeflow), so that is once per run, however many components read the dir after it."""
    directory = exec_properties[SERVING_DIR_KEY]
    found = serving_dir.scan(directory)
    if line := found.skipped_line(directory):
        log.warning("Warning: %s", line)
    return serving_dir.fingerprint(found.versions[-1] if found.versions else None)


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
