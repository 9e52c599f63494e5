"""The summary printed after each run and kept as JSON beside it: read from MLMD, not from logs.

Per component: ran / cached / failed and seconds. The examples per split. Per split: Precision@1 from the Trainer
(train, validation, test) and from the Evaluators (validation, test, per digit). Whether the
model was blessed and why, and where it was pushed.
"""

from __future__ import annotations

import json
import os
from typing import Any

from pipeline import lineage

ACCURACY = "precision_at_1"  # components.precision_at_1.NAME
BASELINE_MODEL_NAME = "baseline"  # TFMA's name for the Evaluator's baseline_model
TRAINER_METRICS_FILE = "precision_at_1.json"  # written by components.trainer.module


def summarize_run(store, run) -> dict[str, Any]:
    info = lineage.run_info(store, run, with_artifacts=True)
    by_node = {execution.node_id: execution for execution in info.components}
    return {
        "run_id": info.id,
        "seconds": info.seconds,
        "components": [
            {"component": e.node_id, "status": e.status, "seconds": round(e.seconds, 1)} for e in info.components
        ],
        "examples": _split_sizes(by_node.get("IdxExampleGen")),
        "trainer_precision_at_1": trainer_metrics(by_node.get("Trainer")),
        "evaluation": {
            node_id.split(".", 1)[1]: evaluation_metrics(execution)
            for node_id, execution in by_node.items()
            if node_id.startswith("Evaluator.")
        },
        "blessing": _blessing(by_node.get("Evaluator.validation")),
        "pushed": _pushed(by_node.get("Pusher")),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a few readable lines for the console."""
    lines = [f"Run {summary['run_id']}: {summary['seconds']:.1f} s"]
    for component in summary["components"]:
        lines.append(f"  {component['component']:<32} {component['status']:<7} {component['seconds']:6.1f} s")
    if summary["examples"]:
        sizes = ", ".join(f"{split} {count:,}" for split, count in summary["examples"].items())
        lines.append(f"Examples: {sizes}")
    trainer = summary["trainer_precision_at_1"]
    if trainer:
        figures = "  ".join(f"{split} {values['precision_at_1']:.4f}" for split, values in trainer.items())
        lines.append(f"Precision@1 (Trainer):   {figures}")
    for split, evaluation in summary["evaluation"].items():
        if evaluation:
            lines.append(f"Precision@1 (Evaluator): {split} {evaluation['accuracy']:.4f} on {evaluation['examples']} examples")
    blessing = summary["blessing"]
    if blessing:
        lines.append(f"Blessed: {'yes' if blessing['blessed'] else 'no'} ({blessing['reason']})")
    pushed = summary["pushed"]
    if pushed:
        lines.append(f"Pushed: {pushed['destination']}" if pushed["pushed"] else "Pushed: no (model not blessed)")
    return "\n".join(lines)


def _split_sizes(example_gen) -> dict[str, int]:
    """Examples per split, as the ingest recorded them on its artifact."""
    if example_gen is None or "examples" not in example_gen.outputs:
        return {}
    properties = example_gen.outputs["examples"][0].properties
    return {split: properties[f"num_examples_{split}"] for split in json.loads(properties["split_names"])}


def trainer_metrics(trainer) -> dict[str, Any]:
    if trainer is None or "model_run" not in trainer.outputs:
        return {}
    path = os.path.join(trainer.outputs["model_run"][0].uri, TRAINER_METRICS_FILE)
    import tensorflow as tf  # reads gs:// too; already loaded by the run

    if not tf.io.gfile.exists(path):
        return {}
    with tf.io.gfile.GFile(path) as metrics_file:
        return json.load(metrics_file)


def evaluation_metrics(evaluator) -> dict[str, Any]:
    if evaluator is None or evaluator.status == "failed" or "evaluation" not in evaluator.outputs:
        return {}
    import tensorflow_model_analysis as tfma

    overall, per_digit = {}, {}
    for metrics in tfma.load_metrics(evaluator.outputs["evaluation"][0].uri):
        values = {key.name: value.double_value.value for key, value in _metric_items(metrics)}
        slice_keys = metrics.slice_key.single_slice_keys
        if not slice_keys:
            overall = values
        else:
            per_digit[str(slice_keys[0].int64_value)] = round(values.get(ACCURACY, 0.0), 4)
    return {
        "accuracy": round(overall.get(ACCURACY, 0.0), 4),
        "examples": int(overall.get("example_count", 0)),
        "accuracy_per_digit": dict(sorted(per_digit.items())),
    }


def _metric_items(metrics_for_slice):
    from tensorflow_model_analysis.metrics import metric_types

    for key_and_value in metrics_for_slice.metric_keys_and_values:
        key = metric_types.MetricKey.from_proto(key_and_value.key)
        # With a baseline, TFMA also reports the baseline's metrics and the differences.
        if not key.is_diff and key.model_name != BASELINE_MODEL_NAME:
            yield key, key_and_value.value


def _blessing(evaluator) -> dict[str, Any]:
    if evaluator is None or "blessing" not in evaluator.outputs:
        return {}
    blessing = evaluator.outputs["blessing"][0]
    blessed = blessing.properties.get("blessed") == 1
    baseline = blessing.properties.get("baseline_model")
    reason = "passed the accuracy threshold" + (f" and the comparison with {baseline}" if baseline else ", no blessed baseline yet")
    if not blessed:
        reason = "; ".join(_failures(evaluator.outputs["evaluation"][0].uri)) or "validation failed"
    return {"blessed": blessed, "reason": reason, "baseline_model": baseline}


def _failures(evaluation_uri: str) -> list[str]:
    import tensorflow_model_analysis as tfma

    result = tfma.load_validation_result(evaluation_uri)
    failures = []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            threshold = failure.metric_threshold
            value = failure.metric_value.double_value.value
            if failure.metric_key.is_diff:
                failures.append(f"{failure.metric_key.name} changed by {value:+.4f} against the baseline, "
                                f"allowed {threshold.change_threshold.absolute.value:+.4f}")
            else:
                failures.append(f"{failure.metric_key.name} {value:.4f} below {threshold.value_threshold.lower_bound.value}")
    return failures


def _pushed(pusher) -> dict[str, Any]:
    if pusher is None or "pushed_model" not in pusher.outputs:
        return {}
    pushed_model = pusher.outputs["pushed_model"][0]
    return {
        "pushed": pushed_model.properties.get("pushed") == 1,
        "destination": pushed_model.properties.get("pushed_destination"),
        "version": pushed_model.properties.get("pushed_version"),
    }
