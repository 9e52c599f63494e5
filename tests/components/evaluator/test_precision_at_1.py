"""components/evaluator/precision_at_1.py: the share of examples whose top class is the label,
and the counts of (true class, top class) pairs."""

from __future__ import annotations

import math

import numpy as np
from tensorflow_model_analysis.metrics import metric_types

from components.evaluator.precision_at_1 import ConfusionCounts, PrecisionAt1
from components.evaluator.settings import CONFUSION_METRIC_NAME, METRIC_NAME


def combiner(metric=PrecisionAt1):
    [computation] = metric().computations(eval_config=None, model_names=[""], output_names=[""])
    [key] = computation.keys
    return computation.combiner, key


def example(label: int, scores: list[float]) -> metric_types.StandardMetricInputs:
    return metric_types.StandardMetricInputs(
        labels=np.array([label]), predictions=np.array(scores), example_weights=np.array([1.0])
    )


def count(examples, metric=PrecisionAt1):
    combine, _ = combiner(metric)
    counts = combine.create_accumulator()
    for item in examples:
        counts = combine.add_input(counts, item)
    return counts


def test_the_metric_is_reported_under_its_name():
    _, key = combiner()
    assert key.name == METRIC_NAME and not key.example_weighted


def test_counts_examples_whose_top_score_is_the_label():
    counts = count([example(2, [0.1, 0.2, 0.7]), example(0, [0.1, 0.8, 0.1]), example(1, [0.2, 0.5, 0.3])])
    assert counts == [2, 3]


def test_accuracy_matches_numpy_on_random_scores():
    rng = np.random.default_rng(0)
    labels, scores = rng.integers(0, 10, 200), rng.random((200, 10))
    combine, key = combiner()
    result = combine.extract_output(count(example(int(label), list(s)) for label, s in zip(labels, scores)))
    assert result[key] == np.mean(scores.argmax(axis=1) == labels)


def test_merge_adds_the_counts_of_each_worker():
    combine, key = combiner()
    merged = combine.merge_accumulators([[3, 4], [0, 0], [5, 6]])
    assert merged == [8, 10]
    assert combine.extract_output(merged)[key] == 0.8


def test_no_example_gives_nan_not_an_error():
    combine, key = combiner()
    assert math.isnan(combine.extract_output(combine.create_accumulator())[key])


def test_confusion_counts_are_true_by_predicted_as_wide_as_the_scores():
    combine, key = combiner(ConfusionCounts)
    assert key.name == CONFUSION_METRIC_NAME
    counts = count(
        [example(2, [0.1, 0.2, 0.7]), example(0, [0.1, 0.8, 0.1]), example(0, [0.9, 0.0, 0.1])], ConfusionCounts
    )
    np.testing.assert_array_equal(combine.extract_output(counts)[key], [[1, 1, 0], [0, 0, 0], [0, 0, 1]])


def test_confusion_counts_merge_the_workers_and_agree_with_precision_at_1():
    rng = np.random.default_rng(1)
    labels, scores = rng.integers(0, 10, 300), rng.random((300, 10))
    examples = [example(int(label), list(s)) for label, s in zip(labels, scores)]
    combine, key = combiner(ConfusionCounts)
    halves = [
        count(examples[:100], ConfusionCounts),
        combine.create_accumulator(),
        count(examples[100:], ConfusionCounts),
    ]
    matrix = combine.extract_output(combine.merge_accumulators(halves))[key]
    assert matrix.sum() == 300
    assert np.trace(matrix) == int(np.sum(scores.argmax(axis=1) == labels))
