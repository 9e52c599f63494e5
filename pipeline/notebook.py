"""The pipeline from a Python session, a Jupyter notebook's kernel above all: the CLI's commands
as calls that return objects.

    p = Pipeline("outputs", data_dir="data/mnist")
    run = p.run(learning_rate=0.01, push=False)     # or p.run(**{"training.learning_rate": 0.01})
    p.push(run)                                     # `mnist-pipeline push RUN`
    p.runs(); p.diff(1, 2); p.trace()               # `mnist-pipeline lineage runs|diff|trace`
    p.predict(images)                               # `mnist-pipeline predict`, on arrays too

pipeline/cli.py is the reference: each call runs the functions its command runs, with the
arguments it builds, so the lock on the output dir, the recovery, the blessing and the push
rules are the CLI's own, and a run from here and one from a terminal exclude each other. A fault
is the CLI's one line (IPython prints an error's _render_traceback_ in place of the traceback,
which is in the run's log). In Jupyter each result shows itself: a run as its report page,
runs and diffs as tables, a trace as its graph (SVG with Graphviz's `dot`, else a table).

The kernel pays the imports once: later runs start at once. A run's executors run in worker
processes forked when it starts (pipeline/local/executor_processes.py); in a kernel where
TensorFlow already ran (the notebook trained or predicted), or with a path in object storage, they
run in the components' threads (components/workarounds.py why_executors_cannot_fork).
"""

from __future__ import annotations

import contextlib
import datetime
import html
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from components.object_storage import is_uri
from components.workarounds import why_executors_cannot_fork
from pipeline.cli import describe_fault, quiet_libraries
from pipeline.config import ConfigError, PipelineConfig, load_config
from pipeline.inspect import artifacts, lineage_views, predict, run_summary, runs
from pipeline.inspect import store as mlmd
from pipeline.inspect.run_summary import RunSummary
from pipeline.inspect.runs import RunRecord
from pipeline.inspect.states import ComponentStatus, RunStatus
from pipeline.local import runner
from pipeline.local.partial_run import NO_PUSH
from pipeline.local.stopping import RunInterrupted
from pipeline.local.store_writes import open_for_reading
from pipeline.output_dir import OutputLayout

log = logging.getLogger(__name__)
THREADS_NOTE = (
    "note: runs here run their executors in the components' threads, so the two Evaluators take turns on "
    "one core (slower): {}"
)
FRAME_HEIGHT = "640px"  # a run's report page, inline


class PipelineFault(Exception):
    """A fault in the one line the CLI prints; the run's log has the traceback."""

    def _render_traceback_(self) -> list[str]:
        """What IPython prints instead of the traceback."""
        return [f"error: {self}"]


class Pipeline:
    """One output dir, opened once; each method is a command of the CLI, on it."""

    def __init__(
        self,
        output_dir: str | Path = "outputs",
        data_dir: str | Path = "data/mnist",
        *,
        config: str | Path | None = None,
        settings: Mapping[str, Any] | None = None,
        pipeline_root: str | None = None,
        serving_dir: str | None = None,
        beam_args: Sequence[str] = (),
    ):
        """`config`: a YAML file as `--config`; `settings`: overrides for every run, as `run`'s."""
        self.data_dir = _location(data_dir)
        self.layout = OutputLayout(
            Path(os.path.abspath(output_dir)), _uri_or_path(pipeline_root), _uri_or_path(serving_dir)
        )
        self.config_file = Path(config) if config is not None else None
        self.beam_args = list(beam_args)
        self.overrides = overrides_of(self.config_file, settings or {})
        self.config()  # a bad setting stops here, before any run
        quiet_libraries()  # the pipeline's lines in the cell's output, the libraries' in the run's log
        self._threads_noted = False

    def config(self, **settings: Any) -> PipelineConfig:
        """The settings a run with these overrides would use."""
        with _one_line_faults():
            return load_config(self.config_file, self._overrides(settings))

    def _overrides(self, settings: Mapping[str, Any]) -> list[str]:
        """The `--set`s of a run: the Pipeline's own, then `settings`."""
        return [*self.overrides, *overrides_of(self.config_file, settings)]

    def run(self, *, push: bool = True, use_cache: bool = True, download: bool = False, **settings: Any) -> Run:
        """`mnist-pipeline run` [--no-push] [--no-cache] [--download] with `settings` as `--set`s:
        a bare name (learning_rate=0.01) or a dotted key (**{"training.learning_rate": 0.01})."""
        with _one_line_faults():
            overrides = self._overrides(settings)
            config = load_config(self.config_file, overrides)
        with _one_line_faults(), _console_argv():
            if download:
                from pipeline.local.download import ensure_mnist

                if is_uri(self.data_dir):
                    raise ConfigError(f"download writes to a local folder, not to {self.data_dir}")
                ensure_mnist(Path(self.data_dir))
            self._note_threads()
            summary = runner.run_pipeline(
                config,
                self.data_dir,
                self.layout,
                self.beam_args,
                partial=None if push else NO_PUSH,
                use_cache=use_cache,
                config_file=self.config_file,
                overrides=overrides,
            )
        return self._finished(summary)

    def push(self, run: str | int | Run) -> Run:
        """`mnist-pipeline push RUN`: RUN's model, compared with the model served now, pushed if blessed."""
        with _one_line_faults(), _console_argv():
            self._note_threads()
            return self._finished(runner.push_run(self.config(), self.layout, _reference(run)))

    def report(self, run: str | int | Run | None = None) -> Run:
        """`mnist-pipeline report [RUN]`: an earlier run (default: the newest), its page written again."""
        from pipeline.inspect.run_page.page import write_report

        config = self.config()
        with _one_line_faults():
            reference = None if run is None else _reference(run)
            store = open_for_reading(self.layout.output_dir, config.metadata)  # as `report` opens it
            record = runs.load(store, mlmd.find_run(store, reference, config.pipeline_name))
            return Run(run_summary.summarize(record), write_report(record, self.layout))

    def runs(self) -> Runs:
        """`mnist-pipeline lineage runs`: newest first."""
        return Runs(self._query("runs"))

    def diff(self, run_a: str | int | Run, run_b: str | int | Run) -> Diff:
        """`mnist-pipeline lineage diff A B`: inputs, settings, metrics and blessing side by side."""
        return Diff(self._query("diff", run_a=_reference(run_a), run_b=_reference(run_b)))

    def trace(self, artifact: str | int = "pushed:latest") -> Trace:
        """`mnist-pipeline lineage trace ARTIFACT`: by default, the model the serving dir serves now."""
        return Trace(self._query("trace", artifact=str(artifact), serving_dir=self.layout.serving_dir))

    def predict(
        self,
        images: np.ndarray | str | Path | list[np.ndarray | str | Path],
        model: str | Path | None = None,
        limit: int = 10,
    ) -> Predictions:
        """`mnist-pipeline predict`: PNG pictures of digits, IDX files (their first `limit` images), or
        uint8 arrays [N, 28, 28] (or one [28, 28]) taken as MNIST's images are, with the served model."""
        batches = images if isinstance(images, list) else [images]
        with _one_line_faults():
            loaded = [_images(batch, limit) for batch in batches]
            model_dir = predict.resolve_model_dir(Path(model) if model else Path(self.layout.serving_dir))
            return Predictions(model_dir, predict.classify(model_dir, loaded))

    def _query(self, query: str, **arguments: Any) -> Any:
        """A `lineage` query's data, as the CLI's Request asks for it."""
        config = self.config()
        request = lineage_views.Request(
            query=query, output_dir=self.layout.output_dir, pipeline_name=config.pipeline_name, **arguments
        )
        with _one_line_faults():
            store = open_for_reading(self.layout.output_dir, config.metadata)
            return lineage_views.QUERIES[query][0](store, request)

    def _finished(self, summary: RunSummary | None) -> Run:
        if summary is None:
            raise PipelineFault("the run reached no ML Metadata record (its log is in runs/)")
        return Run(summary, self.layout.run_file(summary.run_id, ".html"))

    def _note_threads(self) -> None:
        """Says once per kernel that executors run in threads, and why (see the module's docstring)."""
        paths = [self.data_dir, self.layout.pipeline_root, self.layout.serving_dir]  # as runner.py gives dag.run
        reason = why_executors_cannot_fork(paths)
        if reason and not self._threads_noted:
            log.warning(THREADS_NOTE.format(reason))
            self._threads_noted = True


@dataclass(frozen=True)
class Run:
    """A finished run: its summary, and its report page, which Jupyter shows inline."""

    summary: RunSummary
    report_path: Path

    @property
    def id(self) -> str:
        return self.summary.run_id

    @property
    def status(self) -> RunStatus:
        return self.summary.status

    @property
    def precision_at_1(self) -> dict[str, float]:
        """Precision@1 per split, as the Evaluators measured it."""
        return {split: figures.precision_at_1 for split, figures in self.summary.evaluation.items()}

    @property
    def blessed(self) -> bool | None:
        """None when the blessing was not reached."""
        return self.summary.blessing.blessed if self.summary.blessing else None

    @property
    def pushed_version(self) -> str | None:
        """The serving dir's version this run published (or found already there), if any."""
        pushed = self.summary.pushed
        return pushed.version if pushed and pushed.pushed else None

    def __repr__(self) -> str:
        return run_summary.format_summary(self.summary)

    def _repr_html_(self) -> str:
        """The report page in a frame of its own (its CSS stays inside), or the summary without one."""
        if not self.report_path.is_file():
            return f"<pre>{html.escape(repr(self))}</pre>"
        page = self.report_path.read_text(encoding="utf-8")
        return (
            f'<iframe title="report of run {html.escape(self.id)}" srcdoc="{html.escape(page, quote=True)}" '
            f'style="width: 100%; height: {FRAME_HEIGHT}; border: 1px solid #ccc"></iframe>'
        )


@dataclass(frozen=True)
class Runs:
    runs: list[RunRecord]

    def __len__(self) -> int:
        return len(self.runs)

    def __repr__(self) -> str:
        return lineage_views.format_runs(self.runs)

    def _repr_html_(self) -> str:
        return html_table(
            ["#", "run", "started", "seconds", "status", *(f"{status}" for status in _statuses(self.runs))],
            [
                [
                    number,
                    run.id,
                    _local_time(run.started_ms),
                    f"{run.seconds:.1f}",
                    run.status,
                    *(sum(e.status == status for e in run.executions) for status in _statuses(self.runs)),
                ]
                for number, run in zip(range(len(self.runs), 0, -1), self.runs)
            ],
        )


@dataclass(frozen=True)
class Diff:
    diff: run_summary.RunDiff

    def __repr__(self) -> str:
        return lineage_views.format_diff(self.diff)

    def _repr_html_(self) -> str:
        parts = [f"<p>A: {html.escape(self.diff.run_a)}<br>B: {html.escape(self.diff.run_b)}</p>"]
        for section, rows in self.diff.sections.items():
            changed = [row for row in rows if row.changed]
            shown = rows if section in lineage_views.ALWAYS_SHOWN else changed
            parts.append(f"<h4>{html.escape(section.capitalize())}: {len(changed)} of {len(rows)} differ</h4>")
            if shown:
                parts.append(
                    html_table(["", "key", "A", "B"], [["*" if r.changed else "", r.key, r.a, r.b] for r in shown])
                )
        return "\n".join(parts)


@dataclass(frozen=True)
class Trace:
    trace: artifacts.Trace

    @property
    def executions(self) -> list[mlmd.ExecutionInfo]:
        """Upstream (newest first), then downstream."""
        return [step.execution for step in self.trace.upstream] + self.trace.downstream

    def __repr__(self) -> str:
        return lineage_views.format_trace(self.trace)

    def _repr_html_(self) -> str:
        """The graph as SVG when Graphviz's `dot` is installed, else one table row per execution."""
        artifact = self.trace.artifact
        title = f"<p>{html.escape(f'{artifact.type} {artifact.id}: {artifact.uri}')}</p>"
        dot = shutil.which("dot")
        if dot:
            graph = lineage_views.to_dot(f"{artifact.type} {artifact.id}", self.executions)
            rendered = subprocess.run([dot, "-Tsvg"], input=graph, text=True, capture_output=True)
            if rendered.returncode == 0:
                return title + rendered.stdout
        return title + html_table(
            ["component", "execution", "status", "run", "used", "made"],
            [
                [e.node_id, e.id, e.status, ", ".join(e.run_ids), _artifacts(e.inputs), _artifacts(e.outputs)]
                for e in self.executions
            ],
        )


@dataclass(frozen=True)
class Predictions:
    model_dir: Path
    predictions: list[predict.Prediction]

    @property
    def digits(self) -> list[int]:
        return [prediction.digit for prediction in self.predictions]

    def __repr__(self) -> str:
        lines = [f"Model: {self.model_dir}", *map(predict.describe, self.predictions)]
        return "\n".join([*lines, *predict.explanations(self.predictions)])

    def _repr_html_(self) -> str:
        return (
            f"<p>Model: {html.escape(str(self.model_dir))}</p>"
            + html_table(
                ["image", "digit", "probability", ""],
                [[p.name, p.digit, f"{p.probability:.3f}", p.note] for p in self.predictions],
            )
            + "".join(f"<p>{html.escape(text)}</p>" for text in predict.explanations(self.predictions))
        )


def overrides_of(config_file: Path | None, settings: Mapping[str, Any]) -> list[str]:
    """`settings` as the CLI's `--set key=value` texts: a bare name is the one setting of that
    name in any section (learning_rate: training.learning_rate), the value written as YAML."""
    if not settings:
        return []
    known = mlmd.flatten(load_config(config_file).as_dict())
    overrides = []
    for name, value in settings.items():
        if "." not in name and name not in known:
            matches = [key for key in known if key.endswith("." + name)]
            if len(matches) != 1:
                found = f"it is {' or '.join(matches)}" if matches else "no setting has that name"
                raise ConfigError(f"setting '{name}': {found}; give its dotted key, e.g. training.learning_rate")
            name = matches[0]
        text = yaml.safe_dump(
            list(value) if isinstance(value, tuple) else value, default_flow_style=True, width=1 << 30
        )
        overrides.append(f"{name}={text.removesuffix('...' + chr(10)).strip()}")
    return overrides


def html_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain HTML table, every cell escaped."""

    def cells(tag: str, values: list[Any]) -> str:
        return "".join(f"<{tag}>{html.escape('-' if value is None else str(value))}</{tag}>" for value in values)

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return f"<table><thead><tr>{cells('th', headers)}</tr></thead><tbody>{body}</tbody></table>"


@contextlib.contextmanager
def _one_line_faults() -> Iterator[None]:
    """Bad input, a fault of the machine, a failed or interrupted run: the CLI's one line
    (cli.describe_fault); a bug keeps its traceback."""
    try:
        yield
    except RunInterrupted as stopped:
        where = f" during {stopped.component}" if stopped.component else ""
        raise PipelineFault(
            f"interrupted{where} ({stopped}); the next run resumes from the cached components"
        ) from None
    except PipelineFault:
        raise
    except Exception as error:
        line = describe_fault(error)
        if line is None:
            raise
        raise PipelineFault(line) from error


@contextlib.contextmanager
def _console_argv() -> Iterator[None]:
    """sys.argv as the console script has it while a run runs: TFX's Beam executors parse it
    with absl, and a kernel's own arguments (`-f CONNECTION_FILE`) are not theirs."""
    kernel_argv = sys.argv
    sys.argv = ["mnist-pipeline"]
    try:
        yield
    finally:
        sys.argv = kernel_argv


def _images(images: np.ndarray | str | Path, limit: int) -> predict.Images:
    if not isinstance(images, np.ndarray):
        return predict.load_images(Path(images), limit)
    pixels = images[np.newaxis] if images.ndim == 2 else images
    if pixels.ndim != 3 or pixels.dtype != np.uint8:
        raise predict.PredictError(
            f"an array of images must be uint8 [N, rows, columns], got {pixels.dtype} {list(images.shape)}"
        )
    return predict.Images(Path("array"), [f"array[{index}]" for index in range(len(pixels))], pixels)


def _reference(run: str | int | Run) -> str:
    return run.id if isinstance(run, Run) else str(run)


def _location(path: str | Path) -> str:
    """A URI as it is, or a local path made absolute (as the CLI's flags are)."""
    return str(path) if is_uri(str(path)) else os.path.abspath(path)


def _uri_or_path(path: str | Path | None) -> str | None:
    return None if path is None else _location(path)


def _statuses(records: list[RunRecord]) -> list[str]:
    """The component statuses that occur in `records`, in their order of ComponentStatus."""
    found = {execution.status for record in records for execution in record.executions}
    return [status.value for status in ComponentStatus if status in found]


def _local_time(milliseconds: int) -> str:
    return datetime.datetime.fromtimestamp(milliseconds / 1000).strftime("%Y-%m-%d %H:%M:%S")


def _artifacts(by_key: dict[str, list[mlmd.ArtifactInfo]]) -> str:
    return ", ".join(f"{key}: {a.type} {a.id}" for key, artifacts in by_key.items() for a in artifacts) or "-"
