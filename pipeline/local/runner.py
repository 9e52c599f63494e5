"""Runs the pipeline on this machine: MLMD in SQLite, the Beam components on Beam's DirectRunner.

Two orchestrators, on the same pipeline and the same store: `local` (the default) is this
project's ConcurrentDagRunner, TFX's LocalDagRunner running independent components at the same
time (pipeline/local/concurrent_dag_runner.py); `beam` is TFX's BeamDagRunner, which turns the
DAG itself into a Beam pipeline, one step per component. This module only builds the paths and
options, holds the output dir for the run, and keeps the run's log, summary and report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from components.errors import PipelineError
from components.object_storage import BEAM_WORKER_PLUGIN_ARG, enable_s3, is_uri
from pipeline import node_ids
from pipeline.config import PipelineConfig

if TYPE_CHECKING:  # the summary's module loads ML Metadata: imported when a run ends
    from pipeline.inspect.run_made import RunMade
    from pipeline.inspect.run_summary import RunSummary
from pipeline.local.run_log import ComponentProgress, RunLog
from pipeline.output_dir import OutputDirLock, OutputLayout
from pipeline.schema_staging import stage_schema

log = logging.getLogger(__name__)
RUNNERS = ("local", "beam")


class RunInterrupted(Exception):
    """Ctrl-C or SIGTERM stopped the run; `component` is the one that was running."""

    def __init__(self, signal_number: int, component: str | None):
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number
        self.component = component


class RunFailed(Exception):
    """A run failed; the full traceback is in `log_path`, the cause in __cause__; `store` is the
    run's ML Metadata store, which SQLite's "database or disk is full" does not name."""

    def __init__(self, log_path: Path, component: str | None, store: Path | None = None):
        super().__init__(f"the run failed (full log: {log_path})")
        self.log_path = log_path
        self.component = component
        self.store = store


def new_run_id() -> str:
    """The run's id in MLMD and the name of its files: local time to the microsecond, one format for both runners."""
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")


@dataclass(frozen=True)
class PartialRun:
    """A TFX partial run: the nodes between `from_nodes` and `to_nodes` (either may be empty: from
    the sources, to the sinks); what they need from the nodes before them is reused from run
    `base_run_id` (default: the latest run)."""

    to_nodes: tuple[str, ...] = ()
    from_nodes: tuple[str, ...] = ()
    base_run_id: str | None = None

    @property
    def reads_data(self) -> bool:
        """Whether the ingest runs, so the data dir must be there."""
        return not self.from_nodes


# `run --no-push`: everything up to the blessing and the test figures; nothing is published.
NO_PUSH = PartialRun(to_nodes=(node_ids.BLESSING_EVALUATOR, node_ids.TEST_EVALUATOR))


def push_of(run_id: str) -> PartialRun:
    """`push RUN`: RUN's model compared with what is served now, and pushed if blessed."""
    return PartialRun(from_nodes=(node_ids.SERVING_PROBE,), to_nodes=(node_ids.PUSHER,), base_run_id=run_id)


def run_pipeline(
    config: PipelineConfig,
    data_dir: str,
    layout: OutputLayout,
    beam_args: list[str],
    runner: str = "local",
    partial: PartialRun | None = None,
    use_cache: bool = True,
    config_file: Path | None = None,
    overrides: Sequence[str] = (),
) -> RunSummary | None:
    """Runs the pipeline once, or the part of it `partial` says, reusing cached results unless
    `use_cache` is False; returns the run summary (also runs/<run id>.json), None when the run
    never reached ML Metadata. `config_file` and `overrides` made `config`: the run records them
    (pipeline/inspect/run_made.py)."""
    from pipeline.inspect.run_made import run_made
    from pipeline.local.preflight import check_inputs

    data_dir = data_dir if is_uri(data_dir) else os.path.abspath(data_dir)
    layout = dataclasses.replace(layout, output_dir=layout.output_dir.absolute())
    beam_args = [*config.beam.pipeline_args, *beam_args]
    check_inputs(
        config, data_dir, beam_args, layout, with_data=partial is None or partial.reads_data
    )  # first: a refused run leaves no output dir
    made = run_made(runner, beam_args, config_file, overrides, data_dir, config.as_dict())
    try:
        layout.output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # e.g. a parent that takes no folders (/proc), read-only, not a folder
        raise PipelineError(f"--output-dir {layout.output_dir}: cannot make this folder ({error})") from None
    with OutputDirLock(layout.output_dir):
        enable_s3()
        _recover(layout)
        run_id = new_run_id()
        ir = _compile(config, data_dir, layout, beam_args, run_id, use_cache)
        log_path = layout.run_file(run_id, ".log")
        log.info("Run %s of pipeline '%s' (full log: %s)", run_id, config.pipeline_name, log_path)
        with (
            RunLog(log_path) as run_log,
            ComponentProgress() as progress,
            _signals_as_exceptions(progress),
            _beam_packaging(beam_args),
        ):
            try:
                _dag_runner(
                    runner, on_local_disk=not any(map(is_uri, (data_dir, layout.pipeline_root, layout.serving_dir)))
                ).run_with_ir(ir, run_options=_run_options(partial))
            except BaseException as error:
                # The DAG runner has ended the run's executors: what is recorded now is what happened.
                run_log.write_traceback(error)
                _mark_interrupted(layout, run_log)
                _write_summary_after_failure(layout, run_id, run_log, made)
                raise _run_error(error, log_path, progress.current, layout.metadata_path) from error
            return _write_summary(layout, run_id, made)


def _run_error(error: BaseException, log_path: Path, running: str | None, store: Path) -> BaseException:
    """What a run that stopped raises: the interrupt, or bad input or settings as they are (their
    line names the file or setting), else RunFailed naming the component and the log."""
    from pipeline.local.executor_processes import WorkerDied  # loads TFX: imported once a run has run

    if isinstance(error, RunInterrupted) or (isinstance(error, PipelineError) and not isinstance(error, WorkerDied)):
        return error
    return RunFailed(log_path, error.component if isinstance(error, WorkerDied) else running, store)


def push_run(config: PipelineConfig, layout: OutputLayout, run_reference: str) -> RunSummary | None:
    """`mnist-pipeline push RUN`: a partial run (push_of) from RUN's Examples and model, checked
    as a run's push is: compared with the model served now, pushed only if blessed."""
    from pipeline.inspect import runs, store
    from pipeline.inspect.states import FINISHED

    metadata = store.open_store(layout.metadata_path)
    run = runs.load(metadata, store.find_run(metadata, run_reference))
    finished = {execution.node_id: execution for execution in run.executions if execution.status in FINISHED}
    for needed in (node_ids.INGEST, node_ids.TRAINER):
        if needed not in finished:
            raise PipelineError(f"run {run.id}: its {needed} did not finish, so it has no model to push")
    data_dir = finished[node_ids.INGEST].parameters["input_base"]  # not read: recorded as the run's
    return run_pipeline(config, data_dir, layout, beam_args=[], partial=push_of(run.id))


def _recover(layout: OutputLayout) -> None:
    """Puts right what runs that did not finish left (pipeline/local/recovery.py); the lock is held."""
    from pipeline.inspect import interrupted
    from pipeline.local import recovery

    recovery.claim_pipeline_root(layout.pipeline_root, layout.metadata_path)
    store = interrupted.open_writable(layout.metadata_path) if layout.metadata_path.exists() else None
    left_running = interrupted.mark_interrupted(store) if store else []
    if left_running:
        log.info("Recorded %d execution(s) left running by a run that was killed as interrupted", len(left_running))
    for destination in recovery.mark_removed_pushes(store) if store else []:
        log.info("%s was pushed, and is no longer in the serving dir: the model will be pushed again", destination)
    previous = recovery.previous_serving_dir(store) if store else None
    if previous and os.path.normpath(previous) != os.path.normpath(layout.serving_dir):
        log.warning(
            "warning: the serving dir is %s, not %s as in the previous run of this output dir: the "
            "blessing compares with what %s serves",
            layout.serving_dir,
            previous,
            layout.serving_dir,
        )
    serving_dirs = [layout.serving_dir, *([previous] if previous else [])]
    cleanup = recovery.remove_unrecorded(layout.pipeline_root, store, serving_dirs, [str(layout.output_dir)])
    if cleanup.removed:
        log.info(
            "Removed %d artifact folder(s) that no record names (left by a run that was killed, or by a "
            "metadata store that is gone): %s",
            len(cleanup.removed),
            ", ".join(cleanup.removed),
        )
    if cleanup.kept:
        log.info(
            "Kept %d folder(s) that no record names, as they are in or hold a serving dir, or hold the output dir: %s",
            len(cleanup.kept),
            ", ".join(cleanup.kept),
        )


def _mark_interrupted(layout: OutputLayout, run_log: RunLog) -> None:
    """After a run stopped: what it left running was interrupted (no other run holds this store).
    A store that cannot be written now (a full disk) is left as it is: the next run's recovery
    records it so (_recover); the run's error matters more."""
    from pipeline.inspect import interrupted

    if not layout.metadata_path.exists():
        return
    try:
        interrupted.mark_interrupted(interrupted.open_writable(layout.metadata_path))
    except Exception as error:  # noqa: BLE001 - see the docstring; the traceback goes to the log
        run_log.write_traceback(error)


def _compile(
    config: PipelineConfig, data_dir: str, layout: OutputLayout, beam_args: list[str], run_id: str, use_cache: bool
):
    """The pipeline's IR with the run id set (the runners would otherwise each pick a format of their own)."""
    from tfx.dsl.compiler import compiler, constants
    from tfx.orchestration import metadata
    from tfx.orchestration.portable import runtime_parameter_utils

    from pipeline.pipeline import PipelinePaths, create_pipeline

    paths = PipelinePaths(
        data_dir=data_dir,
        pipeline_root=layout.pipeline_root,
        serving_dir=layout.serving_dir,
        schema_file=str(stage_schema(config.validation.schema_path, layout.schemas_dir)),
    )
    tfx_pipeline = create_pipeline(
        config,
        paths,
        beam_pipeline_args=[*beam_args, BEAM_WORKER_PLUGIN_ARG],
        metadata_connection_config=metadata.sqlite_metadata_connection_config(str(layout.metadata_path)),
        enable_cache=use_cache,
    )
    ir = compiler.Compiler().compile(tfx_pipeline)
    runtime_parameter_utils.substitute_runtime_parameter(ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
    return ir


def _run_options(partial: PartialRun | None):
    """TFX's RunOptions for a partial run; None for a whole run."""
    if partial is None:
        return None
    from tfx.proto.orchestration import pipeline_pb2

    options = pipeline_pb2.RunOptions()
    options.partial_run.from_nodes.extend(partial.from_nodes)
    options.partial_run.to_nodes.extend(partial.to_nodes)
    snapshot = options.partial_run.snapshot_settings
    if partial.base_run_id:
        snapshot.base_pipeline_run_strategy.base_run_id = partial.base_run_id
    else:
        snapshot.latest_pipeline_run_strategy.SetInParent()
    return options


def _write_summary(layout: OutputLayout, run_id: str, made: RunMade) -> RunSummary | None:
    """Records how run `run_id` was made, prints its summary and writes it as JSON; None when MLMD
    never recorded the run."""
    from pipeline.inspect import run_made, runs, store
    from pipeline.inspect.run_summary import format_summary, summarize

    if not layout.metadata_path.exists():
        return None
    run_made.record(layout.metadata_path, run_id, made)
    metadata = store.open_store(layout.metadata_path)
    context = store.find_run_context(metadata, run_id)
    if context is None:
        return None
    run = runs.load(metadata, context)
    summary = summarize(run)
    summary_path = layout.run_file(run_id, ".json")
    summary_path.write_text(json.dumps(summary.to_json(), indent=2) + "\n")
    log.info("%s\nSummary: %s", format_summary(summary), summary_path)
    _write_report(run, layout)
    _link_training_logs(run, layout)
    return summary


def _link_training_logs(run, layout: OutputLayout) -> None:
    """tensorboard/<run id> -> the ModelRun folder of the model this run trained, which holds its
    TensorBoard logs (`train` and `validation`), so that `tensorboard --logdir outputs/tensorboard`
    names each curve by its run, not by an execution id. A run whose Trainer was cached trained
    nothing (its curves are under the run that did)."""
    from pipeline.inspect.states import ComponentStatus

    trainer = run.execution(node_ids.TRAINER)
    if trainer is None or trainer.status != ComponentStatus.RAN or not trainer.outputs.get("model_run"):
        return
    logs = trainer.outputs["model_run"][0].uri
    if is_uri(logs):
        return  # no link into object storage; TensorBoard reads it there
    layout.tensorboard_dir.mkdir(exist_ok=True)
    link = layout.tensorboard_dir / run.id
    if not link.is_symlink():
        link.symlink_to(logs, target_is_directory=True)


def _write_report(run, layout: OutputLayout) -> None:
    """Writes the run's HTML page (pipeline/inspect/run_page/). A report that fails costs one line on
    the console, never the run: the run's outcome is already recorded."""
    from pipeline.inspect.run_page.page import write_report

    try:
        path = write_report(run, layout)
    except Exception as error:  # noqa: BLE001 - see the docstring
        log.warning("Report not written: %s: %s", type(error).__name__, (str(error).strip() or "-").splitlines()[0])
        return
    log.info("Report: %s", path)


def _write_summary_after_failure(
    layout: OutputLayout, run_id: str, run_log: RunLog, made: RunMade
) -> RunSummary | None:
    """A failed run gets its summary too (which component failed, what ran before), unless the
    fault that stopped it (a full disk, a dead store) stops that as well: its error matters more."""
    try:
        return _write_summary(layout, run_id, made)
    except Exception as error:  # noqa: BLE001 - see the docstring; the traceback goes to the log
        run_log.write_traceback(error)
        return None


def _dag_runner(runner: str, on_local_disk: bool):
    """The runner `runner` names. Executors run in processes of their own only when every path is
    on local disk: this process has read gs:// or s3:// paths by then (the checks, the recovery),
    and the clients of TensorFlow's file systems, with their thread pools, do not survive a fork
    (an S3 copy in a forked worker waits forever)."""
    if runner == "beam":
        from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

        # No arguments: given beam_orchestrator_args, TFX falls back to its legacy, pre-IR runner.
        return BeamDagRunner()
    from pipeline.local.concurrent_dag_runner import ConcurrentDagRunner

    # Forked workers are Linux's (prctl; macOS's system libraries are not fork-safe).
    return ConcurrentDagRunner(executors_in_processes=on_local_disk and sys.platform.startswith("linux"))


@contextlib.contextmanager
def _beam_packaging(beam_args: list[str]) -> Iterator[None]:
    """TFX's Beam executors package TFX as an sdist for remote Beam workers to install (a copy of
    TFX and `setup.py sdist`, for each Beam component of a run: docs/performance.md). Beam's
    DirectRunner, and any runner whose workers are this process (--environment_type=LOOPBACK),
    never read it: no package is made. For other runners the package is built once per TFX code
    (tfx_package_cache) and reused by every step of every run after; builds are one at a time:
    each chdir()s the process into its own temp dir, so two at once break each other."""
    from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions, StandardOptions
    from tfx.utils import dependency_utils

    options = PipelineOptions(beam_args)
    original = dependency_utils.make_beam_dependency_flags, dependency_utils.build_ephemeral_package
    if options.view_as(StandardOptions).runner in (None, "DirectRunner", "direct") or (
        options.view_as(PortableOptions).environment_type == "LOOPBACK"
    ):
        dependency_utils.make_beam_dependency_flags = lambda args: args
    else:
        one_at_a_time = threading.Lock()

        def build_once() -> str:
            with one_at_a_time:
                return _cached_tfx_package(original[1])

        dependency_utils.build_ephemeral_package = build_once
    try:
        yield
    finally:
        dependency_utils.make_beam_dependency_flags, dependency_utils.build_ephemeral_package = original


def tfx_package_cache() -> Path:
    """Where the TFX packages for Beam workers are kept, one a TFX code version: the user's cache."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mnist-pipeline" / "tfx-packages"


def _cached_tfx_package(build: Callable[[], str]) -> str:
    """The sdist `build` makes of the installed TFX, from the cache if it holds one for this TFX
    code (the hash of its installed files' list with their hashes, pip's RECORD); a new one is
    moved in whole, so a build cut short leaves nothing to reuse."""
    import hashlib
    import importlib.metadata
    import shutil
    import tempfile

    record = importlib.metadata.distribution("tfx").read_text("RECORD") or ""
    folder = tfx_package_cache() / hashlib.sha256(record.encode()).hexdigest()[:16]
    cached = sorted(folder.glob("*.tar.gz"))
    if cached:
        return str(cached[0])
    built = Path(build())
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent))
    shutil.copy(built, staging / built.name)
    try:
        staging.rename(folder)
    except OSError:  # another run moved its copy in first: the same code, the same package
        shutil.rmtree(staging)
    return str(next(folder.glob("*.tar.gz")))


@contextlib.contextmanager
def _signals_as_exceptions(progress: ComponentProgress) -> Iterator[None]:
    """While a run runs, SIGINT and SIGTERM raise RunInterrupted naming the running component;
    once: a second signal would cut short the ending of the executors and the recording of what
    they did (bounded: pipeline/local/concurrent_dag_runner.py _stop)."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return
    interrupted = False

    def interrupt(signal_number: int, frame) -> None:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            raise RunInterrupted(signal_number, progress.current)

    previous = {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
