"""The Evaluators' TFMA configs: what is measured, per split, and what blesses a model.

One Evaluator per split: given several example_splits, TFMA pools them into one figure.
The validation split decides the blessing; the test split is only reported, with its confusion
matrix (counted by our own metric, components/evaluator/precision_at_1.py) for the run report.
"""

from __future__ import annotations

import tensorflow_model_analysis as tfma

from components.evaluator import precision_at_1
from components.example_format import LABEL_KEY


def eval_config(max_precision_at_1_regression: float | None = None, confusion_matrix: bool = False) -> tfma.EvalConfig:
    """Precision@1 (= accuracy) and example count, overall and per true digit.

    With `max_precision_at_1_regression` (the blessing rule), a model served now is the
    baseline a model may fall at most that far below; the floor every model needs is the run's
    own parameter, added by the executor (with_min_precision_at_1). With `confusion_matrix`,
    also the count of every (true digit, top predicted digit) pair.
    """
    precision = tfma.MetricConfig(class_name=precision_at_1.PrecisionAt1.__name__, module=precision_at_1.__name__)
    if max_precision_at_1_regression is not None:
        # TFX's Evaluator skips the change threshold when it has no baseline (nothing served).
        threshold = tfma.MetricThreshold(
            change_threshold=tfma.GenericChangeThreshold(
                direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                absolute={"value": -max_precision_at_1_regression},
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


def max_regression(config: tfma.EvalConfig) -> float | None:
    """The blessing rule's tolerance below the served model; None for a config without the rule."""
    for precision in _precision_metrics(config):
        for per_slice in precision.per_slice_thresholds:
            return -per_slice.threshold.change_threshold.absolute.value
    return None


def with_min_precision_at_1(config: tfma.EvalConfig, min_precision_at_1: float) -> tfma.EvalConfig:
    """`config`, built with a blessing rule, in which a model also needs at least
    `min_precision_at_1` on the whole split to be blessed."""
    result = tfma.EvalConfig()
    result.CopyFrom(config)
    [precision] = _precision_metrics(result)
    [overall] = precision.per_slice_thresholds
    overall.threshold.value_threshold.lower_bound.value = min_precision_at_1
    return result


def _precision_metrics(config: tfma.EvalConfig) -> list[tfma.MetricConfig]:
    return [
        metric
        for spec in config.metrics_specs
        for metric in spec.metrics
        if metric.class_name == precision_at_1.PrecisionAt1.__name__
    ]
