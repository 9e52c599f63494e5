"""The metrics that live in artifacts' files, not in MLMD: the Trainer's Precision@1 per split
and misclassified test examples (JSON files in its ModelRun), and the Evaluators' TFMA metrics,
validation result and confusion matrix."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from components.evaluator.settings import CONFUSION_METRIC_NAME, METRIC_NAME
from components.trainer.settings import FIT_FILE, METRICS_FILE, MISCLASSIFIED_FILE

BASELINE_MODEL_NAME = "baseline"  # TFMA's name for the Evaluator's baseline_model


def trainer_metrics(model_run_uri: str) -> dict[str, Any]:
    """{split: {num_examples, num_correct, precision_at_1}}; {} when the file is not there."""
    return _read_json(os.path.join(model_run_uri, METRICS_FILE), {})


def trainer_fit(model_run_uri: str) -> dict[str, Any]:
    """{steps, examples, seconds, first_interval_seconds} of the Trainer's fit; {} when not recorded."""
    return _read_json(os.path.join(model_run_uri, FIT_FILE), {})


def misclassified_test_examples(model_run_uri: str) -> list[dict[str, int]]:
    """The first test examples the Trainer got wrong: [{index, label, predicted}]; [] when not recorded."""
    return _read_json(os.path.join(model_run_uri, MISCLASSIFIED_FILE), [])


def _read_json(path: str, missing: Any) -> Any:
    import tensorflow as tf  # reads gs:// and s3:// too

    if not tf.io.gfile.exists(path):
        return missing
    with tf.io.gfile.GFile(path) as json_file:
        return json.load(json_file)


def evaluation_metrics(evaluation_uri: str) -> dict[str, Any]:
    """Precision@1 and example count of the candidate model, overall and per digit."""
    import tensorflow_model_analysis as tfma

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
    import tensorflow_model_analysis as tfma

    for metrics in tfma.load_metrics(evaluation_uri):
        if metrics.slice_key.single_slice_keys:  # a digit's slice
            continue
        for key_and_value in metrics.metric_keys_and_values:
            array = key_and_value.value.array_value
            if key_and_value.key.name == CONFUSION_METRIC_NAME and array.shape:
                return np.asarray(array.int64_values, dtype=int).reshape(tuple(array.shape)).tolist()
    return []


def validation_failures(evaluation_uri: str) -> list[str]:
    """Why TFMA did not bless a model, one line per failed threshold."""
    import tensorflow_model_analysis as tfma

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
                    f"{failure.metric_key.name} {value:.4f} below {threshold.value_threshold.lower_bound.value}"
                )
    return failures


def _candidate_metrics(metrics_for_slice):
    from tensorflow_model_analysis.metrics import metric_types

    for key_and_value in metrics_for_slice.metric_keys_and_values:
        key = metric_types.MetricKey.from_proto(key_and_value.key)
        # With a baseline, TFMA also reports the baseline's metrics and the differences.
        if not key.is_diff and key.model_name != BASELINE_MODEL_NAME:
            yield key, key_and_value.value
