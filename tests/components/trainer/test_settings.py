"""components/trainer/settings.py: the `training` section and the Trainer's custom_config."""

from __future__ import annotations

import dataclasses
import json

import pytest

from components.example_format import ExampleFormat
from components.settings import SettingsError, from_dict, to_dict
from components.trainer.settings import (
    OPTIMIZERS,
    TrainerSettings,
    custom_config,
    read_example_format,
)

from support.trainer_settings import TRAINING

EXAMPLE_FORMAT = ExampleFormat((28, 28), 10)


@pytest.mark.parametrize(
    "train_steps, log_every, checkpoint_every, validation_every, expected",
    [
        (2000, 100, 1000, 100, 100),
        (60, 20, 30, 20, 10),
        (7, 7, 7, 7, 7),
        (10, 3, 10, 10, 1),
        (1000, 1000, 250, 1000, 250),
        (2500, 100, 1000, 250, 50),
    ],
)
def test_steps_per_execution_stops_at_every_log_checkpoint_and_validation_step(
    train_steps, log_every, checkpoint_every, validation_every, expected
):
    settings = dataclasses.replace(
        TRAINING,
        train_steps=train_steps,
        log_every_steps=log_every,
        checkpoint_every_steps=checkpoint_every,
        validation_every_steps=validation_every,
    )
    steps = settings.steps_per_execution
    assert steps == expected
    assert train_steps % steps == log_every % steps == checkpoint_every % steps == validation_every % steps == 0


def with_changes(**changes) -> TrainerSettings:
    return from_dict(TrainerSettings, {**to_dict(TRAINING), **changes}, "training.")


def test_the_defaults_have_no_problem():
    assert with_changes() == TRAINING


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"batch_size": 0}, "'training.batch_size' must be in 1..65536, got 0"),
        ({"batch_size": 10**6}, "'training.batch_size' must be in 1..65536, got 1000000"),
        ({"train_steps": -1}, "'training.train_steps' must be in 1..100000000, got -1"),
        # Beyond int64: TFX refused it only once the output dir was made.
        ({"train_steps": 2**64}, f"'training.train_steps' must be in 1..100000000, got {2**64}"),
        ({"log_every_steps": 0}, "'training.log_every_steps' must be in 1..100000000, got 0"),
        ({"checkpoint_every_steps": 0}, "'training.checkpoint_every_steps' must be in 1..100000000, got 0"),
        ({"validation_every_steps": 0}, "'training.validation_every_steps' must be in 1..100000000, got 0"),
        ({"learning_rate": 0.0}, "'training.learning_rate' must be > 0 and <= 10, got 0.0"),
        ({"learning_rate": 1e6}, "'training.learning_rate' must be > 0 and <= 10, got 1000000.0"),
        ({"seed": -1}, "'training.seed' must be in 0..4294967295, got -1"),
        ({"seed": 2**32}, "'training.seed' must be in 0..4294967295, got 4294967296"),
        ({"hidden_units": []}, "'training.hidden_units' must have 1..16 items, got 0"),
        ({"hidden_units": [8] * 17}, "'training.hidden_units' must have 1..16 items, got 17"),
        ({"hidden_units": [8, 0]}, "'training.hidden_units' must be in 1..65536 each, got [8, 0]"),
        ({"hidden_units": [-8]}, "'training.hidden_units' must be in 1..65536 each, got [-8]"),
        ({"hidden_units": [10**9]}, "'training.hidden_units' must be in 1..65536 each, got [1000000000]"),
        ({"optimizer": "adagrad"}, "'training.optimizer' must be one of adam, sgd, rmsprop, got 'adagrad'"),
    ],
)
def test_problems_name_the_setting(changes, problem):
    with pytest.raises(SettingsError) as error:
        with_changes(**changes)
    assert str(error.value) == problem


def test_every_optimizer_names_a_keras_class():
    import tensorflow as tf

    assert all(hasattr(tf.keras.optimizers, name) for name in OPTIMIZERS.values())


def test_the_custom_config_carries_the_examples_format_and_no_setting():
    """Every training setting is a parameter of the Trainer's own (components/trainer/component.py)."""
    values = json.loads(json.dumps(custom_config(EXAMPLE_FORMAT)))
    assert read_example_format(values) == EXAMPLE_FORMAT
    assert not values.get("training")


def test_a_bad_format_is_named_with_its_section():
    values = json.loads(json.dumps(custom_config(EXAMPLE_FORMAT)))
    values["data"]["num_classes"] = "many"
    with pytest.raises(SettingsError, match=r"'data\.num_classes' must be of type int"):
        read_example_format(values)
