"""TFX's Evaluator executor, on verified Examples, and with no baseline when nothing is served.

TFX's executor already blesses on the thresholds alone when it has no baseline model (the
change threshold is then skipped); ServedModel always outputs an artifact, so this drops the
one that says "none served" before TFX's executor sees its inputs. The splits it evaluates are
first checked against the checksums the ingest recorded (components/examples_integrity.py).
The blessing records which served model the candidate was compared with: the Pusher publishes
only while that model is still served (components/pusher/executor.py). The evaluation records
its figures in MLMD (components/evaluator/figures.py). The blessing's floor, a parameter of its
own that each run may set, joins the eval_config's thresholds first.
"""

from __future__ import annotations

from typing import Any

import tensorflow_model_analysis as tfma
from tfx import types
from tfx.components.evaluator import executor as evaluator_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import json_utils, proto_utils

from components import examples_integrity, serving_dir
from components.evaluator import figures
from components.evaluator.eval_config import with_min_precision_at_1
from components.evaluator.settings import MIN_PRECISION_KEY
from components.served_model.properties import FINGERPRINT_KEY, is_served

BASELINE_SERVED_KEY = "compared_with_served"  # on the blessing: serving_dir.fingerprint of the baseline


class Executor(evaluator_executor.Executor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        exec_properties = with_blessing_floor(exec_properties)
        examples = artifact_utils.get_single_instance(input_dict[standard_component_specs.EXAMPLES_KEY])
        examples_integrity.verify(
            examples, json_utils.loads(exec_properties[standard_component_specs.EXAMPLE_SPLITS_KEY])
        )
        baselines = input_dict.get(standard_component_specs.BASELINE_MODEL_KEY) or []
        if baselines and not is_served(baselines[0]):
            input_dict = {
                key: value for key, value in input_dict.items() if key != standard_component_specs.BASELINE_MODEL_KEY
            }
        super().Do(input_dict, output_dict, exec_properties)
        evaluation = artifact_utils.get_single_instance(output_dict[standard_component_specs.EVALUATION_KEY])
        figures.record(evaluation)
        if baselines:
            blessing = artifact_utils.get_single_instance(output_dict[standard_component_specs.BLESSING_KEY])
            compared_with = baselines[0].get_string_custom_property(FINGERPRINT_KEY) or serving_dir.NOTHING_SERVED
            blessing.set_string_custom_property(BASELINE_SERVED_KEY, compared_with)


def with_blessing_floor(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """The execution properties as TFX's executor reads them: the validation Evaluator's
    min_precision_at_1, a parameter of its own (components/evaluator/component.py), added to the
    thresholds of its eval_config."""
    floor = exec_properties.get(MIN_PRECISION_KEY)
    if floor is None:
        return exec_properties
    config = tfma.EvalConfig()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.EVAL_CONFIG_KEY], config)
    return {
        **exec_properties,
        standard_component_specs.EVAL_CONFIG_KEY: proto_utils.proto_to_json(with_min_precision_at_1(config, floor)),
    }
