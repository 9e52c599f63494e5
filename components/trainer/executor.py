"""TFX's Trainer executor, on verified Examples.

run_fn gets file patterns, not the Examples artifact; this executor has the artifact, so it
checks the splits run_fn will read against the checksums the ingest recorded
(components/examples_integrity.py) before TFX's executor calls run_fn.
"""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.proto import trainer_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components import examples_integrity


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
        super().Do(input_dict, output_dict, exec_properties)
