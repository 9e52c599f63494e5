"""The Evaluators' TFMA configs: what is measured, per split, and what blesses a model.

One Evaluator per split: given several example_splits, TFMA pools them into one figure.
The validation split decides the blessing; the test split is only reported.
"""

from __future__ import annotations

import tensorflow_model_analysis as tfma

from components import precision_at_1


def eval_config(accuracy_threshold: float | None = None, max_regression: float | None = None) -> tfma.EvalConfig:
    """Precision@1 (= accuracy) and example count, overall and per true digit.

    With `accuracy_threshold`, a model needs at least that accuracy to be blessed, and, once
    a blessed baseline exists, may fall at most `max_regression` below it.
    """
    accuracy = tfma.MetricConfig(class_name=precision_at_1.PrecisionAt1.__name__, module=precision_at_1.__name__)
    if accuracy_threshold is not None:
        threshold = tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(lower_bound={"value": accuracy_threshold}),
            # TFMA skips the change threshold when there is no baseline model (the first run).
            change_threshold=tfma.GenericChangeThreshold(
                direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -max_regression}
            ),
        )
        # On the whole split only: a plain `threshold` would apply to every digit's slice too.
        accuracy.per_slice_thresholds.append(
            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)
        )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(signature_name="serving_default", label_key="label", prediction_key="probabilities")
        ],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["label"])],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    accuracy,
                ]
            )
        ],
    )
