"""TFX's Trainer executor, on verified Examples, with the settings from the Trainer's parameters.

run_fn gets file patterns, not the Examples artifact; this executor has the artifact, so it
checks the splits run_fn will read against the checksums the ingest recorded
(components/examples_integrity.py) before TFX's executor calls run_fn. Every training setting
arrives as a parameter of its own (components/trainer/component.py): the executor builds the
TrainerSettings from them, checked as the config checks them, sets FnArgs.train_steps from
train_steps (train_args' num_steps stays unset) and hands run_fn the settings and the
Examples' format in memory (run_fn_config); nothing goes back into the parameters ML Metadata
records. Once run_fn saved the model, the SHA-256 of every file of it is recorded on the Model
artifact (components/model_integrity.py), which whoever uses the model checks.
"""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.components.trainer import fn_args_utils
from tfx.proto import trainer_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components import examples_integrity, files, model_integrity, parameters
from components.trainer.settings import TrainerSettings, read_example_format, run_fn_config


class Executor(trainer_executor.GenericExecutor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        train_args, eval_args = trainer_pb2.TrainArgs(), trainer_pb2.EvalArgs()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.TRAIN_ARGS_KEY], train_args)
        proto_utils.json_to_proto(exec_properties[standard_component_specs.EVAL_ARGS_KEY], eval_args)
        examples = artifact_utils.get_single_instance(input_dict[standard_component_specs.EXAMPLES_KEY])
        examples_integrity.verify(examples, [*train_args.splits, *eval_args.splits])
        clear_outputs(
            output_dict[standard_component_specs.MODEL_KEY] + output_dict[standard_component_specs.MODEL_RUN_KEY]
        )
        super().Do(input_dict, output_dict, exec_properties)
        model_integrity.record(artifact_utils.get_single_instance(output_dict[standard_component_specs.MODEL_KEY]))

    def _GetFnArgs(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> fn_args_utils.FnArgs:
        """TFX's arguments of run_fn, with what the parameters say (run_fn_args)."""
        return run_fn_args(super()._GetFnArgs(input_dict, output_dict, exec_properties), exec_properties)


def run_fn_args(fn_args: fn_args_utils.FnArgs, exec_properties: dict[str, Any]) -> fn_args_utils.FnArgs:
    """`fn_args` with the TrainerSettings built from the parameters and the Examples' format as
    their custom_config, and the step count. A bad value (a Kubeflow run's parameters are not
    checked when the run is created) is one SettingsError naming it."""
    settings = parameters.settings(TrainerSettings, exec_properties, "training.")
    fn_args.custom_config = run_fn_config(settings, read_example_format(fn_args.custom_config))
    fn_args.train_steps = settings.train_steps
    return fn_args


def clear_outputs(artifacts: list[types.Artifact]) -> None:
    """Empties the artifacts' folders: a task that Kubeflow retries runs again into the outputs
    of its failed attempt (the same URIs), where TensorBoard would show both attempts' curves."""
    for artifact in artifacts:
        if files.exists(artifact.uri) and files.listdir(artifact.uri):
            files.rmtree(artifact.uri)
            files.makedirs(artifact.uri)
