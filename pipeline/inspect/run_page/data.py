"""What the run page (page.py) shows, gathered from what the run recorded: its record
(runs.RunRecord, from MLMD), the artifacts' files and the run's log.

gather() returns a RunPage of plain values; a section whose components did not run stays
empty. It never loads the model: the Trainer recorded which test examples it got wrong, so
only those records are read back from the test split. A cached component's outputs come with
the run that made them.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tensorboard.util import tensor_util
from tensorflow_metadata.proto.v0.statistics_pb2 import DatasetFeatureStatistics

from components import data_reports, examples_integrity, files, parameters
from components.evaluator.settings import MAX_REGRESSION_KEY, MIN_PRECISION_KEY
from components.example_format import LABEL_KEY, ExampleFormat
from components.settings import from_dict, to_dict
from components.trainer.settings import TENSORBOARD_DIR, TENSORBOARD_VALIDATION_DIR, TrainerSettings
from pipeline import node_ids
from pipeline.inspect import artifact_metrics, records, runs
from pipeline.inspect.run_summary import RunSummary, summarize
from pipeline.inspect.runs import InputFile, RunRecord
from pipeline.inspect.states import FINISHED, STOPPED, ComponentStatus
from pipeline.inspect.store import ArtifactInfo, ExecutionInfo, artifacts_of, split_names

SAMPLES_PER_DIGIT = 8
TRACEBACK_HEADER = "Traceback (most recent call last):"


@dataclass
class Component:
    node_id: str
    status: ComponentStatus
    seconds: float
    made_in_run: str | None  # cached: the run whose execution made the outputs it reused
    outputs: list[str]  # "Type id" of each output artifact


@dataclass
class Failure:
    component: str | None  # None when no component was running: the run stopped between them
    reason: str  # the last line of the last traceback in the run's log
    finished: list[str]  # the components that ran or were cached before


@dataclass
class FeatureStatistics:
    """One feature of one split, as TFDV's StatisticsGen computed it (values formatted)."""

    split: str
    feature: str
    columns: dict[str, str]


@dataclass
class TrainingCurves:
    scalars: dict[
        str, list[tuple[int, float]]
    ]  # of the training batches: TensorBoard tag (loss, accuracy) -> (step, value)
    validation: dict[str, list[tuple[int, float]]]  # of the validation split, the same tags; {} when not validated
    seconds: float  # wall time from the first logged step of the training batches to the last


@dataclass
class Misclassified:
    index: int  # in the test split, its records in file-name order
    label: int
    predicted: int
    image: np.ndarray


@dataclass
class RunPage:
    """What the run page shows, as plain values."""

    summary: RunSummary
    started: datetime.datetime
    log_path: Path | None  # the run's full log; None on Kubeflow (each task's log is in the KFP UI)
    components: list[Component]
    failure: Failure | None
    input_files: list[InputFile]
    label_counts: dict[str, dict[int, int]]  # split -> digit -> examples
    samples: dict[int, list[np.ndarray]]  # digit -> the first images of the train split
    statistics: list[FeatureStatistics]
    anomalies: list[str] | None  # one line each; None when the validators did not run
    curves: TrainingCurves | None
    training_settings: dict[str, Any]
    blessing_rule: str
    confusion_matrix: list[list[int]]  # [true digit][predicted digit], the test Evaluator's
    misclassified: list[Misclassified]

    def component(self, node_id: str) -> Component | None:
        return next((component for component in self.components if component.node_id == node_id), None)


def gather(record: RunRecord, log_path: Path | None) -> RunPage:
    """What the page of `record` shows, from the record and the artifacts; a section whose
    components did not run stays empty."""
    by_node = record.by_node
    examples = record.output(node_ids.INGEST, "examples", finished_only=True)
    example_format = _example_format(by_node[node_ids.INGEST]) if examples else None
    statistics = _split_statistics(record.output(node_ids.STATISTICS, "statistics", finished_only=True))
    model_run = record.output(node_ids.TRAINER, "model_run", finished_only=True)
    test_evaluation = record.output(node_ids.TEST_EVALUATOR, "evaluation", finished_only=True)
    return RunPage(
        summary=summarize(record),
        started=datetime.datetime.fromtimestamp(record.started_ms / 1000),
        log_path=log_path,
        components=[_component(record, execution) for execution in record.executions],
        failure=_failure(record, log_path),
        input_files=runs.input_files(record.executions),
        label_counts={split: _label_counts(proto) for split, proto in statistics.items()},
        samples=(
            _first_of_each_digit(examples, example_format)
            if examples and _intact(examples, "train") and example_format
            else {}
        ),
        statistics=[row for split, proto in statistics.items() for row in _feature_rows(split, proto)],
        anomalies=_anomalies(record),
        curves=_training_curves(model_run.uri) if model_run else None,
        training_settings=_training_settings(by_node[node_ids.TRAINER]) if model_run else {},
        blessing_rule=_blessing_rule(by_node.get(node_ids.BLESSING_EVALUATOR)),
        confusion_matrix=(
            artifact_metrics.confusion_matrix(test_evaluation.properties) if test_evaluation and example_format else []
        ),
        misclassified=(
            _misclassified(model_run, examples, example_format)
            if model_run and examples and _intact(examples, "test") and example_format
            else []
        ),
    )


def _intact(examples: ArtifactInfo | None, split: str) -> bool:
    """Whether the split's files are what the ingest wrote: the report shows no images of damaged
    Examples (the run itself failed on them, naming the file)."""
    if examples is None:
        return False
    try:
        examples_integrity.verify_files(
            examples.uri, examples.properties.get(examples_integrity.SHARDS_PROPERTY, {}), [split]
        )
    except examples_integrity.ExamplesIntegrityError:
        return False
    return True


# --- runs and components --------------------------------------------------------------------


def _component(record: RunRecord, execution: ExecutionInfo) -> Component:
    outputs = artifacts_of([execution], "outputs")
    return Component(
        execution.node_id,
        execution.status,
        round(execution.seconds, 1),
        record.made_in.get(execution.id),
        [f"{artifact.type} {artifact.id}" for artifact in outputs],
    )


def _failure(record: RunRecord, log_path: Path | None) -> Failure | None:
    """What stopped a run that did not complete: the component, and the error its log ends with."""
    if record.status == "complete":
        return None
    stopped = [execution.node_id for execution in record.executions if execution.status in STOPPED]
    return Failure(
        component=stopped[0] if stopped else None,
        reason=_last_error_line(log_path) or "no traceback in the run's log",
        finished=[execution.node_id for execution in record.executions if execution.status in FINISHED],
    )


def _last_error_line(log_path: Path | None) -> str | None:
    """The exception line of the last traceback in the log: the first unindented line after its header."""
    if log_path is None or not log_path.is_file():
        return None
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    headers = [number for number, line in enumerate(lines) if line.startswith(TRACEBACK_HEADER)]
    if not headers:
        return None
    return next((line for line in lines[headers[-1] + 1 :] if line and not line[0].isspace()), None)


# --- data -----------------------------------------------------------------------------------


def _example_format(ingest: ExecutionInfo) -> ExampleFormat:
    """What one example is, as the ingest was told (its custom_config's `data`)."""
    return from_dict(ExampleFormat, ingest.parameters["custom_config"]["data"], "data.")


def _first_of_each_digit(examples: ArtifactInfo, example_format: ExampleFormat) -> dict[int, list[np.ndarray]]:
    """The first SAMPLES_PER_DIGIT images of each digit in the train split, read until all are found."""
    samples: dict[int, list[np.ndarray]] = {digit: [] for digit in range(example_format.num_classes)}
    for image, label in records.examples(files.split_uri(examples.uri, "train")):
        if len(samples[label]) < SAMPLES_PER_DIGIT:
            samples[label].append(image.reshape(example_format.image_shape))
            if all(len(images_of_digit) == SAMPLES_PER_DIGIT for images_of_digit in samples.values()):
                break
    return samples


def _split_statistics(statistics: ArtifactInfo | None) -> dict[str, DatasetFeatureStatistics]:
    """Each split's DatasetFeatureStatistics, as StatisticsGen wrote it."""
    if statistics is None:
        return {}
    return {split: data_reports.statistics(statistics.uri, split) for split in split_names(statistics.properties)}


def _label_counts(dataset: DatasetFeatureStatistics) -> dict[int, int]:
    """Examples per digit: TFDV counts every value of the categorical label."""
    for feature in dataset.features:
        if feature.path.step == [LABEL_KEY]:
            return {
                int(top.value): int(top.frequency)
                for top in sorted(feature.string_stats.top_values, key=lambda top: int(top.value))
            }
    return {}


def _feature_rows(split: str, dataset: DatasetFeatureStatistics) -> list[FeatureStatistics]:
    """One row per feature: a numeric one (the image's pixels) with its range, mean and zeros, a
    categorical one (the label) with its number of distinct values."""
    rows = []
    for feature in dataset.features:
        if feature.HasField("num_stats"):
            stats = feature.num_stats
            common = stats.common_stats
            columns = {
                "range": f"{stats.min:g} .. {stats.max:g}",
                "mean ± std dev": f"{stats.mean:.2f} ± {stats.std_dev:.2f}",
                "zeros": f"{100 * stats.num_zeros / max(common.tot_num_values, 1):.1f}%",
                "distinct": "",
            }
        else:
            common = feature.string_stats.common_stats
            columns = {"range": "", "mean ± std dev": "", "zeros": "", "distinct": str(feature.string_stats.unique)}
        rows.append(
            FeatureStatistics(
                split,
                ".".join(feature.path.step),
                {
                    "examples": f"{common.num_non_missing:,}",
                    "missing": f"{common.num_missing:,}",
                    "values per example": f"{common.min_num_values:,} .. {common.max_num_values:,}",
                    **columns,
                },
            )
        )
    return rows


def _anomalies(record: RunRecord) -> list[str] | None:
    """What ExampleValidator (schema) and SplitValidator (label mix) found, as DataGate words it."""
    checks = {node_ids.SCHEMA_VALIDATOR: "schema", node_ids.SPLIT_VALIDATOR: "label mix"}
    reports = {check: record.output(node_id, "anomalies", finished_only=True) for node_id, check in checks.items()}
    if not any(reports.values()):
        return None
    return [
        line
        for check, report in reports.items()
        if report is not None
        for line in data_reports.describe_anomalies(report.uri, split_names(report.properties), check)
    ]


# --- training and evaluation ----------------------------------------------------------------


def _training_curves(model_run_uri: str) -> TrainingCurves | None:
    """The scalars the Trainer wrote for TensorBoard: of the training batches every log_every_steps
    steps, of the validation split every validation_every_steps (none when that is beyond train_steps)."""
    scalars, wall_times = _tensorboard_scalars(os.path.join(model_run_uri, TENSORBOARD_DIR))
    if not scalars:
        return None
    validation, _ = _tensorboard_scalars(os.path.join(model_run_uri, TENSORBOARD_VALIDATION_DIR))
    return TrainingCurves(scalars, validation, max(wall_times) - min(wall_times))


def _tensorboard_scalars(logs_dir: str) -> tuple[dict[str, list[tuple[int, float]]], list[float]]:
    """One TensorBoard run's scalars, tag -> (step, value), and the wall times of its events."""
    scalars: dict[str, list[tuple[int, float]]] = {}
    wall_times = []
    for path in sorted(files.glob(os.path.join(logs_dir, "events.out.tfevents.*"))):
        for event in records.events(path):
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, float(tensor_util.make_ndarray(value.tensor))))
                wall_times.append(event.wall_time)
    return scalars, wall_times


def _training_settings(trainer: ExecutionInfo) -> dict[str, Any]:
    """The `training` settings the Trainer ran with, in TrainerSettings' order: each is a
    parameter of its own in MLMD, named as its key (components/parameters.py)."""
    return to_dict(parameters.settings(TrainerSettings, trainer.parameters, "training."))


def _blessing_rule(evaluator: ExecutionInfo | None) -> str:
    """The blessing rule the validation Evaluator ran with, in words (its parameters in MLMD)."""
    given = evaluator.parameters if evaluator else {}
    if MIN_PRECISION_KEY not in given:
        return ""
    return (
        f"validation Precision@1 at least {given[MIN_PRECISION_KEY]}, and at most "
        f"{given[MAX_REGRESSION_KEY]} below the served model's when one is served"
    )


def _misclassified(
    model_run: ArtifactInfo, examples: ArtifactInfo, example_format: ExampleFormat
) -> list[Misclassified]:
    """The misclassified test examples the Trainer recorded, with their images from the test split."""
    wanted = {record["index"]: record for record in artifact_metrics.misclassified_test_examples(model_run.uri)}
    found: list[Misclassified] = []
    for index, (image, _) in enumerate(records.examples(files.split_uri(examples.uri, "test"))):
        if len(found) == len(wanted):
            break
        if index in wanted:
            record = wanted[index]
            found.append(
                Misclassified(index, record["label"], record["predicted"], image.reshape(example_format.image_shape))
            )
    return found
