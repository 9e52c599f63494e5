"""A run's summary, from its record (runs.RunRecord) and the artifacts, not from logs; and two runs compared.

The summary is printed after each run and kept as JSON beside its log: per component ran /
cached / failed and seconds; the examples per split; Precision@1 per split from the Trainer
(train, validation, test) and the Evaluators (validation, test, per digit); whether the model
was blessed, why, and against which served model; where it was pushed; how the run was made
(pipeline/inspect/run_made.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from components import serving_dir as serving
from components.evaluator.settings import MAX_TEST_GAP_KEY
from components.pusher.properties import NEW_VERSION_KEY
from components.served_model import properties as served_model
from pipeline import node_ids
from pipeline.inspect import artifact_metrics, runs, store
from pipeline.inspect.run_made import RunMade
from pipeline.inspect.runs import RunRecord
from pipeline.inspect.states import ComponentStatus, RunStatus
from pipeline.inspect.store import ExecutionInfo


@dataclass(frozen=True)
class ComponentOutcome:
    component: str
    status: ComponentStatus
    seconds: float


@dataclass(frozen=True)
class TrainerFigures:
    """Precision@1 of one split as the Trainer computed it."""

    num_examples: int
    num_correct: int
    precision_at_1: float


@dataclass(frozen=True)
class TrainerFit:
    """How long the Trainer's fit took."""

    steps: int
    examples: int
    seconds: float
    first_interval_seconds: float | None  # the first logged interval, TensorFlow's tracing included


@dataclass(frozen=True)
class EvaluatorFigures:
    """Precision@1 of one split as its Evaluator (TFMA) computed it, overall and per true digit."""

    precision_at_1: float
    examples: int
    precision_at_1_per_digit: dict[str, float]


@dataclass(frozen=True)
class Baseline:
    """The served model the candidate was compared with."""

    served_version: int
    served_path: str
    model_uri: str
    artifact_id: int


@dataclass(frozen=True)
class Blessing:
    blessed: bool
    reason: str
    baseline: Baseline | None  # None: nothing was served, the threshold alone decided


@dataclass(frozen=True)
class Push:
    pushed: bool  # False: the model was not blessed
    destination: str | None
    version: str | None
    served: bool  # the serving dir still holds that version
    new_version: bool = True  # False: that version already held the model (a rerun): nothing new was published
    first_served: str | None = None  # a model served before under another version: "version N by run R"


@dataclass(frozen=True)
class RunSummary:
    """What a run did and what came of it; printed after the run and kept as runs/<run id>.json."""

    run_id: str
    status: RunStatus
    seconds: float
    components: list[ComponentOutcome]
    examples: dict[str, int]  # per split
    trainer_precision_at_1: dict[str, TrainerFigures]  # per split
    training: TrainerFit | None  # None: the Trainer did not finish, or its ModelRun holds no fit.json
    evaluation: dict[str, EvaluatorFigures]  # per split, of the Evaluators that finished
    blessing: Blessing | None  # None: the validation Evaluator did not finish
    pushed: Push | None  # None: the Pusher did not finish
    warnings: list[str]
    made: RunMade | None = None  # None: a run the local runner did not make (Kubeflow's), or one killed before it ended

    @property
    def push_held_back(self) -> bool:
        """A complete run without the Pusher: `run --no-push`, whose model `push RUN` may publish later."""
        return self.status == RunStatus.COMPLETE and self.status_of(node_ids.PUSHER) is None

    def status_of(self, component: str) -> ComponentStatus | None:
        return next((outcome.status for outcome in self.components if outcome.component == component), None)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # the enums are strings

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSummary:
        """A summary read back from its JSON file: pydantic builds the nested dataclasses and enums."""
        return TypeAdapter(cls).validate_python(data)


@dataclass
class DiffRow:
    key: str
    a: Any
    b: Any
    changed: bool


@dataclass
class RunDiff:
    run_a: str
    run_b: str
    sections: dict[str, list[DiffRow]]  # inputs, settings, metrics, blessing


def summarize(record: RunRecord) -> RunSummary:
    """What `record` did and what came of it."""
    by_node = record.by_node
    evaluation = {
        node_id.removeprefix(node_ids.EVALUATOR_PREFIX): figures
        for node_id, execution in by_node.items()
        if node_id.startswith(node_ids.EVALUATOR_PREFIX) and (figures := _evaluation_figures(execution))
    }
    return RunSummary(
        run_id=record.id,
        status=record.status,
        seconds=record.seconds,
        components=[ComponentOutcome(e.node_id, e.status, round(e.seconds, 1)) for e in record.executions],
        examples=_split_sizes(by_node.get(node_ids.INGEST)),
        trainer_precision_at_1=_trainer_figures(by_node.get(node_ids.TRAINER)),
        training=_trainer_fit(by_node.get(node_ids.TRAINER)),
        evaluation=evaluation,
        blessing=_blessing(record, by_node.get(node_ids.BLESSING_EVALUATOR)),
        pushed=_pushed(record, by_node.get(node_ids.PUSHER)),
        warnings=_test_gap(by_node.get(node_ids.TEST_EVALUATOR), evaluation),
        made=record.made,
    )


def format_summary(summary: RunSummary) -> str:
    """The summary as a few readable lines for the console."""
    lines = [f"Run {summary.run_id}: {summary.status}, {summary.seconds:.1f} s"]
    lines += summary.made.describe() if summary.made else []
    width = max((len(outcome.component) for outcome in summary.components), default=0) + 2
    for outcome in summary.components:
        lines.append(f"  {outcome.component:<{width}} {outcome.status:<7} {outcome.seconds:6.1f} s")
    if summary.examples:
        sizes = ", ".join(f"{split} {count:,}" for split, count in summary.examples.items())
        lines.append(f"Examples: {sizes}")
    if summary.trainer_precision_at_1:
        figures = "  ".join(f"{split} {f.precision_at_1:.4f}" for split, f in summary.trainer_precision_at_1.items())
        lines.append(f"Precision@1 (Trainer):   {figures}")
    for split, evaluated in summary.evaluation.items():
        lines.append(
            f"Precision@1 (Evaluator): {split} {evaluated.precision_at_1:.4f} on {evaluated.examples} examples"
        )
    if summary.blessing:
        lines.append(f"Blessed: {'yes' if summary.blessing.blessed else 'no'} ({summary.blessing.reason})")
    lines += [f"Pushed: {push_line(summary)}"] if summary.pushed or summary.push_held_back else []
    lines += [f"Warning: {warning}" for warning in summary.warnings]
    return "\n".join(lines)


def _split_sizes(example_gen: ExecutionInfo | None) -> dict[str, int]:
    """Examples per split, as the ingest recorded them on its artifact."""
    if example_gen is None or "examples" not in example_gen.outputs:
        return {}
    properties = example_gen.outputs["examples"][0].properties
    return {split: properties[f"num_examples_{split}"] for split in store.split_names(properties)}


def _trainer_figures(trainer: ExecutionInfo | None) -> dict[str, TrainerFigures]:
    if trainer is None or "model_run" not in trainer.outputs:
        return {}
    metrics = artifact_metrics.trainer_metrics(trainer.outputs["model_run"][0].uri)
    return {split: TrainerFigures(**figures) for split, figures in metrics.items()}


def _trainer_fit(trainer: ExecutionInfo | None) -> TrainerFit | None:
    if trainer is None or "model_run" not in trainer.outputs:
        return None
    fit = artifact_metrics.trainer_fit(trainer.outputs["model_run"][0].uri)
    return TrainerFit(**fit) if fit else None


def _evaluation_figures(evaluator: ExecutionInfo) -> EvaluatorFigures | None:
    if evaluator.status == ComponentStatus.FAILED or "evaluation" not in evaluator.outputs:
        return None
    figures = artifact_metrics.evaluation_metrics(evaluator.outputs["evaluation"][0].properties)
    return EvaluatorFigures(**figures) if figures else None


def _blessing(record: RunRecord, evaluator: ExecutionInfo | None) -> Blessing | None:
    if evaluator is None or "blessing" not in evaluator.outputs:
        return None
    blessing = evaluator.outputs["blessing"][0]
    blessed = blessing.properties.get("blessed") == 1
    baseline = _baseline(evaluator)
    if not blessed:
        reason = (
            "; ".join(artifact_metrics.validation_failures(evaluator.outputs["evaluation"][0].properties))
            or "validation failed"
        )
    elif baseline:
        reason = f"passed the Precision@1 threshold and the comparison with served version {baseline.served_version}"
    else:
        reason = "passed the Precision@1 threshold; no model was served yet"
    if evaluator.status == ComponentStatus.CACHED:
        reason += f"; cached: decided in run {record.made_in[evaluator.id]}"
    return Blessing(blessed, reason, baseline)


def _baseline(evaluator: ExecutionInfo) -> Baseline | None:
    """The served model the candidate was compared with: None when nothing was served."""
    baselines = evaluator.inputs.get("baseline_model", [])
    if not baselines or baselines[0].properties.get(served_model.SERVED_KEY) != 1:
        return None
    properties = baselines[0].properties
    return Baseline(
        served_version=properties[served_model.SERVED_VERSION_KEY],
        served_path=properties[served_model.SERVED_PATH_KEY],
        model_uri=properties.get(served_model.SOURCE_MODEL_KEY, ""),
        artifact_id=baselines[0].id,
    )


def push_line(summary: RunSummary) -> str:
    """What came of the push, in words (the console's and the report's)."""
    pushed = summary.pushed
    if pushed is None:
        return f"no: run with --no-push; `mnist-pipeline push {summary.run_id}` publishes its model if blessed"
    if not pushed.pushed:
        return "no (model not blessed)"
    if not pushed.new_version:
        line = f"nothing new: version {pushed.version} already serves this model ({pushed.destination})"
    else:
        line = f"version {pushed.version}, to {pushed.destination}"
        line += f"; this model was first served as {pushed.first_served}" if pushed.first_served else ""
    return line + ("" if pushed.served else "; removed since: not served")


def _pushed(record: RunRecord, pusher: ExecutionInfo | None) -> Push | None:
    """Where the model was pushed, whether the serving dir still holds that version, and the
    version that served the same model (by its content, model_sha256) first."""
    if pusher is None or "pushed_model" not in pusher.outputs:
        return None
    pushed_model = pusher.outputs["pushed_model"][0]
    destination = pushed_model.properties.get("pushed_destination")
    return Push(
        first_served=record.first_served,
        pushed=pushed_model.properties.get("pushed") == 1,
        destination=destination,
        version=pushed_model.properties.get("pushed_version"),
        served=isinstance(destination, str) and serving.is_complete(destination),
        new_version=pusher.status == ComponentStatus.RAN and pushed_model.properties.get(NEW_VERSION_KEY, 1) == 1,
    )


def _test_gap(test_evaluator: ExecutionInfo | None, evaluation: dict[str, EvaluatorFigures]) -> list[str]:
    """A warning when test Precision@1 is further from validation's than the test Evaluator's limit."""
    limit = test_evaluator.parameters.get(MAX_TEST_GAP_KEY) if test_evaluator else None
    validation, test = (
        evaluation[split].precision_at_1 if split in evaluation else None for split in ("validation", "test")
    )
    if limit is None or validation is None or test is None or abs(validation - test) <= limit:
        return []
    return [
        f"test Precision@1 {test:.4f} is {abs(validation - test):.4f} from validation's {validation:.4f}, more "
        f"than evaluation.max_test_gap {limit}: are the test files what they should be?"
    ]


# --- diff -----------------------------------------------------------------------------------


def diff_runs(a: RunRecord, b: RunRecord) -> RunDiff:
    """Two runs side by side: inputs, settings, metrics per split, blessing."""
    comparable_a, comparable_b = _comparable(a), _comparable(b)
    sections = {
        section: [
            DiffRow(
                key,
                values_a.get(key),
                comparable_b[section].get(key),
                values_a.get(key) != comparable_b[section].get(key),
            )
            for key in sorted(values_a.keys() | comparable_b[section].keys())
        ]
        for section, values_a in comparable_a.items()
    }
    return RunDiff(a.id, b.id, sections)


def _comparable(record: RunRecord) -> dict[str, dict[str, Any]]:
    """A run's inputs, settings, metrics and blessing as flat key -> value maps."""
    summary = summarize(record)
    examples = [a for a in store.artifacts_of(record.executions, "outputs") if a.type == "Examples"]
    metrics = {
        f"trainer.precision_at_1.{split}": figures.precision_at_1
        for split, figures in summary.trainer_precision_at_1.items()
    }
    metrics.update(
        {f"evaluator.precision_at_1.{split}": figures.precision_at_1 for split, figures in summary.evaluation.items()}
    )
    blessing = (
        {key: value for key, value in dataclasses.asdict(summary.blessing).items() if key != "reason"}
        if summary.blessing
        else {}
    )
    return {
        "inputs": {
            key: value
            for key, value in (examples[0].properties if examples else {}).items()
            if key.startswith(("input_file_", "input_sha256_", "num_examples_"))
        },
        "settings": runs.settings(record),
        "metrics": metrics,
        "blessing": store.flatten(
            {"blessing": blessing, "pushed": dataclasses.asdict(summary.pushed) if summary.pushed else {}}
        ),
    }
