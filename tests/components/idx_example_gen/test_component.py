"""components/idx_example_gen/component.py: one input split per IDX file, settings in the custom_config."""

from __future__ import annotations

import json

from components.example_format import ExampleFormat
from components.idx_example_gen import executor
from components.idx_example_gen.component import IdxExampleGen
from components.idx_example_gen.settings import IDX_ROLES, IngestSettings

SETTINGS = IngestSettings(train_images="a", train_labels="b", test_images="c", test_labels="d", validation_size=1,
                          train_size=None, test_size=None, records_per_shard=10, gzip_level=1)


def component() -> IdxExampleGen:
    return IdxExampleGen(input_base="s3://bucket/data", settings=SETTINGS, example_format=ExampleFormat((2, 2), 3),
                         code_sha256="abc")


def test_each_file_is_an_input_split_whose_pattern_also_matches_gz():
    """TFX's driver fingerprints each input split: new data re-runs the ingest."""
    splits = json.loads(component().exec_properties["input_config"])["splits"]
    assert [(split["name"], split["pattern"]) for split in splits] == [
        (role, f"{SETTINGS.file_names()[role]}*") for role in IDX_ROLES]


def test_the_custom_config_carries_the_settings_and_the_code_hash():
    properties = component().exec_properties  # protos as JSON, as the executor receives them
    assert executor.read_custom_config(properties["custom_config"]) == (SETTINGS, ExampleFormat((2, 2), 3))
    assert json.loads(properties["custom_config"])["custom_config"]["value"]["code_sha256"] == "abc"
    assert properties["input_base"] == "s3://bucket/data"


def test_it_runs_the_idx_executor():
    assert component().executor_spec.executor_class is executor.Executor

