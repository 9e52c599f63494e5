"""components/trainer/executor.py: the run's own settings put back where TFX's executor and
run_fn read them, checked; a retried attempt's outputs emptied first. (Its check of the
Examples' checksums: tests/e2e/test_faults.py.)"""

from __future__ import annotations

import json

import pytest
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components.settings import SettingsError
from components.trainer import executor
from components.trainer.settings import custom_config, read_custom_config

from .conftest import EXAMPLE_FORMAT, SMALL
from fake_artifacts import artifact, write_files


def properties(**run_settings) -> dict:
    """The Trainer's execution properties as its task gets them."""
    return {
        "custom_config": json.dumps(custom_config(SMALL, EXAMPLE_FORMAT, "abc")),
        "train_args": proto_utils.proto_to_json(trainer_pb2.TrainArgs(splits=["train"])),
        "learning_rate": SMALL.learning_rate,
        "train_steps": SMALL.train_steps,
        **run_settings,
    }


def test_the_runs_settings_reach_run_fn_and_the_steps_train_args():
    given = executor.with_run_properties(properties(learning_rate=0.5, train_steps=30))
    settings, _ = read_custom_config(json.loads(given["custom_config"]))
    assert (settings.learning_rate, settings.train_steps, settings.batch_size) == (0.5, 30, SMALL.batch_size)
    train_args = trainer_pb2.TrainArgs()
    proto_utils.json_to_proto(given["train_args"], train_args)
    assert train_args == trainer_pb2.TrainArgs(splits=["train"], num_steps=30)


def test_a_bad_value_a_run_was_given_is_one_error_naming_the_setting():
    """A Kubeflow run's parameters are only type-checked when the run is created."""
    with pytest.raises(SettingsError, match=r"^'training\.learning_rate' must be > 0 and <= 10, got -0\.1$"):
        executor.with_run_properties(properties(learning_rate=-0.1))


def test_the_outputs_a_failed_attempt_left_are_emptied(tmp_path):
    """Kubeflow retries a task into the same output URIs: TensorBoard would hold both attempts."""
    left = artifact(standard_artifacts.ModelRun, tmp_path / "model_run")
    write_files(tmp_path / "model_run", {"train/events.out.tfevents.1.attempt-1": b"curves"})
    fresh = artifact(standard_artifacts.Model, tmp_path / "model")
    (tmp_path / "model").mkdir()
    executor.clear_outputs([left, fresh])
    assert list((tmp_path / "model_run").iterdir()) == [] and list((tmp_path / "model").iterdir()) == []
