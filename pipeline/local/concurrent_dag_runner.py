"""TFX's LocalDagRunner, running the components whose inputs are ready at the same time.

LocalDagRunner launches one component after another (its own TODO, b/171319478, asks for
more); here the two Evaluators, which need only the Trainer's model, run side by side on the
machine's cores. Each component still runs through TFX's own Launcher (driver, cache lookup,
publishing to MLMD) in a thread of this process, so what is recorded is what LocalDagRunner
records; its executor runs in a worker process (pipeline/local/executor_processes.py), one per
core, since threads share one interpreter lock (in the launcher's thread when a path is on object
storage: see pipeline/local/runner.py _dag_runner). SQLite takes one writer at a time, so the
launchers' MLMD steps take turns; the executors do not.
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

from pipeline.local.executor_processes import ExecutorProcesses, executor_processes, operators, tensorflow_started

log = logging.getLogger(__name__)


class _TakingTurnsMetadata(metadata.Metadata):
    """An MLMD connection that holds a process-wide lock while it is open."""

    _lock = threading.RLock()

    def __enter__(self) -> metadata.Metadata:
        self._lock.acquire()
        try:
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
        whose process holds what does not survive a fork (pipeline/local/runner.py)."""
        super().__init__()
        self._max_workers = max_workers or len(os.sched_getaffinity(0))
        self._executors_in_processes = executors_in_processes

    def run_with_ir(self, pipeline: pipeline_pb2.Pipeline, run_options: pipeline_pb2.RunOptions | None = None) -> None:
        """Runs the IR; its run id must already be set (pipeline/local/runner.py sets it)."""
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
        in_processes = self._executors_in_processes and not tensorflow_started()
        # To the run's log, not the console.
        logging.getLogger("absl").info(
            "Executors run %s", "in worker processes" if in_processes else "in the components' threads"
        )
        # Forked before any component runs: no thread of ours is running yet.
        with executor_processes(self._max_workers) if in_processes else contextlib.nullcontext() as workers:
            pool = concurrent.futures.ThreadPoolExecutor(self._max_workers, thread_name_prefix="component")
            running: dict[concurrent.futures.Future, str] = {}
            done: set[str] = set()
            try:
                while waiting or running:
                    for node_id in [node_id for node_id, upstream in waiting.items() if upstream <= done]:
                        del waiting[node_id]
                        running[pool.submit(_launch, pipeline, nodes[node_id], workers)] = node_id
                    finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                    for future in finished:
                        if future.exception() is not None:
                            # What already runs ends and is recorded, then the error. Only for a failed
                            # component: an interrupt (RunInterrupted, raised in this thread) waits for nothing.
                            concurrent.futures.wait(running)
                        future.result()  # a failed component stops the run with its error
                        done.add(running.pop(future))
            finally:
                # On a failure or an interrupt nothing new starts; a component already running ends
                # with the process, as it would under LocalDagRunner.
                pool.shutdown(wait=False, cancel_futures=True)


def _launch(
    pipeline: pipeline_pb2.Pipeline, node: pipeline_pb2.PipelineNode, workers: ExecutorProcesses | None
) -> None:
    """Runs one component through TFX's Launcher, its executor in one of `workers` (None: in this thread)."""
    deployment_config = runner_utils.extract_local_deployment_config(pipeline)
    connection = deployment_config.metadata_connection_config
    connection_config = getattr(connection, connection.WhichOneof("connection_config"))
    node_id = node.node_info.id
    if node.execution_options.run.perform_snapshot:
        with _TakingTurnsMetadata(connection_config) as handle:
            partial_run_utils.snapshot(handle, pipeline)
    component_launcher = launcher.Launcher(
        pipeline_node=node,
        mlmd_connection=_TakingTurnsMetadata(connection_config),
        pipeline_info=pipeline.pipeline_info,
        pipeline_runtime_spec=pipeline.runtime_spec,
        executor_spec=runner_utils.extract_executor_spec(deployment_config, node_id),
        custom_driver_spec=runner_utils.extract_custom_driver_spec(deployment_config, node_id),
        custom_executor_operators=operators(workers) if workers else None,
    )
    logging.getLogger("absl").info("Component %s is running.", node_id)
    component_launcher.launch()
    logging.getLogger("absl").info("Component %s is finished.", node_id)
