"""components/trainer/executor.py: run_fn gets the settings built from the Trainer's parameters,
checked, and the step count; a retried attempt's outputs emptied first. (Its check of the
Examples' checksums: tests/e2e/test_faults.py.)"""

from __future__ import annotations

import dataclasses
import json

import pytest
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.types import standard_artifacts

from components import parameters
from components.settings import SettingsError
from components.trainer import executor
from components.trainer.settings import DATA_KEY, TRAINING_KEY, custom_config

from .conftest import EXAMPLE_FORMAT, SMALL
from support.fake_artifacts import artifact, write_files


def properties(**settings) -> dict:
    """The Trainer's execution properties as its task gets them, with `settings` as a Kubeflow run may give them."""
    return {
        "custom_config": json.dumps(custom_config(EXAMPLE_FORMAT)),
        **parameters.values(SMALL),
        "code_sha256": "abc",
        **settings,
    }


def run_fn_args(exec_properties: dict) -> FnArgs:
    """What run_fn gets, from TFX's FnArgs as TFX's executor builds them (custom_config parsed)."""
    fn_args = FnArgs(custom_config=json.loads(exec_properties["custom_config"]))
    return executor.run_fn_args(fn_args, exec_properties)


def test_run_fn_gets_the_settings_from_the_parameters_and_the_steps():
    fn_args = run_fn_args(properties(learning_rate=0.5, train_steps=30))
    assert fn_args.custom_config[TRAINING_KEY] == dataclasses.replace(SMALL, learning_rate=0.5, train_steps=30)
    assert fn_args.custom_config[DATA_KEY] == EXAMPLE_FORMAT
    assert fn_args.train_steps == 30


def test_values_as_kubeflow_passes_them_read_as_the_settings():
    """KFP hands a bool parameter on as a number and a list as JSON text (TFX compiles them so)."""
    fn_args = run_fn_args(properties(hidden_units="[64, 32]", cosine_decay=1.0, train_steps=30.0))
    settings = fn_args.custom_config[TRAINING_KEY]
    assert (settings.hidden_units, settings.cosine_decay, settings.train_steps) == ((64, 32), True, 30)


def test_a_bad_value_a_run_was_given_is_one_error_naming_the_setting():
    """A Kubeflow run's parameters are only type-checked when the run is created."""
    with pytest.raises(SettingsError, match=r"^'training\.learning_rate' must be > 0 and <= 10, got -0\.1$"):
        run_fn_args(properties(learning_rate=-0.1))
    with pytest.raises(SettingsError, match=r"^'training\.hidden_units' must be a list, got '\[64'$"):
        run_fn_args(properties(hidden_units="[64"))


def test_the_outputs_a_failed_attempt_left_are_emptied(tmp_path):
    """Kubeflow retries a task into the same output URIs: TensorBoard would hold both attempts."""
    left = artifact(standard_artifacts.ModelRun, tmp_path / "model_run")
    write_files(tmp_path / "model_run", {"train/events.out.tfevents.1.attempt-1": b"curves"})
    fresh = artifact(standard_artifacts.Model, tmp_path / "model")
    (tmp_path / "model").mkdir()
    executor.clear_outputs([left, fresh])
    assert list((tmp_path / "model_run").iterdir()) == [] and list((tmp_path / "model").iterdir()) == []
