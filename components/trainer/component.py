"""Trainer: TFX's Trainer with our executor, taking the settings a run may change as parameters.

TFX's Trainer carries run_fn's settings in one JSON string, its custom_config, which a
Kubeflow run could only replace whole. The learning rate and the number of steps
(settings.RUN_SETTINGS) are execution properties of their own here, so that each run may set
them (a TFX RuntimeParameter, pipeline/kubeflow/compiler.py), while both stand by value in the
cache key and in MLMD as every other parameter does. The executor puts them back into the
custom_config run_fn reads, and the step count into train_args.
"""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils

from components.trainer import executor


class TrainerSpec(standard_component_specs.TrainerSpec):
    PARAMETERS = {
        **standard_component_specs.TrainerSpec.PARAMETERS,
        executor.LEARNING_RATE_KEY: ExecutionParameter(type=float),
        executor.TRAIN_STEPS_KEY: ExecutionParameter(type=int),
    }


class Trainer(base_component.BaseComponent):
    """Trains with `run_fn` (a module path) on `examples`; see the module doc."""

    SPEC_CLASS = TrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        schema: types.BaseChannel,
        run_fn: str,
        train_args: trainer_pb2.TrainArgs,
        eval_args: trainer_pb2.EvalArgs,
        custom_config: dict[str, Any],
        learning_rate: float | data_types.RuntimeParameter,
        train_steps: int | data_types.RuntimeParameter,
    ):
        """`custom_config`: settings.custom_config, without the RUN_SETTINGS; `train_args` without
        num_steps, which is `train_steps`."""
        super().__init__(
            spec=TrainerSpec(
                examples=examples,
                schema=schema,
                run_fn=run_fn,
                train_args=train_args,
                eval_args=eval_args,
                custom_config=json_utils.dumps(custom_config),
                learning_rate=learning_rate,
                train_steps=train_steps,
                model=types.Channel(type=standard_artifacts.Model),
                model_run=types.Channel(type=standard_artifacts.ModelRun),
            )
        )
