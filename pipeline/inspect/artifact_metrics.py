"""The figures runs record: the Trainer's Precision@1 per split, its fit and the test examples
it got wrong, in JSON files in its ModelRun; the Evaluators' Precision@1, per digit, confusion
matrix and failed thresholds, as properties of their ModelEvaluation in MLMD
(components/evaluator/figures.py). Reading them needs no TensorFlow."""

from __future__ import annotations

import json
import os
from typing import Any

from components import files
from components.evaluator.settings import (
    CONFUSION_MATRIX_PROPERTY,
    EXAMPLES_PROPERTY,
    PER_DIGIT_PROPERTY,
    PRECISION_PROPERTY,
    VALIDATION_FAILURES_PROPERTY,
)
from components.trainer.settings import FIT_FILE, METRICS_FILE, MISCLASSIFIED_FILE


def trainer_metrics(model_run_uri: str) -> dict[str, Any]:
    """{split: {num_examples, num_correct, precision_at_1}}; {} when the file is not there."""
    return _read_json(os.path.join(model_run_uri, METRICS_FILE), {})


def trainer_fit(model_run_uri: str) -> dict[str, Any]:
    """{steps, examples, seconds, first_interval_seconds} of the Trainer's fit; {} when not recorded."""
    return _read_json(os.path.join(model_run_uri, FIT_FILE), {})


def misclassified_test_examples(model_run_uri: str) -> list[dict[str, int]]:
    """The first test examples the Trainer got wrong: [{index, label, predicted}]; [] when not recorded."""
    return _read_json(os.path.join(model_run_uri, MISCLASSIFIED_FILE), [])


def evaluation_metrics(properties: dict[str, Any]) -> dict[str, Any]:
    """Precision@1 and example count of the candidate model, overall and per digit, from the
    ModelEvaluation's properties; {} for an evaluation that recorded none."""
    if PRECISION_PROPERTY not in properties:
        return {}
    return {
        "precision_at_1": properties[PRECISION_PROPERTY],
        "examples": properties[EXAMPLES_PROPERTY],
        "precision_at_1_per_digit": dict(sorted(properties[PER_DIGIT_PROPERTY].items(), key=lambda item: int(item[0]))),
    }


def confusion_matrix(properties: dict[str, Any]) -> list[list[int]]:
    """counts[true digit][top predicted digit] over the whole split; [] when the Evaluator made none."""
    return [[int(count) for count in row] for row in properties.get(CONFUSION_MATRIX_PROPERTY, [])]  # MLMD: floats


def validation_failures(properties: dict[str, Any]) -> list[str]:
    """Why TFMA did not bless a model, one line per failed threshold."""
    return properties.get(VALIDATION_FAILURES_PROPERTY, [])


def _read_json(path: str, missing: Any) -> Any:
    if not files.exists(path):
        return missing
    with files.open(path) as json_file:
        return json.load(json_file)
