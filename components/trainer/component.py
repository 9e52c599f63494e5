"""Trainer: TFX's Trainer with our executor, taking every training setting as a parameter of its own.

TFX's Trainer carries run_fn's settings in one JSON string, its custom_config, which a Kubeflow
run could only replace whole, and which ML Metadata records as one string. Here each
TrainerSettings field is a parameter named as its key in the config (components/parameters.py):
each stands by value in the cache key and in MLMD, and any of them may be a TFX
RuntimeParameter that a Kubeflow run sets (pipeline/kubeflow/compiler.py). The custom_config
holds the format of the Examples only; the executor builds the settings from the parameters,
sets run_fn's FnArgs.train_steps from train_steps (train_args names the split only; its
num_steps stays unset) and hands run_fn the settings and the format in memory.
"""

from __future__ import annotations

from collections.abc import Mapping

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import json_utils

from components import code_hash, parameters
from components.example_format import ExampleFormat
from components.trainer import executor
from components.trainer.settings import TrainerSettings, custom_config


class TrainerSpec(standard_component_specs.TrainerSpec):
    PARAMETERS = {
        **standard_component_specs.TrainerSpec.PARAMETERS,
        **parameters.spec(TrainerSettings),
        **code_hash.PARAMETERS,
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
        example_format: ExampleFormat,
        training: Mapping[str, parameters.ParameterValue | data_types.RuntimeParameter],
        code_sha256: str,
    ):
        """`training`: the TrainerSettings as parameters.values gives them, each value or a
        RuntimeParameter; `train_args` without num_steps, which is `train_steps`."""
        super().__init__(
            spec=TrainerSpec(
                examples=examples,
                schema=schema,
                run_fn=run_fn,
                train_args=train_args,
                eval_args=eval_args,
                custom_config=json_utils.dumps(custom_config(example_format)),
                **training,
                code_sha256=code_sha256,
                model=types.Channel(type=standard_artifacts.Model),
                model_run=types.Channel(type=standard_artifacts.ModelRun),
            )
        )
