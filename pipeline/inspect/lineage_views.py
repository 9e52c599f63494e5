"""`mnist-pipeline lineage runs|artifacts|trace|diff|graph`: run records (runs.py), artifacts and
traces (artifacts.py) and diffs (run_summary.py) as tables, JSON or Graphviz DOT.

Tables are plain aligned text; --json prints the same data as those modules return it (times
in milliseconds since the epoch; a run's executions under `components`, the key it has always
had). `graph --output FILE.svg|.png` needs Graphviz's `dot` (Debian/Ubuntu: apt-get install
graphviz); FILE.dot and DOT on stdout do not.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_metadata import errors as mlmd_errors
from ml_metadata import metadata_store

from components.evaluator.settings import (
    CONFUSION_MATRIX_PROPERTY,
    EXAMPLES_PROPERTY,
    PER_DIGIT_PROPERTY,
    PRECISION_PROPERTY,
    VALIDATION_FAILURES_PROPERTY,
)
from components.served_model.properties import SERVED_KEY
from pipeline.inspect import artifacts, run_summary, runs
from pipeline.inspect import store as mlmd
from pipeline.inspect.artifacts import Step, Trace
from pipeline.inspect.runs import RunRecord
from pipeline.inspect.states import ComponentStatus
from pipeline.inspect.store import ArtifactInfo, ExecutionInfo, StoreError, flatten
from pipeline.output_dir import OutputLayout

MATRIX_RUNS = 8  # `runs` shows the components of this many newest runs side by side
STATUS_COLORS = {
    ComponentStatus.RAN: "palegreen",
    ComponentStatus.CACHED: "lightgrey",
    ComponentStatus.FAILED: "salmon",
    ComponentStatus.INTERRUPTED: "orange",
}
HIDDEN_PROPERTIES = (
    "is_external",  # always 0 for a pipeline's own artifacts
    # The Evaluators' figures: shown as metrics.*; the confusion matrix is the report's.
    PRECISION_PROPERTY,
    EXAMPLES_PROPERTY,
    PER_DIGIT_PROPERTY,
    CONFUSION_MATRIX_PROPERTY,
    VALIDATION_FAILURES_PROPERTY,
)
# Properties whose bare value reads wrong, with what it means.
MEANINGS: dict[tuple[str, Any], str] = {
    (SERVED_KEY, 0): "0 (nothing was served yet: no baseline, the threshold alone blesses)"
}


@dataclass(frozen=True)
class Request:
    """One `lineage` query and what it was given (the CLI's flags, by name)."""

    query: str  # a key of QUERIES
    output_dir: Path
    as_json: bool = False
    artifact_type: str | None = None  # artifacts
    run: str | None = None  # artifacts, graph
    artifact: str = ""  # trace
    serving_dir: str | None = None  # trace
    run_a: str = ""  # diff
    run_b: str = ""
    output: Path | None = None  # graph
    pipeline_name: str | None = None  # runs, diff, graph: only this pipeline's runs (a KFP store holds all)


def report(request: Request, store: mlmd.Store) -> str:
    """Answers one `lineage` query on `store` (store.open_configured's); returns the text to print."""
    query, formatter = QUERIES[request.query]
    try:
        data = query(store, request)
    except mlmd_errors.StatusError as error:  # e.g. the gRPC service went away mid-query
        raise StoreError(f"metadata store query failed: {error}") from error
    if request.query == "graph":
        output = request.output
        if output is not None and output.parent == Path("."):  # a bare name: beside the run's other files
            output = OutputLayout(request.output_dir).runs_dir / output.name
        return _graph(data, output, request.as_json)
    return _json(data) if request.as_json else formatter(data)


# --- runs -----------------------------------------------------------------------------------


def format_runs(runs: list[RunRecord]) -> str:
    """The runs, newest first (#1 is the oldest), then each component's status per run."""
    numbered = list(zip(range(len(runs), 0, -1), runs))
    summary = _table(
        ["#", "RUN", "STARTED", "DURATION", "STATUS", "COMPONENTS"],
        [
            [number, run.id, _time(run.started_ms), f"{run.seconds:.1f} s", run.status, _status_counts(run)]
            for number, run in numbered
        ],
    )
    shown = numbered[:MATRIX_RUNS]
    statuses = [{execution.node_id: execution.status for execution in run.executions} for _, run in shown]
    nodes = list(dict.fromkeys(node for by_node in statuses for node in by_node))
    matrix = _table(
        ["COMPONENT", *(f"#{number}" for number, _ in shown)],
        [[node, *(by_node.get(node, "-") for by_node in statuses)] for node in nodes],
    )
    return f"{summary}\n\nComponents per run (-: did not run)\n{matrix}"


def _status_counts(run: RunRecord) -> str:
    counts = Counter(execution.status for execution in run.executions)
    return ", ".join(f"{counts[status]} {status}" for status in ComponentStatus if counts[status])


# --- artifacts ------------------------------------------------------------------------------


def format_artifacts(found: list[ArtifactInfo]) -> str:
    """One row per artifact, its properties and metrics indented below it."""
    if not found:
        return "No artifacts match."
    header, *rows = _table_lines(
        ["ID", "TYPE", "STATE", "CREATED", "URI"],
        [[a.id, a.type, a.state, _time(a.created_ms), a.uri] for a in found],
    )
    lines = [header]
    for row, artifact in zip(rows, found):
        lines += [row, *_table_lines(None, _property_rows(artifact), indent="      ")]
    return "\n".join(lines)


def _property_rows(artifact: ArtifactInfo) -> list[list[Any]]:
    properties = [
        [name, MEANINGS.get((name, value), value) if isinstance(value, (int, float, str)) else value]
        for name, value in sorted(artifact.properties.items())
        if name not in HIDDEN_PROPERTIES
    ]
    return properties + [[f"metrics.{name}", value] for name, value in artifact.metrics.items()]


# --- trace ----------------------------------------------------------------------------------


def format_trace(trace: Trace) -> str:
    artifact = trace.artifact
    sections = [
        f"{artifact.type} {artifact.id}: {artifact.uri}\n"
        f"  {artifact.state}, created {_time(artifact.created_ms)}\n"
        + "\n".join(_table_lines(None, _property_rows(artifact), indent="  ")),
        "Upstream: the executions that led to it, newest first",
        *(_format_step(step) for step in trace.upstream),
        "How their runs were made\n"
        + (
            "\n".join(
                f"  {run_id}: " + "; ".join(made.describe()) for run_id, made in reversed(trace.runs_made.items())
            )
            or "  (not recorded: runs Kubeflow made, or killed before they ended)"
        ),
        "Input files, as recorded at ingest (SHA-256 of the decompressed content)\n"
        + (
            _table(
                ["ROLE", "FILE", "SHA-256", "READ INTO"],
                [[f.role, f.name, f.sha256, f"Examples {f.examples_id}"] for f in trace.input_files],
            )
            if trace.input_files
            else "  (no IDX files upstream)"
        ),
        "Downstream: the executions that used it, or what came of it\n"
        + (
            _table(
                ["EXECUTION", "COMPONENT", "STATUS", "RUN", "USED", "MADE"],
                [
                    [e.id, e.node_id, e.status, _runs_of(e), _artifact_list(e.inputs), _artifact_list(e.outputs)]
                    for e in trace.downstream
                ],
            )
            if trace.downstream
            else "  (not used yet)"
        ),
    ]
    return "\n\n".join(sections)


def _format_step(step: Step) -> str:
    execution = step.execution
    rows = [
        *(["input", key, f"{_brief(a)} at {a.uri}"] for key, keyed in execution.inputs.items() for a in keyed),
        *(["output", key, f"{_brief(a)} at {a.uri}"] for key, keyed in execution.outputs.items() for a in keyed),
        *(["version", key, value] for key, value in step.versions.items()),
        *(["parameter", key, value] for key, value in flatten(step.parameters).items() if key not in step.versions),
    ]
    title = f"{execution.node_id} (execution {execution.id}, {execution.status}, run {_runs_of(execution)})"
    return "\n".join([title, *_table_lines(None, rows, indent="  ")])


def _brief(artifact: ArtifactInfo) -> str:
    """`Type id` and what matters most about it: blessed, Precision@1, where it was pushed."""
    properties, metrics, notes = artifact.properties, artifact.metrics, []
    if properties.get("blessed") in (0, 1):
        notes.append("blessed" if properties["blessed"] else "not blessed")
    if "precision_at_1" in metrics:
        notes.append(f"Precision@1 {metrics['precision_at_1']:.4f} on {metrics['examples']}")
    if artifact.type == "Model" and metrics:
        notes.append("Precision@1 " + ", ".join(f"{split} {v['precision_at_1']:.4f}" for split, v in metrics.items()))
    if properties.get("pushed") == 1:
        notes.append(f"pushed to {properties.get('pushed_destination')}")
    return f"{artifact.type} {artifact.id}" + (f" ({'; '.join(notes)})" if notes else "")


def _artifact_list(artifacts_by_key: dict[str, list[ArtifactInfo]]) -> str:
    return ", ".join(f"{key}: {_brief(a)}" for key, keyed in artifacts_by_key.items() for a in keyed) or "-"


def _runs_of(execution: ExecutionInfo) -> str:
    return ", ".join(execution.run_ids) or "-"


# --- diff -----------------------------------------------------------------------------------

ALWAYS_SHOWN = ("metrics", "blessing")  # other sections show only what differs


def format_diff(diff: run_summary.RunDiff) -> str:
    parts = [f"A: {diff.run_a}\nB: {diff.run_b}"]
    for section, rows in diff.sections.items():
        changed = [row for row in rows if row.changed]
        title = f"{section.capitalize()}: {len(changed)} of {len(rows)} differ"
        shown = rows if section in ALWAYS_SHOWN else changed
        if shown:
            title += "\n" + _table(["", "KEY", "A", "B"], [["*" if r.changed else "", r.key, r.a, r.b] for r in shown])
        parts.append(title)
    return "\n\n".join(parts)


# --- graph ----------------------------------------------------------------------------------


def graph_elements(executions: list[ExecutionInfo]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Executions and their artifacts as nodes, their events as edges (artifact -> execution for inputs)."""
    nodes: dict[str, dict[str, Any]] = {}
    edges = []
    for execution in executions:
        node = f"e{execution.id}"
        nodes[node] = {
            "id": node,
            "kind": "execution",
            "status": execution.status,
            "label": f"{execution.node_id}\n{execution.status}",
        }
        for is_input, artifacts_by_key in ((True, execution.inputs), (False, execution.outputs)):
            for key, keyed in artifacts_by_key.items():
                for artifact in keyed:
                    other = f"a{artifact.id}"
                    nodes.setdefault(
                        other,
                        {
                            "id": other,
                            "kind": "artifact",
                            "label": f"{artifact.type} {artifact.id}\n{_short_uri(artifact.uri)}",
                        },
                    )
                    ends = (other, node) if is_input else (node, other)
                    edges.append({"from": ends[0], "to": ends[1], "label": key})
    return list(nodes.values()), edges


def to_dot(title: str, executions: list[ExecutionInfo]) -> str:
    """The graph named `title` (`lineage of run <id>`) of the executions, their artifacts and events."""
    nodes, edges = graph_elements(executions)
    lines = [
        f"digraph {_quote(title)} {{",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9, color=gray40];',
    ]
    for node in nodes:
        if node["kind"] == "execution":
            color = STATUS_COLORS.get(node["status"], "khaki")
            style = f'shape=box, style="rounded,filled", fillcolor={color}'
        else:
            style = "shape=note"
        lines.append(f"  {_quote(node['id'])} [{style}, label={_quote(node['label'])}];")
    lines += [f"  {_quote(e['from'])} -> {_quote(e['to'])} [label={_quote(e['label'])}];" for e in edges]
    return "\n".join([*lines, "}"])


def format_graph(run: RunRecord) -> str:
    return to_dot(f"lineage of run {run.id}", run.executions)


def _graph(run: RunRecord, output: Path | None, as_json: bool) -> str:
    """DOT (or JSON) on stdout, or the graph written to `output` as DOT, SVG or PNG."""
    dot = format_graph(run)
    if output is None:
        nodes, edges = graph_elements(run.executions)
        return _json({"run": run.id, "nodes": nodes, "edges": edges}) if as_json else dot
    suffix = output.suffix.lower()
    if suffix not in (".dot", ".svg", ".png"):
        raise StoreError(f"{output}: the graph file must end in .dot, .svg or .png")
    if not output.parent.is_dir():
        raise StoreError(f"{output}: folder {output.parent} does not exist")
    if suffix == ".dot":
        output.write_text(dot + "\n")
    else:
        _render(dot, output, suffix[1:])
    return f"Wrote the lineage graph of run {run.id} to {output}"


def _render(dot: str, output: Path, file_format: str) -> None:
    binary = shutil.which("dot")
    if binary is None:
        raise StoreError(
            f"{output}: rendering needs Graphviz's `dot`, which is not installed "
            "(Debian/Ubuntu: apt-get install graphviz); a .dot file needs no Graphviz"
        )
    result = subprocess.run(
        [binary, f"-T{file_format}", "-o", str(output)], input=dot, text=True, capture_output=True, check=False
    )
    if result.returncode != 0:
        raise StoreError(f"{output}: Graphviz failed: {result.stderr.strip()}")


def _short_uri(uri: str) -> str:
    """The last three parts of a URI: component, output key, execution id."""
    return "/".join(uri.rstrip("/").split("/")[-3:])


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# --- plain text and JSON --------------------------------------------------------------------


def _table(headers: list[str] | None, rows: list[list[Any]], indent: str = "") -> str:
    return "\n".join(_table_lines(headers, rows, indent))


def _table_lines(headers: list[str] | None, rows: list[list[Any]], indent: str = "") -> list[str]:
    """Rows as left-aligned columns two spaces apart, under `headers` when given."""
    cells = ([headers] if headers else []) + [[_text(value) for value in row] for row in rows]
    if not cells:
        return []
    widths = [max(len(row[column]) for row in cells) for column in range(len(cells[0]))]
    return [(indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths))).rstrip() for row in cells]


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return str(round(value, 6))
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, separators=(", ", ": "))
    return str(value).replace("\n", " | ")  # one line per table row


def _time(milliseconds: int) -> str:
    """Local time, as the run ids are."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(milliseconds / 1000))


def _json(data: Any) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, RunRecord):
            # `runs --json` prints a run's steps as `components`, their artifacts empty (`artifacts
            # --run` lists them), as it always has.
            fields = dataclasses.asdict(value)
            fields["executions"] = [{**step, "inputs": {}, "outputs": {}} for step in fields["executions"]]
            return {("components" if key == "executions" else key): item for key, item in fields.items()}
        return dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value

    return json.dumps([plain(item) for item in data] if isinstance(data, list) else plain(data), indent=2, default=str)


Query = Callable[[metadata_store.MetadataStore, Request], Any]
QUERIES: dict[str, tuple[Query, Callable[[Any], str]]] = {
    "runs": (lambda store, request: runs.load_all(store, request.pipeline_name), format_runs),
    "artifacts": (
        lambda store, request: artifacts.list_artifacts(store, request.artifact_type, request.run),
        format_artifacts,
    ),
    "trace": (
        lambda store, request: artifacts.trace(
            store, request.artifact, request.serving_dir or OutputLayout(request.output_dir).serving_dir
        ),
        format_trace,
    ),
    "diff": (
        lambda store, request: run_summary.diff_runs(
            *(
                runs.load(store, mlmd.find_run(store, run, request.pipeline_name))
                for run in (request.run_a, request.run_b)
            )
        ),
        format_diff,
    ),
    "graph": (
        lambda store, request: runs.load(store, mlmd.find_run(store, request.run, request.pipeline_name)),
        format_graph,
    ),
}
