"""The Evaluators' TFMA configs: what is measured, per split, and what blesses a model.

One Evaluator per split: given several example_splits, TFMA pools them into one figure.
The validation split decides the blessing; the test split is only reported, with its confusion
matrix (counted by our own metric, components/evaluator/precision_at_1.py) for the run report.
Each Evaluator's executor builds its config from its parameters (the blessing rule's settings,
components/evaluator/executor.py): the config is not a parameter of its own, so the rule has one
source.
"""

from __future__ import annotations

import tensorflow_model_analysis as tfma

from components.evaluator import precision_at_1
from components.example_format import LABEL_KEY


def eval_config(
    min_precision_at_1: float | None = None, max_precision_at_1_regression: float | None = None
) -> tfma.EvalConfig:
    """Precision@1 (= accuracy) and example count, overall and per true digit.

    With `min_precision_at_1`, the blessing rule: a model needs at least that on the whole split,
    and, with `max_precision_at_1_regression`, may fall at most that far below the model served
    now (TFX's Evaluator skips that change threshold when nothing is served). Without a rule (an
    Evaluator that only reports), also the count of every (true digit, top predicted digit) pair.
    """
    precision = tfma.MetricConfig(class_name=precision_at_1.PrecisionAt1.__name__, module=precision_at_1.__name__)
    if min_precision_at_1 is not None:
        threshold = tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_precision_at_1})
        )
        if max_precision_at_1_regression is not None:
            threshold.change_threshold.CopyFrom(
                tfma.GenericChangeThreshold(
                    direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                    absolute={"value": -max_precision_at_1_regression},
                )
            )
        # On the whole split only: a plain `threshold` would apply to every digit's slice too.
        precision.per_slice_thresholds.append(
            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)
        )
    metrics = [tfma.MetricConfig(class_name="ExampleCount"), precision]
    if min_precision_at_1 is None:
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
