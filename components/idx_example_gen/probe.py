"""DataProbe: the SHA-256 of the IDX files' bytes, handed to the ingest as its `data_fingerprint`.

The ingest's cache key then follows the files' content (components/probe.py says how, locally
and on Kubeflow): a file replaced under the same data dir re-runs the ingest, even with the
same size and modification time, which a fingerprint of names, sizes and times would miss.
"""

from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components import files, probe
from components.idx_example_gen.layout import locate_idx_file
from components.idx_example_gen.settings import IngestSettings

INPUT_BASE_KEY = "input_base"
FILE_NAMES_KEY = "file_names"  # JSON: {role: file name}, as IngestSettings.file_names()


def fingerprint(exec_properties: dict[str, Any]) -> str:
    """JSON {file name: SHA-256 of its bytes} of the four files, as the ingest will find them."""
    input_base = exec_properties[INPUT_BASE_KEY]
    paths = [
        locate_idx_file(input_base, name, tf.io.gfile.exists)
        for name in json.loads(exec_properties[FILE_NAMES_KEY]).values()
    ]
    return json.dumps({os.path.basename(path): files.sha256(path) for path in paths}, sort_keys=True)


class Executor(probe.Executor):
    look = staticmethod(fingerprint)

    @staticmethod
    def describe(seen: str) -> str:
        """The hashes, labelled: the report and `lineage trace` give the decompressed content's."""
        hashes = ", ".join(f"{name} {sha256}" for name, sha256 in json.loads(seen).items())
        return f"SHA-256 of each file's bytes as stored (of a .gz, the compressed bytes): {hashes}"


class Driver(probe.Driver):
    look = staticmethod(fingerprint)


class DataProbeSpec(ComponentSpec):
    PARAMETERS = {
        INPUT_BASE_KEY: ExecutionParameter(type=str),
        FILE_NAMES_KEY: ExecutionParameter(type=str),
        **probe.PARAMETERS,
    }
    INPUTS: dict[str, ChannelParameter] = {}
    OUTPUTS = probe.OUTPUTS


class DataProbe(base_component.BaseComponent):
    """Fingerprints the ingest's four IDX files under `input_base`."""

    SPEC_CLASS = DataProbeSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
    DRIVER_CLASS = Driver

    def __init__(self, input_base: str | data_types.RuntimeParameter, settings: IngestSettings, code_sha256: str):
        super().__init__(
            DataProbeSpec(
                input_base=input_base,
                file_names=json.dumps(settings.file_names()),
                code_sha256=code_sha256,
                value=types.Channel(type=probe.OUTPUTS[probe.VALUE_KEY].type),
            )
        )
