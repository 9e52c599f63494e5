"""The HTML page of one run (its report): `mnist-pipeline report` writes it, and so does the end of every run.

One self-contained page that reads offline: the CSS inlined (templates/report.css), images as
PNG data: URIs (plots.py), links only to its own sections. The page is
the Jinja2 template templates/report.html.j2, rendered with autoescape, so every value from the
run is escaped; what the template needs that is not text (a number cell, a status badge) is one
of the cell types below. Sections: the data, the training, the evaluation, the lineage, and
first, for a run that did not complete, what stopped it. What it shows is gathered by data.py.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from pipeline import node_ids
from pipeline.inspect import run_summary, runs
from pipeline.inspect import store as mlmd
from pipeline.inspect.run_made import RunMade
from pipeline.inspect.run_page import plots
from pipeline.inspect.run_page.data import Component, RunPage, gather
from pipeline.output_dir import OutputLayout

TEMPLATES = Path(__file__).with_name("templates")
SECTIONS = {
    "made": "How it was made",
    "data": "Data",
    "training": "Training",
    "evaluation": "Evaluation",
    "lineage": "Lineage",
}
SECTION_NODES = {  # whose outputs each section shows
    "made": [],  # the run's context, no component
    "data": [
        node_ids.INGEST,
        node_ids.STATISTICS,
        node_ids.SCHEMA_VALIDATOR,
        node_ids.SPLIT_VALIDATOR,
        node_ids.DATA_GATE,
    ],
    "training": [node_ids.TRAINER],
    "evaluation": [node_ids.BLESSING_EVALUATOR, node_ids.TEST_EVALUATOR, node_ids.SERVED_MODEL],
}
TRAINING_CHART_ALT = "loss and accuracy over the training steps, of the training batches and of the validation split"


@dataclass(frozen=True)
class NumberCell:
    """A right-aligned cell; integers with thousands separators."""

    value: Any

    @property
    def text(self) -> str:
        return f"{self.value:,}" if isinstance(self.value, int) else str(self.value)


@dataclass(frozen=True)
class ShadedCell:
    """A Precision@1 cell, from green at 1 to red at 0.9 and below; empty for None."""

    value: float | None

    @property
    def hue(self) -> int:
        return round(120 * min(max(((self.value or 0) - 0.9) / 0.1, 0.0), 1.0))


@dataclass(frozen=True)
class CodeCell:
    text: str


@dataclass(frozen=True)
class StatusCell:
    component: Component


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.tests.update(
        number_cell=lambda value: isinstance(value, NumberCell),
        shaded_cell=lambda value: isinstance(value, ShadedCell),
        code_cell=lambda value: isinstance(value, CodeCell),
        status_cell=lambda value: isinstance(value, StatusCell),
    )
    return environment


def write_run_report(
    store: mlmd.Store,
    output_dir: Path,
    run_reference: str | None,
    output: Path | None = None,
    pipeline_name: str | None = None,
) -> Path:
    """`mnist-pipeline report`: the page of a run (store.find_run, of the pipeline
    `pipeline_name` when given) of `store`: `output_dir`'s, or Kubeflow's when the config names
    its MLMD service (store.open_configured)."""
    record = runs.load(store, mlmd.find_run(store, run_reference, pipeline_name))
    return write_report(record, OutputLayout(output_dir), output)


def write_report(record: runs.RunRecord, layout: OutputLayout, output: Path | None = None) -> Path:
    """Writes the page of the run `record` to `output`, by default runs/<run id>.html; returns its path."""
    path = output or layout.run_file(record.id, ".html")
    path.parent.mkdir(parents=True, exist_ok=True)
    log_path = layout.run_file(record.id, ".log")
    path.write_text(render(gather(record, log_path if log_path.is_file() else None)), encoding="utf-8")
    return path


def render(report: RunPage) -> str:
    """The whole page."""
    template = _environment().get_template("report.html.j2")
    summary = report.summary
    return template.render(
        css=Markup((TEMPLATES / "report.css").read_text()),  # the project's own file, not run data
        summary=summary,
        started=f"{report.started:%Y-%m-%d %H:%M:%S}",
        log_path=str(report.log_path) if report.log_path else None,
        component_counts=", ".join(
            f"{count} {status}" for status, count in Counter(c.status for c in report.components).items()
        ),
        sections=SECTIONS,
        made_by={
            anchor: [c for node_id in nodes if (c := report.component(node_id))]
            for anchor, nodes in SECTION_NODES.items()
        },
        failure=_failure(report),
        made=_made(summary.made),
        data=_data(report),
        training=_training(report),
        evaluation=_evaluation(report),
        blessing_rule=report.blessing_rule,
        push_line=run_summary.push_line(summary) if summary.pushed or summary.push_held_back else None,
        input_file_rows=[[f.role, f.name, CodeCell(f.sha256), f.examples_id] for f in report.input_files],
        component_rows=[
            [c.node_id, StatusCell(c), NumberCell(f"{c.seconds:.1f}"), ", ".join(c.outputs)] for c in report.components
        ],
    )


def _made(made: RunMade | None) -> dict[str, list[list[Any]]] | None:
    """How the run was made, and the settings that decide its result, as rows."""
    if made is None:
        return None
    return {
        "how": [
            ["Beam runner", made.beam_runner],
            ["Beam arguments", CodeCell(" ".join(made.beam_args))],
            ["config", CodeCell(made.config_file or "configs/pipeline.yaml")],
            ["overrides", CodeCell(" ".join(f"--set {override}" for override in made.overrides) or "none")],
            ["data dir", CodeCell(made.data_dir)],
            ["code", CodeCell(made.source_revision)],
        ],
        "settings": [[key, CodeCell(str(value))] for key, value in made.settings.items()],
    }


def _failure(report: RunPage) -> dict[str, str] | None:
    failure = report.failure
    if failure is None:
        return None
    stopped = report.component(failure.component) if failure.component else None
    if stopped is None:
        where = "The run stopped between components"
    elif stopped.status == "failed":
        where = f"{stopped.node_id} failed"
    elif stopped.status == "interrupted":
        where = f"The run was interrupted during {stopped.node_id}"
    else:
        where = f"{stopped.node_id} did not finish: the run was stopped, or is still running"
    return {"where": where, "reason": failure.reason, "finished": ", ".join(failure.finished) or "none"}


def _data(report: RunPage) -> dict[str, Any] | None:
    examples = report.summary.examples
    if not examples:
        return None
    digits = sorted({digit for counts in report.label_counts.values() for digit in counts})
    columns = list(report.statistics[0].columns) if report.statistics else []
    return {
        "split_headers": ["split", "examples", *map(str, digits)],
        "split_rows": [
            [
                split,
                NumberCell(count),
                *(NumberCell(report.label_counts.get(split, {}).get(digit, 0)) for digit in digits),
            ]
            for split, count in examples.items()
        ],
        "label_mix": plots.label_mix(report.label_counts) if digits else None,
        "samples": [(digit, [plots.digit(image) for image in images]) for digit, images in report.samples.items()],
        "statistics_headers": ["split", "feature", *columns],
        "statistics_rows": [[row.split, row.feature, *row.columns.values()] for row in report.statistics],
        "anomalies": report.anomalies,
    }


def _training(report: RunPage) -> dict[str, Any] | None:
    trainer = report.component(node_ids.TRAINER)
    if report.curves is None or trainer is None:
        return None
    steps = [step for points in report.curves.scalars.values() for step, _ in points]
    took = (
        f"The Trainer was cached: its model was trained in run {trainer.made_in_run}"
        if trainer.status == "cached"
        else f"The Trainer took {trainer.seconds:.1f} s in all (reading the data, training, Precision@1 on three "
        "splits, export)"
    )
    return {
        "took": took,
        "first_step": min(steps),
        "last_step": max(steps),
        "seconds": report.curves.seconds,
        "curves": plots.training_curves(report.curves.scalars, report.curves.validation),
        "curves_alt": TRAINING_CHART_ALT,
        "settings": [
            [name, ", ".join(map(str, value)) if isinstance(value, list) else value]
            for name, value in report.training_settings.items()
        ],
        "precision_rows": [
            [split, NumberCell(f.num_examples), NumberCell(f.num_correct), NumberCell(f"{f.precision_at_1:.4f}")]
            for split, f in report.summary.trainer_precision_at_1.items()
        ],
    }


def _evaluation(report: RunPage) -> dict[str, Any] | None:
    evaluated = report.summary.evaluation
    evaluation = {split: evaluated[split] for split in report.summary.examples if split in evaluated}
    if not evaluation:
        return None
    digits = sorted({digit for f in evaluation.values() for digit in f.precision_at_1_per_digit}, key=int)
    matrix = report.confusion_matrix
    test = report.summary.trainer_precision_at_1.get("test")
    return {
        "split_rows": [
            [split, NumberCell(f.examples), NumberCell(f"{f.precision_at_1:.4f}")] for split, f in evaluation.items()
        ],
        "digit_headers": ["digit", *evaluation],
        "digit_rows": [
            [digit, *(ShadedCell(f.precision_at_1_per_digit.get(digit)) for f in evaluation.values())]
            for digit in digits
        ],
        "matrix": plots.confusion_matrix(matrix) if matrix else None,
        "matrix_counts": (sum(matrix[digit][digit] for digit in range(len(matrix))), sum(map(sum, matrix))),
        "misclassified": None
        if test is None
        else [
            {"uri": plots.digit(m.image), "index": m.index, "label": m.label, "predicted": m.predicted}
            for m in report.misclassified
        ],
        "wrong": test.num_examples - test.num_correct if test else 0,
    }
