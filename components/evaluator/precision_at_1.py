"""Precision@1 as a native TFMA metric: the share of examples whose top class is the label.

It is the tutorial's "Precision @ 1" (accuracy for single-label data). TFMA's Keras-based
SparseCategoricalAccuracy gives the same figure but runs each example through a Keras metric
object; this one only compares two integers, which makes an Evaluator run about a third faster.
Evaluators use it by name: MetricConfig(class_name="PrecisionAt1", module=__name__).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

from components.evaluator.settings import METRIC_NAME


class PrecisionAt1(metric_types.Metric):
    """Precision@1 of a multi-class model whose prediction is one score per class."""

    def __init__(self, name: str = METRIC_NAME):
        super().__init__(metric_util.merge_per_key_computations(_computations), name=name)


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


class _Combiner(beam.CombineFn):
    """Counts [examples whose top class is the label, examples].

    It reads each example's label and score vector with TFMA's own accessors and the model
    spec's prediction key, found once: TFMA's general metric_util.to_label_prediction_example_weight
    (weights, flattening, class ids) took most of an Evaluator's per-example time.
    """

    def __init__(self, key: metric_types.MetricKey, eval_config: config_pb2.EvalConfig | None):
        self._key = key
        specs = [spec for spec in (eval_config.model_specs if eval_config else []) if spec.name == key.model_name]
        self._prediction_key = specs[0].prediction_key if specs else ""

    def create_accumulator(self) -> list[int]:
        return [0, 0]

    def add_input(self, counts: list[int], element: metric_types.StandardMetricInputs) -> list[int]:
        label = element.get_labels(self._key.model_name or None, self._key.output_name or None)
        scores = element.get_predictions(self._key.model_name or None, self._key.output_name or None)
        if isinstance(scores, Mapping):  # the model's outputs by name: the spec's prediction_key is the scores
            scores = scores[self._prediction_key]
        counts[0] += int(np.argmax(scores) == int(np.asarray(label).reshape(-1)[0]))
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


metric_types.register_metric(PrecisionAt1)
