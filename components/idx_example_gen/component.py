"""IdxExampleGen: the ingest, reading the four MNIST IDX files into `Examples`.

Not a FileBasedExampleGen: TFX's ExampleGen driver fingerprints the files by name, size and
modification time, and only Vertex AI runs it on Kubeflow (open-source KFP ignores a
container's `lifecycle` hooks). The ingest gets the files' content hash from DataProbe
(components/idx_example_gen/probe.py) as its `data_fingerprint` parameter instead, which puts
the data in its cache key locally and on every Kubeflow backend alike.
"""

from __future__ import annotations

import json

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.dsl.placeholder import placeholder as ph
from tfx.orchestration import data_types
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components import code_hash
from components.example_format import ExampleFormat
from components.idx_example_gen import executor
from components.idx_example_gen.settings import IngestSettings
from components.settings import to_dict


class IdxExampleGenSpec(ComponentSpec):
    PARAMETERS = {
        executor.INPUT_BASE_KEY: ExecutionParameter(type=str),
        executor.CUSTOM_CONFIG_KEY: ExecutionParameter(type=str),  # JSON: the settings, see __init__
        executor.DATA_FINGERPRINT_KEY: ExecutionParameter(type=str),
        **code_hash.PARAMETERS,
    }
    INPUTS: dict[str, ChannelParameter] = {}
    OUTPUTS = {standard_component_specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}


class IdxExampleGen(base_beam_component.BaseBeamComponent):
    """Reads MNIST-style IDX files into `Examples` with splits train, validation and test."""

    SPEC_CLASS = IdxExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        input_base: str | data_types.RuntimeParameter,
        settings: IngestSettings,
        example_format: ExampleFormat,
        data_fingerprint: str | ph.Placeholder,
        code_sha256: str,
    ):
        """Args:
        input_base: the folder (local path or gs://, s3:// URI) holding the IDX files.
        settings, example_format: carried to the executor in the custom_config.
        data_fingerprint: what DataProbe saw of the files (its output's value).
        code_sha256: the hash of the executor's code, so that changed code misses the cache.
        """
        custom_config = {executor.INGEST_KEY: to_dict(settings), executor.FORMAT_KEY: to_dict(example_format)}
        super().__init__(
            IdxExampleGenSpec(
                input_base=input_base,
                custom_config=json.dumps(custom_config, sort_keys=True),
                data_fingerprint=data_fingerprint,
                code_sha256=code_sha256,
                examples=types.Channel(type=standard_artifacts.Examples),
            )
        )
