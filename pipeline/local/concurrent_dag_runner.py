"""TFX's LocalDagRunner, running the components whose inputs are ready at the same time.

LocalDagRunner launches one component after another (its own TODO, b/171319478, asks for
more); here the two Evaluators, which need only the Trainer's model, run side by side on the
machine's cores. Each component still runs through TFX's own Launcher (driver, cache lookup,
publishing to MLMD) in a thread of this process, so what is recorded is what LocalDagRunner
records; its executor runs in a worker process (pipeline/local/executor_processes.py), one per
core, since threads share one interpreter lock (in the launcher's thread where a fork is not
safe: components/workarounds.py executors_can_fork). SQLite takes one writer at a time, so the
launchers' MLMD steps take turns; the executors do not.

An interrupt ends the run's executors before the run records and reports it (`_stop`): what
runs in a worker process is killed, and a launcher records nothing once its run has stopped, so
that the store says what the console says. A Pusher that has begun to publish ends first and is
recorded (components/interruption.py): no push after "interrupted", none left unrecorded.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import threading

from tfx.orchestration import metadata
from tfx.orchestration.local import runner_utils
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.portable import launcher, partial_run_utils
from tfx.proto.orchestration import pipeline_pb2

from components import interruption
from pipeline import node_ids
from pipeline.local import run_log
from pipeline.local.executor_processes import ExecutorProcesses, executor_processes, operators

log = logging.getLogger(__name__)
_RECORD_SECONDS = 60  # for the launchers of the components an interrupt ended to finish


class _TakingTurnsMetadata(metadata.Metadata):
    """An MLMD connection that holds a process-wide lock while it is open, and opens no more once
    its run has `stopped`: what a component still running would record then came after the run
    said it was interrupted."""

    _lock = threading.RLock()

    def __init__(self, connection_config, stopped: threading.Event):
        super().__init__(connection_config)
        self._stopped = stopped

    def __enter__(self) -> metadata.Metadata:
        self._lock.acquire()
        try:
            if self._stopped.is_set():
                raise interruption.Interrupted("the run was interrupted: its components record nothing more")
            return super().__enter__()
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, *exc_info) -> None:
        try:
            super().__exit__(*exc_info)
        finally:
            self._lock.release()


class ConcurrentDagRunner(LocalDagRunner):
    """Runs the pipeline's IR locally, each component as soon as its upstream components are done."""

    def __init__(self, max_workers: int | None = None, executors_in_processes: bool = True):
        """`executors_in_processes`: False runs each executor in its launcher's thread, for a run
        whose process holds what does not survive a fork (components/workarounds.py executors_can_fork)."""
        super().__init__()
        self._max_workers = max_workers or len(os.sched_getaffinity(0))
        self._executors_in_processes = executors_in_processes

    def run_with_ir(self, pipeline: pipeline_pb2.Pipeline, run_options: pipeline_pb2.RunOptions | None = None) -> None:
        """Runs the IR; its run id must already be set (pipeline/local/dag.py sets it)."""
        if run_options:
            partial_run = run_options.partial_run
            partial_run_utils.mark_pipeline(
                pipeline,
                from_nodes=partial_run.from_nodes or None,
                to_nodes=partial_run.to_nodes or None,
                snapshot_settings=partial_run.snapshot_settings,
            )
        nodes = {node.pipeline_node.node_info.id: node.pipeline_node for node in pipeline.nodes}
        skipped = {node_id for node_id, node in nodes.items() if node.execution_options.HasField("skip")}
        waiting = {
            node_id: set(node.upstream_nodes) - skipped for node_id, node in nodes.items() if node_id not in skipped
        }
        in_processes = self._executors_in_processes
        # To the run's log, not the console.
        logging.getLogger("absl").info(
            "Executors run %s", "in worker processes" if in_processes else "in the components' threads"
        )
        interruption.start()
        stopped = threading.Event()  # set once the run stopped: its launchers record nothing more
        # Forked before any component runs: no thread of ours is running yet.
        with executor_processes(self._max_workers) if in_processes else contextlib.nullcontext() as workers:
            pool = concurrent.futures.ThreadPoolExecutor(self._max_workers, thread_name_prefix="component")
            running: dict[concurrent.futures.Future, str] = {}
            done: set[str] = set()
            try:
                while waiting or running:
                    for node_id in [node_id for node_id, upstream in waiting.items() if upstream <= done]:
                        del waiting[node_id]
                        running[pool.submit(_launch, pipeline, nodes[node_id], workers, stopped)] = node_id
                    finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                    for future in finished:
                        if future.exception() is not None:
                            # What already runs ends and is recorded, then the error. Only for a failed
                            # component: an interrupt (RunInterrupted, raised in this thread) waits for nothing.
                            concurrent.futures.wait(running)
                        future.result()  # a failed component stops the run with its error
                        done.add(running.pop(future))
            except BaseException as error:
                _stop(running, workers, stopped)
                if not _all_finished(len(nodes) - len(skipped), done, running):
                    raise
                # An interrupt that came as the last components ended (a push under way ends
                # first): the run is complete, and says so.
                logging.getLogger("absl").info("The interrupt (%r) came as the run's last components ended", error)
            finally:
                pool.shutdown(wait=False, cancel_futures=True)  # nothing new starts


def _all_finished(nodes: int, done: set[str], running: dict[concurrent.futures.Future, str]) -> bool:
    """Whether all `nodes` of the run ran and ended well: those done, and those that ran when the
    interrupt came, each finished without an error (a component failed: the run failed)."""
    ended_well = all(future.done() and not future.cancelled() and future.exception() is None for future in running)
    return ended_well and len(done) + len(running) == nodes


def _stop(
    running: dict[concurrent.futures.Future, str], workers: ExecutorProcesses | None, stopped: threading.Event
) -> None:
    """After an interrupt (or a failure: nothing runs then), before the run records and reports:
    no publish begins; the executors in worker processes are ended, and their launchers end at
    once, recording nothing (interruption.Interrupted); an executor in a thread cannot be ended,
    so only a Pusher that has published is waited for, to record its push. Then no launcher
    records anything more: the run records what they left running as interrupted."""
    published = interruption.stop()
    if workers is not None:
        workers.stop()
    ending = [
        future
        for future, node_id in running.items()
        if workers is not None or (published and node_id == node_ids.PUSHER)
    ]
    concurrent.futures.wait(ending, timeout=_RECORD_SECONDS)
    with _TakingTurnsMetadata._lock:  # a record being written is finished first
        stopped.set()


def _launch(
    pipeline: pipeline_pb2.Pipeline,
    node: pipeline_pb2.PipelineNode,
    workers: ExecutorProcesses | None,
    stopped: threading.Event,
) -> None:
    """Runs one component through TFX's Launcher, its executor in one of `workers` (None: in this
    thread), its records refused once `stopped` is set."""
    deployment_config = runner_utils.extract_local_deployment_config(pipeline)
    connection = deployment_config.metadata_connection_config
    connection_config = getattr(connection, connection.WhichOneof("connection_config"))
    node_id = node.node_info.id
    if node.execution_options.run.perform_snapshot:
        with _TakingTurnsMetadata(connection_config, stopped) as handle:
            partial_run_utils.snapshot(handle, pipeline)
    component_launcher = launcher.Launcher(
        pipeline_node=node,
        mlmd_connection=_TakingTurnsMetadata(connection_config, stopped),
        pipeline_info=pipeline.pipeline_info,
        pipeline_runtime_spec=pipeline.runtime_spec,
        executor_spec=runner_utils.extract_executor_spec(deployment_config, node_id),
        custom_driver_spec=runner_utils.extract_custom_driver_spec(deployment_config, node_id),
        custom_executor_operators=operators(workers) if workers else None,
    )
    logging.getLogger("absl").info(run_log.STARTED, node_id)
    component_launcher.launch()
    logging.getLogger("absl").info(run_log.FINISHED, node_id)
