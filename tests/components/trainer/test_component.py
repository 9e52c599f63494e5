"""components/trainer/component.py: TFX's Trainer with our executor, every training setting a
parameter of its own, named as its key in the config."""

from __future__ import annotations

import dataclasses
import json

from tfx import types
from tfx.orchestration import data_types
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts

from components import parameters
from components.code_hash import CODE_KEY
from components.trainer import executor
from components.trainer.component import Trainer
from components.trainer.settings import TrainerSettings, read_example_format

from .conftest import EXAMPLE_FORMAT, SMALL


def trainer(**settings) -> Trainer:
    return Trainer(
        examples=types.Channel(type=standard_artifacts.Examples),
        schema=types.Channel(type=standard_artifacts.Schema),
        run_fn="components.trainer.module.run_fn",
        train_args=trainer_pb2.TrainArgs(splits=["train"]),
        eval_args=trainer_pb2.EvalArgs(splits=["validation", "test"]),
        example_format=EXAMPLE_FORMAT,
        training={**parameters.values(SMALL), **settings},
        code_sha256="abc",
    )


def test_every_setting_is_a_parameter_named_as_its_key_and_the_custom_config_holds_none():
    properties = trainer().exec_properties
    names = [field.name for field in dataclasses.fields(TrainerSettings)]
    assert {name: properties[name] for name in names} == parameters.values(SMALL)
    assert (properties["learning_rate"], properties["hidden_units"], properties["cosine_decay"]) == (0.01, "[16, 8]", 0)
    assert properties[CODE_KEY] == "abc"
    custom_config = json.loads(properties["custom_config"])
    assert read_example_format(custom_config) == EXAMPLE_FORMAT
    assert not custom_config.get("training")  # nothing of the settings: they are the parameters


def test_a_run_time_parameter_may_stand_for_any_setting():
    """On Kubeflow: compiled into a root input of the spec that the Trainer's task reads."""
    learning_rate = data_types.RuntimeParameter("learning_rate", ptype=float, default=0.01)
    hidden_units = data_types.RuntimeParameter("hidden_units", ptype=str, default="[16, 8]")
    properties = trainer(learning_rate=learning_rate, hidden_units=hidden_units).exec_properties
    assert properties["learning_rate"] is learning_rate and properties["hidden_units"] is hidden_units


def test_it_runs_our_executor_and_outputs_a_model_and_its_run():
    component = trainer()
    assert component.executor_spec.executor_class is executor.Executor
    assert component.outputs["model"].type is standard_artifacts.Model
    assert component.outputs["model_run"].type is standard_artifacts.ModelRun
