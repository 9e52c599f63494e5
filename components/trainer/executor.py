"""TFX's Trainer executor, on verified Examples, with the run's own settings.

run_fn gets file patterns, not the Examples artifact; this executor has the artifact, so it
checks the splits run_fn will read against the checksums the ingest recorded
(components/examples_integrity.py) before TFX's executor calls run_fn. The settings a run may
change (settings.RUN_SETTINGS) arrive as parameters of their own (components/trainer/component.py):
they go back into the custom_config run_fn reads, checked as the config checks them, and the
step count into train_args. Once run_fn saved the model, the SHA-256 of every file of it is
recorded on the Model artifact (components/model_integrity.py), which whoever uses the model checks.
"""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.proto import trainer_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import json_utils, proto_utils

from components import examples_integrity, files, model_integrity
from components.trainer.settings import RUN_SETTINGS, read_custom_config, with_run_settings

LEARNING_RATE_KEY, TRAIN_STEPS_KEY = RUN_SETTINGS  # the Trainer's parameters that hold them


class Executor(trainer_executor.GenericExecutor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        exec_properties = with_run_properties(exec_properties)
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


def with_run_properties(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """The execution properties as TFX's executor reads them: the RUN_SETTINGS in the
    custom_config, train_steps as train_args' num_steps. A bad value (a Kubeflow run's
    parameters are not checked when the run is created) is one SettingsError naming it."""
    custom_config = with_run_settings(
        json_utils.loads(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY]), exec_properties
    )
    settings, _ = read_custom_config(custom_config)
    train_args = trainer_pb2.TrainArgs()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.TRAIN_ARGS_KEY], train_args)
    train_args.num_steps = settings.train_steps
    return {
        **exec_properties,
        standard_component_specs.CUSTOM_CONFIG_KEY: json_utils.dumps(custom_config),
        standard_component_specs.TRAIN_ARGS_KEY: proto_utils.proto_to_json(train_args),
    }


def clear_outputs(artifacts: list[types.Artifact]) -> None:
    """Empties the artifacts' folders: a task that Kubeflow retries runs again into the outputs
    of its failed attempt (the same URIs), where TensorBoard would show both attempts' curves."""
    for artifact in artifacts:
        if files.exists(artifact.uri) and files.listdir(artifact.uri):
            files.rmtree(artifact.uri)
            files.makedirs(artifact.uri)
