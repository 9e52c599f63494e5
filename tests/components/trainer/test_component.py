"""components/trainer/component.py: TFX's Trainer with our executor, the settings a run may
change as parameters of their own."""

from __future__ import annotations

import json

from tfx import types
from tfx.orchestration import data_types
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts

from components.trainer import executor
from components.trainer.component import Trainer
from components.trainer.settings import custom_config

from .conftest import EXAMPLE_FORMAT, SMALL


def trainer(learning_rate: float | data_types.RuntimeParameter = 0.01) -> Trainer:
    return Trainer(
        examples=types.Channel(type=standard_artifacts.Examples),
        schema=types.Channel(type=standard_artifacts.Schema),
        run_fn="components.trainer.module.run_fn",
        train_args=trainer_pb2.TrainArgs(splits=["train"]),
        eval_args=trainer_pb2.EvalArgs(splits=["validation", "test"]),
        custom_config=custom_config(SMALL, EXAMPLE_FORMAT, "abc"),
        learning_rate=learning_rate,
        train_steps=4,
    )


def test_the_learning_rate_and_the_steps_are_parameters_and_the_rest_is_the_custom_config():
    properties = trainer().exec_properties
    assert (properties["learning_rate"], properties["train_steps"]) == (0.01, 4)
    assert json.loads(properties["custom_config"]) == custom_config(SMALL, EXAMPLE_FORMAT, "abc")


def test_a_run_time_parameter_may_stand_for_a_run_setting():
    """On Kubeflow: compiled into a root input of the spec that the Trainer's task reads."""
    learning_rate = data_types.RuntimeParameter("learning_rate", ptype=float, default=0.01)
    assert trainer(learning_rate).exec_properties["learning_rate"] is learning_rate


def test_it_runs_our_executor_and_outputs_a_model_and_its_run():
    component = trainer()
    assert component.executor_spec.executor_class is executor.Executor
    assert component.outputs["model"].type is standard_artifacts.Model
    assert component.outputs["model_run"].type is standard_artifacts.ModelRun
