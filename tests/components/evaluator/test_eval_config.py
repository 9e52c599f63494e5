"""components/evaluator/eval_config.py: what the Evaluators measure and what blesses a model."""

from __future__ import annotations

import tensorflow_model_analysis as tfma

from components.evaluator import precision_at_1
from components.evaluator.eval_config import eval_config
from components.evaluator.settings import METRIC_NAME
from components.example_format import LABEL_KEY

# The validation Evaluator's: the blessing rule, which its executor builds from its parameters.
BLESSING = eval_config(0.9, max_precision_at_1_regression=0.02)


def metric(config: tfma.EvalConfig, class_name: str) -> tfma.MetricConfig:
    [found] = [m for spec in config.metrics_specs for m in spec.metrics if m.class_name == class_name]
    return found


def thresholds_as_tfx_applies_them(config: tfma.EvalConfig, has_baseline: bool) -> dict[bool, list]:
    """The thresholds TFX's Evaluator checks, by is_diff (a change threshold); the candidate's only."""
    updated = tfma.utils.update_eval_config_with_defaults(config, has_baseline=has_baseline, rubber_stamp=True)
    found: dict[bool, list] = {}
    for key, values in tfma.metrics.metric_thresholds_from_metrics_specs(
        updated.metrics_specs, eval_config=updated
    ).items():
        if key.name == METRIC_NAME and not key.model_name.startswith("baseline"):
            found.setdefault(key.is_diff, []).extend(values)
    return found


def test_precision_at_1_and_example_count_overall_and_per_digit():
    config = BLESSING
    assert [(m.class_name, m.module) for m in config.metrics_specs[0].metrics] == [
        ("ExampleCount", ""),
        ("PrecisionAt1", precision_at_1.__name__),
    ]
    assert list(config.slicing_specs) == [tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[LABEL_KEY])]
    [model_spec] = config.model_specs
    assert (model_spec.label_key, model_spec.prediction_key, model_spec.signature_name) == (
        LABEL_KEY,
        "probabilities",
        "serving_default",
    )


def test_without_a_blessing_rule_there_is_no_threshold():
    assert not metric(eval_config(), "PrecisionAt1").per_slice_thresholds
    assert thresholds_as_tfx_applies_them(eval_config(), has_baseline=False) == {}


def test_thresholds_apply_to_the_overall_slice_only():
    [per_slice] = metric(BLESSING, "PrecisionAt1").per_slice_thresholds
    assert list(per_slice.slicing_specs) == [tfma.SlicingSpec()]  # not each digit's slice
    assert per_slice.threshold.value_threshold.lower_bound.value == 0.9


def test_a_floor_alone_makes_no_change_threshold():
    """An Evaluator given no baseline input uses no tolerance: the floor alone blesses."""
    [per_slice] = metric(eval_config(0.5), "PrecisionAt1").per_slice_thresholds
    assert per_slice.threshold.value_threshold.lower_bound.value == 0.5
    assert not per_slice.threshold.HasField("change_threshold")


def test_the_change_threshold_allows_max_accuracy_regression():
    [per_slice] = metric(BLESSING, "PrecisionAt1").per_slice_thresholds
    change = per_slice.threshold.change_threshold
    assert change.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    assert change.absolute.value == -0.02


def test_with_a_served_model_both_thresholds_apply_without_only_the_accuracy_threshold():
    with_baseline = thresholds_as_tfx_applies_them(BLESSING, has_baseline=True)
    assert sorted(with_baseline) == [False, True]  # value and change threshold
    without = thresholds_as_tfx_applies_them(BLESSING, has_baseline=False)
    assert sorted(without) == [False]
    [(slicing, threshold)] = without[False]
    assert threshold.lower_bound.value == 0.9


def test_the_confusion_matrix_is_asked_for_by_the_evaluator_that_only_reports():
    counts = precision_at_1.ConfusionCounts.__name__
    assert metric(eval_config(), counts).module == precision_at_1.__name__
    assert counts not in {m.class_name for spec in BLESSING.metrics_specs for m in spec.metrics}
