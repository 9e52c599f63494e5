"""Runs the pipeline on this machine: MLMD in SQLite, the Beam components on Beam's DirectRunner,
the DAG on this project's ConcurrentDagRunner (TFX's LocalDagRunner running the components whose
inputs are ready at the same time: pipeline/local/concurrent_dag_runner.py).

run_pipeline is the sequence: preflight checks, the output dir's lock, the recovery of what runs
that did not finish left, the compiled pipeline run, and the finished run handed to inspect/.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from components.errors import PipelineError
from components.object_storage import enable_s3, is_uri
from pipeline import node_ids
from pipeline.config import PipelineConfig
from pipeline.inspect import finished_run, store
from pipeline.inspect.run_made import RunMade, run_made
from pipeline.inspect.run_summary import RunSummary
from pipeline.inspect.states import FINISHED
from pipeline.local import preflight, recovery, store_writes
from pipeline.local.partial_run import PartialRun, push_of
from pipeline.local.run_log import ComponentProgress, RunLog
from pipeline.local.stopping import run_error, signals_as_exceptions
from pipeline.output_dir import OutputDirLock, OutputLayout

log = logging.getLogger(__name__)


def new_run_id() -> str:
    """The run's id in MLMD and the name of its files: local time to the microsecond."""
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")


def run_pipeline(
    config: PipelineConfig,
    data_dir: str,
    layout: OutputLayout,
    beam_args: list[str],
    partial: PartialRun | None = None,
    use_cache: bool = True,
    config_file: Path | None = None,
    overrides: Sequence[str] = (),
) -> RunSummary | None:
    """Runs the pipeline once, or the part of it `partial` says, reusing cached results unless
    `use_cache` is False; returns the run summary (also runs/<run id>.json), None when the run
    never reached ML Metadata. `config_file` and `overrides` made `config`: the run records them
    (pipeline/inspect/run_made.py)."""
    data_dir = data_dir if is_uri(data_dir) else os.path.abspath(data_dir)
    layout = dataclasses.replace(layout, output_dir=layout.output_dir.absolute())
    beam_args = [*config.beam.pipeline_args, *beam_args]
    with_data = partial is None or partial.reads_data
    preflight.check_inputs(config, data_dir, beam_args, layout, with_data)  # first: a refused run leaves no output dir
    made = run_made(beam_args, config_file, overrides, data_dir, config.as_dict())
    with OutputDirLock(layout.output_dir):
        enable_s3()
        recovery.recover(layout)
        # TFX and TensorFlow, a slow import (docs/performance.md, "Where the time goes"): loaded
        # when a run starts, not by every importer of this module.
        from pipeline.local import dag

        run_id = new_run_id()
        ir = dag.compile_pipeline(config, data_dir, layout, beam_args, run_id, use_cache)
        log_path = layout.run_file(run_id, ".log")
        log.info("Run %s of pipeline '%s' (full log: %s)", run_id, config.pipeline_name, log_path)
        with RunLog(log_path) as run_log, ComponentProgress() as progress, signals_as_exceptions(progress):
            try:
                dag.run(ir, partial, beam_args, [data_dir, layout.pipeline_root, layout.serving_dir])
            except BaseException as error:
                # The DAG runner has ended the run's executors: what is recorded now is what happened.
                run_log.write_traceback(error)
                _hand_over_after_failure(layout, run_id, made, run_log)
                raise run_error(error, log_path, progress.current, layout.metadata_path) from error
            return _hand_over(layout, run_id, made)


def push_run(config: PipelineConfig, layout: OutputLayout, run_reference: str) -> RunSummary | None:
    """`mnist-pipeline push RUN`: a partial run (push_of) from RUN's Examples and model, checked
    as a run's push is: compared with the model served now, pushed only if blessed."""
    mlmd = store.open_store(layout.metadata_path)
    run = store.find_run(mlmd, run_reference)
    finished = {e.node_id: e for e in store.run_executions(mlmd, run) if e.status in FINISHED}
    for needed in (node_ids.INGEST, node_ids.TRAINER):
        if needed not in finished:
            raise PipelineError(f"run {run.name}: its {needed} did not finish, so it has no model to push")
    data_dir = finished[node_ids.INGEST].parameters["input_base"]  # not read: recorded as the run's
    return run_pipeline(config, data_dir, layout, beam_args=[], partial=push_of(run.name))


def _hand_over(layout: OutputLayout, run_id: str, made: RunMade) -> RunSummary | None:
    """Records how the run was made, then hands it to inspect/ for its summary, report and links."""
    if layout.metadata_path.exists():
        store_writes.record_run_made(layout.metadata_path, run_id, made)
    return finished_run.write_results(layout, run_id)


def _hand_over_after_failure(layout: OutputLayout, run_id: str, made: RunMade, run_log: RunLog) -> None:
    """After a run stopped: what it left running was interrupted (no other run holds this store),
    and it is handed over too (which component failed, what ran before)."""
    with _traceback_to(run_log):
        if layout.metadata_path.exists():
            store_writes.mark_interrupted(store_writes.open_writable(layout.metadata_path))
    with _traceback_to(run_log):
        _hand_over(layout, run_id, made)


@contextlib.contextmanager
def _traceback_to(run_log: RunLog) -> Iterator[None]:
    """A fault inside goes to the run's log only: after a run stopped, the fault that stopped it
    (a full disk, a dead store) may stop what follows as well, and its error matters more; what
    the run left running is then recorded by the next run's recovery."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - see the docstring
        run_log.write_traceback(error)
