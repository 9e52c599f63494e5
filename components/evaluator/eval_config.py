"""The Evaluators' TFMA configs: what is measured, per split, and what blesses a model.

One Evaluator per split: given several example_splits, TFMA pools them into one figure.
The validation split decides the blessing; the test split is only reported, with its confusion
matrix (counted by our own metric, components/evaluator/precision_at_1.py) for the run report.
"""

from __future__ import annotations

import tensorflow_model_analysis as tfma

from components.evaluator import precision_at_1
from components.evaluator.settings import EvaluationSettings
from components.example_format import LABEL_KEY


def eval_config(blessing: EvaluationSettings | None = None, confusion_matrix: bool = False) -> tfma.EvalConfig:
    """Precision@1 (= accuracy) and example count, overall and per true digit.

    With `blessing`, a model needs at least its min_precision_at_1 to be blessed, and, when a
    model is served, may fall at most max_precision_at_1_regression below it. With `confusion_matrix`,
    also the count of every (true digit, top predicted digit) pair.
    """
    precision = tfma.MetricConfig(class_name=precision_at_1.PrecisionAt1.__name__, module=precision_at_1.__name__)
    if blessing is not None:
        threshold = tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(lower_bound={"value": blessing.min_precision_at_1}),
            # TFX's Evaluator skips the change threshold when it has no baseline (nothing served).
            change_threshold=tfma.GenericChangeThreshold(
                direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                absolute={"value": -blessing.max_precision_at_1_regression},
            ),
        )
        # On the whole split only: a plain `threshold` would apply to every digit's slice too.
        precision.per_slice_thresholds.append(
            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)
        )
    metrics = [tfma.MetricConfig(class_name="ExampleCount"), precision]
    if confusion_matrix:
        metrics.append(
            tfma.MetricConfig(class_name=precision_at_1.ConfusionCounts.__name__, module=precision_at_1.__name__)
        )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(signature_name="serving_default", label_key=LABEL_KEY, prediction_key="probabilities")
        ],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[LABEL_KEY])],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
    )
