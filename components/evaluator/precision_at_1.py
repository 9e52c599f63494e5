"""Precision@1 and the confusion counts as native TFMA metrics, from each example's top class.

Precision@1 is the tutorial's "Precision @ 1" (accuracy for single-label data). TFMA's
Keras-based SparseCategoricalAccuracy gives the same figure but runs each example through a
Keras metric object, and its MultiClassConfusionMatrixPlot works through thresholds; these
only compare two integers per example, which makes an Evaluator run markedly faster.
Evaluators use them by name: MetricConfig(class_name="PrecisionAt1", module=__name__).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

from components.evaluator.settings import CONFUSION_METRIC_NAME, METRIC_NAME


class PrecisionAt1(metric_types.Metric):
    """Precision@1 of a multi-class model whose prediction is one score per class."""

    def __init__(self, name: str = METRIC_NAME):
        super().__init__(metric_util.merge_per_key_computations(_computations), name=name)


class ConfusionCounts(metric_types.Metric):
    """How many examples of each true class got each top predicted class: an int64 [true, predicted] array."""

    def __init__(self, name: str = CONFUSION_METRIC_NAME):
        super().__init__(metric_util.merge_per_key_computations(_confusion_computations), name=name)


def _computations(
    name: str,
    eval_config: config_pb2.EvalConfig | None = None,
    model_name: str = "",
    output_name: str = "",
    example_weighted: bool = False,
    **_: object,  # sub_key, class_weights, ...: not used by an unweighted top-1 count
) -> metric_types.MetricComputations:
    key = metric_types.MetricKey(
        name=name, model_name=model_name, output_name=output_name, example_weighted=example_weighted
    )
    return [metric_types.MetricComputation(keys=[key], preprocessors=None, combiner=_Combiner(key, eval_config))]


def _confusion_computations(
    name: str,
    eval_config: config_pb2.EvalConfig | None = None,
    model_name: str = "",
    output_name: str = "",
    example_weighted: bool = False,
    **_: object,
) -> metric_types.MetricComputations:
    key = metric_types.MetricKey(
        name=name, model_name=model_name, output_name=output_name, example_weighted=example_weighted
    )
    return [
        metric_types.MetricComputation(keys=[key], preprocessors=None, combiner=_ConfusionCombiner(key, eval_config))
    ]


class _TopClassCombiner(beam.CombineFn):
    """Reads each example's label and top predicted class.

    With TFMA's own accessors and the model spec's prediction key, found once: TFMA's general
    metric_util.to_label_prediction_example_weight (weights, flattening, class ids) took most of
    an Evaluator's per-example time.
    """

    def __init__(self, key: metric_types.MetricKey, eval_config: config_pb2.EvalConfig | None):
        self._key = key
        specs = [spec for spec in (eval_config.model_specs if eval_config else []) if spec.name == key.model_name]
        self._prediction_key = specs[0].prediction_key if specs else ""

    def _label_top_class_and_classes(self, element: metric_types.StandardMetricInputs) -> tuple[int, int, int]:
        label = element.get_labels(self._key.model_name or None, self._key.output_name or None)
        scores = element.get_predictions(self._key.model_name or None, self._key.output_name or None)
        if isinstance(scores, Mapping):  # the model's outputs by name: the spec's prediction_key is the scores
            scores = scores[self._prediction_key]
        return int(np.asarray(label).reshape(-1)[0]), int(np.argmax(scores)), len(scores)


class _Combiner(_TopClassCombiner):
    """Counts [examples whose top class is the label, examples]."""

    def create_accumulator(self) -> list[int]:
        return [0, 0]

    def add_input(self, counts: list[int], element: metric_types.StandardMetricInputs) -> list[int]:
        label, top_class, _ = self._label_top_class_and_classes(element)
        counts[0] += int(top_class == label)
        counts[1] += 1
        return counts

    def merge_accumulators(self, accumulators: Iterable[list[int]]) -> list[int]:
        correct = total = 0
        for accumulator_correct, accumulator_total in accumulators:
            correct, total = correct + accumulator_correct, total + accumulator_total
        return [correct, total]

    def extract_output(self, counts: list[int]) -> dict[metric_types.MetricKey, float]:
        correct, total = counts
        return {self._key: correct / total if total else float("nan")}


class _ConfusionCombiner(_TopClassCombiner):
    """Counts examples by (true class, top predicted class) in an array as wide as the scores."""

    def create_accumulator(self) -> np.ndarray | None:
        return None  # sized by the first example's scores

    def add_input(self, counts: np.ndarray | None, element: metric_types.StandardMetricInputs) -> np.ndarray:
        label, top_class, num_classes = self._label_top_class_and_classes(element)
        counts = np.zeros((num_classes, num_classes), dtype=np.int64) if counts is None else counts
        counts[label, top_class] += 1
        return counts

    def merge_accumulators(self, accumulators: Iterable[np.ndarray | None]) -> np.ndarray | None:
        present = [counts for counts in accumulators if counts is not None]
        return np.sum(present, axis=0) if present else None

    def extract_output(self, counts: np.ndarray | None) -> dict[metric_types.MetricKey, np.ndarray]:
        return {self._key: counts if counts is not None else np.zeros((0, 0), dtype=np.int64)}


metric_types.register_metric(PrecisionAt1)
metric_types.register_metric(ConfusionCounts)
