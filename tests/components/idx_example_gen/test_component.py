"""components/idx_example_gen/component.py: the settings in the custom_config, the data's fingerprint a parameter."""

from __future__ import annotations

import json

from tfx.types import standard_artifacts

from components.code_hash import CODE_KEY
from components.example_format import ExampleFormat
from components.idx_example_gen import executor
from components.idx_example_gen.component import IdxExampleGen
from components.idx_example_gen.settings import IngestSettings

SETTINGS = IngestSettings(
    train_images="a",
    train_labels="b",
    test_images="c",
    test_labels="d",
    validation_size=1,
    train_size=None,
    test_size=None,
    records_per_shard=10,
    gzip_level=1,
)


def component() -> IdxExampleGen:
    return IdxExampleGen(
        input_base="s3://bucket/data",
        settings=SETTINGS,
        example_format=ExampleFormat((2, 2), 3),
        data_fingerprint='{"a": "1"}',
        code_sha256="abc",
    )


def test_the_custom_config_carries_the_settings_as_json_for_the_executor():
    properties = component().exec_properties
    assert executor.read_custom_config(properties[executor.CUSTOM_CONFIG_KEY]) == (SETTINGS, ExampleFormat((2, 2), 3))
    assert json.loads(properties[executor.CUSTOM_CONFIG_KEY])["ingest"]["validation_size"] == 1


def test_the_data_and_the_code_are_parameters_so_in_the_cache_key():
    properties = component().exec_properties
    assert (
        properties[executor.INPUT_BASE_KEY],
        properties[executor.DATA_FINGERPRINT_KEY],
        properties[CODE_KEY],
    ) == ("s3://bucket/data", '{"a": "1"}', "abc")


def test_it_runs_the_idx_executor_and_outputs_examples():
    assert component().executor_spec.executor_class is executor.Executor
    assert component().outputs["examples"].type is standard_artifacts.Examples
    assert component().inputs == {}
