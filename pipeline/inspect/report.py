"""The HTML report of one run: `mnist-pipeline report` writes it, and so does the end of every run.

One self-contained page that reads offline: CSS inline, images as PNG data: URIs
(pipeline/inspect/report_plots.py), links only to its own sections; every value from the run is
escaped. Sections: the data, the training, the evaluation, the lineage, and first, for a run
that did not complete, what stopped it. What it shows is gathered by pipeline/inspect/report_data.py.
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import Any

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline import node_ids
from pipeline.inspect import interrupted, lineage, report_plots
from pipeline.output_dir import OutputLayout
from pipeline.inspect.report_data import Component, RunReport, gather

SECTIONS = {"data": "Data", "training": "Training", "evaluation": "Evaluation", "lineage": "Lineage"}
SECTION_NODES = {  # whose outputs each section shows
    "data": [node_ids.INGEST, node_ids.STATISTICS, node_ids.SCHEMA_VALIDATOR, node_ids.SPLIT_VALIDATOR,
             node_ids.DATA_GATE],
    "training": [node_ids.TRAINER],
    "evaluation": [node_ids.BLESSING_EVALUATOR, node_ids.TEST_EVALUATOR, node_ids.SERVED_MODEL],
}
CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       max-width: 1080px; margin: 0 auto; padding: 0 24px 48px; }
header { border-bottom: 1px solid #ddd; padding: 12px 0 8px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 1px solid #eee; }
h3 { font-size: 15px; margin: 20px 0 6px; }
nav a { margin-right: 16px; color: #1a5fb4; text-decoration: none; }
.muted { color: #666; } code { font-size: 12.5px; background: #f4f4f4; padding: 1px 4px; border-radius: 3px; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid #e2e2e2; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f6f6; font-weight: 600; } td.number { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600; }
.ran, .complete, .yes { background: #dff3e3; color: #1d6b32; } .cached { background: #eceff3; color: #475060; }
.failed, .unfinished, .interrupted, .no, .running { background: #fbe3e1; color: #a1261b; }
.failure { border: 1px solid #e6a39b; background: #fdf1ef; border-radius: 6px; padding: 8px 14px; margin: 16px 0; }
.failure p { margin: 4px 0; }
.warning { border: 1px solid #e0b44c; background: #fdf6e3; border-radius: 6px; padding: 6px 12px; }
.reason { font-family: ui-monospace, monospace; font-size: 12.5px; white-space: pre-wrap; }
.digits { display: flex; flex-wrap: wrap; gap: 6px; }
.digits figure { margin: 0; text-align: center; font-size: 11.5px; }
.digits img, .samples img { border: 1px solid #ddd; image-rendering: pixelated; } .digits img { display: block; }
.samples { display: grid; grid-template-columns: repeat(2, max-content); gap: 4px 32px; }
.samples b { display: inline-block; width: 18px; vertical-align: top; } .samples img { margin-right: 3px; }
.row { display: flex; flex-wrap: wrap; gap: 12px 40px; align-items: flex-start; }
img.chart { max-width: 100%; } .empty { color: #666; font-style: italic; }
"""


class Cell(str):
    """A whole table cell (<td>) made here, put into a table as it is; any other value is escaped."""


def write_run_report(output_dir: Path, run_reference: str | None, output: Path | None = None) -> Path:
    """`mnist-pipeline report`: the report of a run of `output_dir`'s store (lineage.find_run)."""
    from components.object_storage import enable_s3

    enable_s3()  # the artifacts may live in s3://
    layout = OutputLayout(output_dir)
    interrupted.record_killed_runs(output_dir)
    store = lineage.open_store(layout.metadata_path)
    return write_report(store, lineage.find_run(store, run_reference), layout, output)


def write_report(
    store: metadata_store.MetadataStore,
    run: metadata_store_pb2.Context,
    layout: OutputLayout,
    output: Path | None = None,
) -> Path:
    """Writes the report of `run` to `output`, by default runs/<run id>.html; returns its path."""
    path = output or layout.run_file(run.name, ".html")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(gather(store, run, layout.run_file(run.name, ".log"))), encoding="utf-8")
    return path


def render(report: RunReport) -> str:
    """The whole page."""
    summary = report.summary
    body = [_header(report), _failure(report),
            _data(report), _training(report), _evaluation(report), _lineage(report)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Run {_text(summary['run_id'])}: {_text(summary['status'])}</title>"
        f"<style>{CSS}</style></head>\n<body>\n" + "\n".join(part for part in body if part) + "\n</body></html>\n"
    )


def _header(report: RunReport) -> str:
    summary = report.summary
    counts = Counter(component.status for component in report.components)
    statuses = ", ".join(f"{count} {status}" for status, count in counts.items())
    links = "".join(f'<a href="#{anchor}">{title}</a>' for anchor, title in SECTIONS.items())
    return (
        f"<header><h1>MNIST pipeline run <code>{_text(summary['run_id'])}</code> {_badge(summary['status'])}</h1>"
        f"<p class=\"muted\">Started {report.started:%Y-%m-%d %H:%M:%S}, {summary['seconds']:.1f} s; "
        f"components: {statuses}. Full log: <code>{_text(report.log_path)}</code></p><nav>{links}</nav></header>"
    )


def _failure(report: RunReport) -> str:
    failure = report.failure
    if failure is None:
        return ""
    stopped = report.component(failure.component) if failure.component else None
    if stopped is None:
        where = "The run stopped between components"
    elif stopped.status == "failed":
        where = f"{_text(stopped.node_id)} failed"
    elif stopped.status == "interrupted":
        where = f"The run was interrupted during {_text(stopped.node_id)}"
    else:
        where = f"{_text(stopped.node_id)} did not finish: the run was stopped, or is still running"
    finished = ", ".join(_text(node_id) for node_id in failure.finished) or "none"
    return (
        f'<section class="failure" id="failure"><p><strong>{where}.</strong></p>'
        f'<p class="reason">{_text(failure.reason)}</p>'
        f"<p>Finished before it: {finished}. What they made is shown below; the sections of the "
        "components that did not run stay empty.</p></section>"
    )


# --- data -----------------------------------------------------------------------------------


def _data(report: RunReport) -> str:
    parts = [_section_start(report, "data")]
    examples = report.summary["examples"]
    if not examples:
        return parts[0] + _empty("The ingest did not finish: no examples.") + "</section>"
    digits = sorted({digit for counts in report.label_counts.values() for digit in counts})
    rows = [[split, _number(count), *(_number(report.label_counts.get(split, {}).get(digit, 0)) for digit in digits)]
            for split, count in examples.items()]
    chart = _image(report_plots.label_mix(report.label_counts), "label mix per split", "chart") if digits else ""
    parts.append(_row("<h3>Examples per split, and per digit</h3>"
                      + _table(["split", "examples", *map(str, digits)], rows), chart))
    if report.samples:
        groups = "".join(
            f"<div><b>{digit}</b>{''.join(_image(report_plots.digit(image), f'a {digit}') for image in images)}</div>"
            for digit, images in report.samples.items()
        )
        parts.append(f'<h3>The first digits of each class in the train split</h3><div class="samples">{groups}</div>')
    if report.statistics:
        columns = list(report.statistics[0].columns)
        rows = [[row.split, row.feature, *row.columns.values()] for row in report.statistics]
        parts.append("<h3>Statistics (TFDV's StatisticsGen)</h3>" + _table(["split", "feature", *columns], rows))
    parts.append("<h3>Anomalies</h3>" + _anomalies(report.anomalies))
    return "".join(parts) + "</section>"


def _anomalies(anomalies: list[str] | None) -> str:
    if anomalies is None:
        return _empty("The validators did not run.")
    if not anomalies:
        return ("<p>None: every split matches the schema (ExampleValidator), and each split's label mix is "
                "within the schema's limit of train's (SplitValidator).</p>")
    return "<ul>" + "".join(f"<li>{_text(line)}</li>" for line in anomalies) + "</ul>"


# --- training -------------------------------------------------------------------------------


def _training(report: RunReport) -> str:
    parts = [_section_start(report, "training")]
    trainer = report.component(node_ids.TRAINER)
    if report.curves is None or trainer is None:
        return parts[0] + _empty("The Trainer did not finish in this run.") + "</section>"
    curves = report.curves
    steps = [step for points in curves.scalars.values() for step, _ in points]
    took = (f"The Trainer was cached: its model was trained in run {_text(trainer.made_in_run)}"
            if trainer.status == "cached" else
            f"The Trainer took {trainer.seconds:.1f} s in all (reading the data, training, Precision@1 on three "
            "splits, export)")
    parts.append(
        f"<p>{took}; TensorBoard logged steps {min(steps)} to {max(steps)} over {curves.seconds:.1f} s.</p>"
        + _image(report_plots.training_curves(curves.scalars), "loss and accuracy over the training steps", "chart")
    )
    settings = [[name, ", ".join(map(str, value)) if isinstance(value, list) else value]
                for name, value in report.training_settings.items()]
    rows = [[split, _number(f["num_examples"]), _number(f["num_correct"]), _number(f"{f['precision_at_1']:.4f}")]
            for split, f in report.summary["trainer_precision_at_1"].items()]
    parts.append(_row("<h3>Settings (<code>training</code>)</h3>" + _table(["setting", "value"], settings),
                      "<h3>Precision@1 as the Trainer reports it</h3>"
                      + _table(["split", "examples", "correct", "Precision@1"], rows)))
    return "".join(parts) + "</section>"


# --- evaluation -----------------------------------------------------------------------------


def _evaluation(report: RunReport) -> str:
    parts = [_section_start(report, "evaluation")]
    evaluated = report.summary["evaluation"]
    evaluation = {split: evaluated[split] for split in report.summary["examples"] if evaluated.get(split)}
    if not evaluation:
        return parts[0] + _empty("No Evaluator finished in this run.") + "</section>"
    rows = [[split, _number(f["examples"]), _number(f"{f['accuracy']:.4f}")] for split, f in evaluation.items()]
    digits = sorted({digit for f in evaluation.values() for digit in f["accuracy_per_digit"]}, key=int)
    digit_rows = [[digit, *(_shaded(f["accuracy_per_digit"].get(digit)) for f in evaluation.values())]
                  for digit in digits]
    tables = ("<h3>Precision@1 per split (the Evaluators)</h3>" + _table(["split", "examples", "Precision@1"], rows)
              + "<h3>Precision@1 per true digit</h3>" + _table(["digit", *evaluation], digit_rows))
    parts += [f'<p class="warning">Warning: {_text(warning)}</p>' for warning in report.summary["warnings"]]
    parts.append(_row(tables, _confusion_matrix(report.confusion_matrix)))
    parts.append(_misclassified(report))
    parts.append(_blessing(report))
    return "".join(parts) + "</section>"


def _confusion_matrix(matrix: list[list[int]]) -> str:
    if not matrix:
        return ""
    correct = sum(matrix[digit][digit] for digit in range(len(matrix)))
    return (
        f"<h3>Confusion matrix of the test split</h3><p>{correct:,} of {sum(map(sum, matrix)):,} test digits on "
        "the diagonal (predicted right);<br>the mistakes are shaded on a scale of their own.</p>"
        + _image(report_plots.confusion_matrix(matrix), "test confusion matrix", "chart")
    )


def _misclassified(report: RunReport) -> str:
    test = report.summary["trainer_precision_at_1"].get("test")
    if test is None:
        return ""
    wrong = test["num_examples"] - test["num_correct"]
    figures = "".join(
        f'<figure>{_image(report_plots.digit(m.image), f"test digit {m.index}")}'
        f"<figcaption>{m.label} → {m.predicted}<br><span class=\"muted\">#{m.index}</span></figcaption></figure>"
        for m in report.misclassified
    )
    title = (f"<h3>Misclassified test digits: the first {len(report.misclassified)} of {wrong:,}</h3>"
             "<p class=\"muted\">true → predicted, and the digit's index in the test split.</p>")
    return title + (f'<div class="digits">{figures}</div>' if figures else _empty("None: every test digit was right."))


def _blessing(report: RunReport) -> str:
    blessing = report.summary["blessing"]
    if not blessing:
        return "<h3>Blessing</h3>" + _empty("The blessing Evaluator did not finish.")
    baseline = blessing["baseline"]
    compared = (f"served version {_text(baseline['served_version'])} at <code>{_text(baseline['served_path'])}</code> "
                f"(model <code>{_text(baseline['model_uri'])}</code>, artifact {_text(baseline['artifact_id'])})"
                if baseline else "none (nothing was served yet)")
    rule = f"<p>Rule: {_text(report.blessing_rule)}.</p>" if report.blessing_rule else ""
    return (
        f"<h3>Blessing: {_badge('yes' if blessing['blessed'] else 'no')}</h3>"
        f"<p>{_text(blessing['reason'])}.</p>{rule}<p>Baseline: {compared}.</p>"
    )


# --- lineage --------------------------------------------------------------------------------


def _lineage(report: RunReport) -> str:
    parts = ['<section id="lineage"><h2>Lineage</h2>']
    if report.input_files:
        rows = [[f.role, f.name, _markup(f"<code>{_text(f.sha256)}</code>"), f.examples_id] for f in report.input_files]
        parts.append("<h3>Input files (SHA-256 of the decompressed content, as the ingest recorded it)</h3>"
                     + _table(["role", "file", "SHA-256", "Examples artifact"], rows))
    rows = [[c.node_id, _markup(_status(c)), _number(f"{c.seconds:.1f}"), ", ".join(c.outputs)]
            for c in report.components]
    parts.append("<h3>Components, in the order they started</h3>"
                 + _table(["component", "status", "seconds", "outputs"], rows))
    parts.append(f"<h3>Pushed</h3><p>{_pushed(report.summary['pushed'])}</p>")
    return "".join(parts) + "</section>"


def _pushed(pushed: dict[str, Any]) -> str:
    if not pushed:
        return "The Pusher did not run."
    if not pushed["pushed"]:
        return "No: the model was not blessed."
    return f"Version {_text(pushed['version'])}, to <code>{_text(pushed['destination'])}</code>."


# --- pieces ---------------------------------------------------------------------------------


def _section_start(report: RunReport, anchor: str) -> str:
    """The section's title and the components whose outputs it shows, with their statuses."""
    made_by = [_status(c, with_name=True) for node_id in SECTION_NODES[anchor] if (c := report.component(node_id))]
    statuses = f'<p class="muted">{" · ".join(made_by)}</p>' if made_by else ""
    return f'<section id="{anchor}"><h2>{SECTIONS[anchor]}</h2>{statuses}'


def _status(component: Component, with_name: bool = False) -> str:
    made_in = f" (made in run {_text(component.made_in_run)})" if component.made_in_run else ""
    name = f"{_text(component.node_id)} " if with_name else ""
    return f"{name}{_badge(component.status)}{made_in}"


def _row(*blocks: str) -> str:
    """Blocks side by side, wrapping on a narrow window."""
    return '<div class="row">' + "".join(f"<div>{block}</div>" for block in blocks if block) + "</div>"


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_text(header)}</th>" for header in headers)
    body = "".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    return value if isinstance(value, Cell) else f"<td>{_text(value)}</td>"


def _markup(inner_html: str) -> Cell:
    return Cell(f"<td>{inner_html}</td>")


def _number(value: Any) -> Cell:
    """A right-aligned cell; integers with thousands separators."""
    return Cell(f'<td class="number">{_text(f"{value:,}" if isinstance(value, int) else value)}</td>')


def _shaded(value: float | None) -> Cell:
    """A Precision@1 cell, from green at 1 to red at 0.9 and below."""
    if value is None:
        return Cell("<td></td>")
    hue = round(120 * min(max((value - 0.9) / 0.1, 0.0), 1.0))
    return Cell(f'<td class="number" style="background: hsl({hue}, 70%, 90%)">{value:.4f}</td>')


def _badge(status: str) -> str:
    return f'<span class="badge {_text(status)}">{_text(status)}</span>'


def _image(uri: str, alt: str, css_class: str = "") -> str:
    class_attribute = f' class="{css_class}"' if css_class else ""
    return f'<img{class_attribute} src="{uri}" alt="{_text(alt)}">'


def _empty(message: str) -> str:
    return f'<p class="empty">{_text(message)}</p>'


def _text(value: Any) -> str:
    return html.escape(str(value))
