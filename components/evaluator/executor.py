"""TFX's Evaluator executor, on a verified model and Examples, with no baseline when nothing is
served, and blessing against the best model served.

TFX's executor already blesses on the thresholds alone when it has no baseline model (the
change threshold is then skipped); ServedModel always outputs an artifact, so this drops the
one that says "none served" before TFX's executor sees its inputs. The splits it evaluates are
first checked against the checksums the ingest recorded (components/examples_integrity.py), and
the model's files against those the Trainer recorded (components/model_integrity.py).

TFX's executor gets the eval_config this one builds from the Evaluator's parameters (the
blessing rule's settings, components/evaluator/component.py), with the ratchet in it: TFMA
compares the candidate with the served model only, so each push could be the tolerance below the
one before and a chain of pushes would drift down. The served version's marker carries the best
validation Precision@1 served in a row on the same validation data (serving_dir.Validation);
the candidate must reach that best minus the tolerance, as a floor. The blessing records which
served model the candidate was compared with, the candidate's Validation and the tolerance: the
Pusher publishes while that model is still served, or compares again with the one served by
then (components/pusher/executor.py).
The evaluation records its figures in MLMD (components/evaluator/figures.py).
"""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.components.evaluator import executor as evaluator_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import json_utils, proto_utils

from components import examples_integrity, model_integrity, serving_dir
from components.evaluator import figures
from components.evaluator.eval_config import eval_config
from components.evaluator.settings import (
    BASELINE_SERVED_KEY,
    MAX_REGRESSION_KEY,
    MIN_PRECISION_KEY,
    PRECISION_PROPERTY,
    TOLERANCE_KEY,
    VALIDATION_KEY,
)
from components.served_model.properties import FINGERPRINT_KEY, SERVED_VALIDATION_KEY, is_served


class Executor(evaluator_executor.Executor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        examples = artifact_utils.get_single_instance(input_dict[standard_component_specs.EXAMPLES_KEY])
        splits = json_utils.loads(exec_properties[standard_component_specs.EXAMPLE_SPLITS_KEY])
        examples_integrity.verify(examples, splits)
        model_integrity.verify(artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_KEY]))
        baselines = input_dict.get(standard_component_specs.BASELINE_MODEL_KEY) or []
        served = baselines[0] if baselines and is_served(baselines[0]) else None
        if baselines and served is None:
            input_dict = {
                key: value for key, value in input_dict.items() if key != standard_component_specs.BASELINE_MODEL_KEY
            }
        data_sha256 = examples_integrity.split_digest(examples, splits[0])
        validation = served_validation(served)
        best_served = validation.best_on(data_sha256) if validation is not None else None
        tolerance = exec_properties.get(MAX_REGRESSION_KEY) if baselines else None
        ratchet = best_served - tolerance if best_served is not None and tolerance is not None else None
        configured_floor = exec_properties.get(MIN_PRECISION_KEY)
        raised = ratchet is not None and configured_floor is not None and ratchet > configured_floor
        config = eval_config(ratchet if raised else configured_floor, tolerance)
        exec_properties = {
            **exec_properties,
            standard_component_specs.EVAL_CONFIG_KEY: proto_utils.proto_to_json(config),
        }
        super().Do(input_dict, output_dict, exec_properties)
        evaluation = artifact_utils.get_single_instance(output_dict[standard_component_specs.EVALUATION_KEY])
        figures.record(
            evaluation,
            f"the best served on this validation data, {best_served:.4f}, less the tolerance {tolerance:g}"
            if raised
            else None,
        )
        if baselines:
            blessing = artifact_utils.get_single_instance(output_dict[standard_component_specs.BLESSING_KEY])
            compared_with = (served or baselines[0]).get_string_custom_property(FINGERPRINT_KEY)
            blessing.set_string_custom_property(BASELINE_SERVED_KEY, compared_with or serving_dir.NOTHING_SERVED)
            precision = evaluation.get_float_custom_property(PRECISION_PROPERTY)
            blessing.set_json_value_custom_property(
                VALIDATION_KEY, serving_dir.Validation.measured(data_sha256, precision, best_served).__dict__
            )
            if tolerance is not None:
                blessing.set_float_custom_property(TOLERANCE_KEY, tolerance)


def served_validation(served: types.Artifact | None) -> serving_dir.Validation | None:
    """What the served version's marker says of its validation (ServedModel copies it on the
    baseline); None when nothing is served."""
    if served is None:
        return None
    return serving_dir.Validation.from_property(served.get_json_value_custom_property(SERVED_VALIDATION_KEY))
