"""The Evaluators' figures, read from TFMA's output and recorded on their ModelEvaluation artifact.

TFMA writes its metrics as protos in TFRecord files that only TFMA (and so TensorFlow) reads.
The Evaluator's executor copies the figures a user asks for into MLMD (components/evaluator/
settings.py names them), so `lineage`, the run summary and the report answer from the store
alone, without TensorFlow, and Kubeflow's UI shows them as the artifact's properties.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types
from tfx import types

from components.evaluator.settings import (
    CONFUSION_MATRIX_PROPERTY,
    CONFUSION_METRIC_NAME,
    EXAMPLES_PROPERTY,
    METRIC_NAME,
    PER_DIGIT_PROPERTY,
    PRECISION_PROPERTY,
    VALIDATION_FAILURES_PROPERTY,
)

BASELINE_MODEL_NAME = "baseline"  # TFMA's name for the Evaluator's baseline_model


def record(evaluation: types.Artifact, floor_source: str | None = None) -> None:
    """Sets the figures of TFMA's output at evaluation.uri as the artifact's custom properties
    (the confusion matrix only where the eval config asked for it); `floor_source` says where
    the Precision@1 floor came from when it is not the configured one."""
    figures = evaluation_metrics(evaluation.uri)
    evaluation.set_float_custom_property(PRECISION_PROPERTY, figures["precision_at_1"])
    evaluation.set_int_custom_property(EXAMPLES_PROPERTY, figures["examples"])
    evaluation.set_json_value_custom_property(PER_DIGIT_PROPERTY, figures["precision_at_1_per_digit"])
    evaluation.set_json_value_custom_property(
        VALIDATION_FAILURES_PROPERTY, validation_failures(evaluation.uri, floor_source)
    )
    if matrix := confusion_matrix(evaluation.uri):
        evaluation.set_json_value_custom_property(CONFUSION_MATRIX_PROPERTY, matrix)


def evaluation_metrics(evaluation_uri: str) -> dict[str, Any]:
    """Precision@1 and example count of the candidate model, overall and per digit."""
    overall, per_digit = {}, {}
    for metrics in tfma.load_metrics(evaluation_uri):
        values = {key.name: value.double_value.value for key, value in _candidate_metrics(metrics)}
        slice_keys = metrics.slice_key.single_slice_keys
        if not slice_keys:
            overall = values
        else:
            per_digit[str(slice_keys[0].int64_value)] = round(values.get(METRIC_NAME, 0.0), 4)
    return {
        "precision_at_1": round(overall.get(METRIC_NAME, 0.0), 4),
        "examples": int(overall.get("example_count", 0)),
        "precision_at_1_per_digit": dict(sorted(per_digit.items(), key=lambda item: int(item[0]))),
    }


def confusion_matrix(evaluation_uri: str) -> list[list[int]]:
    """counts[true digit][top predicted digit] over the whole split; [] when the Evaluator made none."""
    for metrics in tfma.load_metrics(evaluation_uri):
        if metrics.slice_key.single_slice_keys:  # a digit's slice
            continue
        for key_and_value in metrics.metric_keys_and_values:
            array = key_and_value.value.array_value
            if key_and_value.key.name == CONFUSION_METRIC_NAME and array.shape:
                return np.asarray(array.int64_values, dtype=int).reshape(tuple(array.shape)).tolist()
    return []


def validation_failures(evaluation_uri: str, floor_source: str | None = None) -> list[str]:
    """Why TFMA did not bless a model, one line per failed threshold; a floor below which it
    fell is followed by `floor_source`, where given."""
    result = tfma.load_validation_result(evaluation_uri)
    failures = []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            threshold = failure.metric_threshold
            value = failure.metric_value.double_value.value
            if failure.metric_key.is_diff:
                failures.append(
                    f"{failure.metric_key.name} changed by {value:+.4f} against the served model, "
                    f"allowed {threshold.change_threshold.absolute.value:+.4f}"
                )
            else:
                failures.append(
                    f"{failure.metric_key.name} {value:.4f} below {threshold.value_threshold.lower_bound.value:.4g}"
                    + (f": {floor_source}" if floor_source else "")
                )
    return failures


def _candidate_metrics(metrics_for_slice: Any) -> Any:
    for key_and_value in metrics_for_slice.metric_keys_and_values:
        key = metric_types.MetricKey.from_proto(key_and_value.key)
        # With a baseline, TFMA also reports the baseline's metrics and the differences.
        if not key.is_diff and key.model_name != BASELINE_MODEL_NAME:
            yield key, key_and_value.value
