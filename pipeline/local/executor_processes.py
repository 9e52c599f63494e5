"""Worker processes that run the components' executors, so that components side by side use the cores.

Threads of one process share one interpreter lock, and an executor's work (Beam's bundles,
TFMA's per-example metrics) is mostly Python: the two Evaluators, side by side in threads, took
as long as one after the other. So the ConcurrentDagRunner keeps in its own process what TFX's
Launcher does around an executor (the driver, the cache lookup, ML Metadata) and hands the
executor itself to one of these processes, the way TFX hands it to a binary of its own
(tfx/orchestration/python_execution_binary): the ExecutionInvocation proto in, TFX's own
executor operator run on it (python_executor_operator_dispatcher.run_executor), the
ExecutorOutput proto back.

The processes are forked when the run starts, before any executor has run: they start with
TFX and TensorFlow imported (no start-up of their own) and TensorFlow's runtime not yet started
(it does not survive a fork: components/workarounds.py executors_can_fork). Each ignores the
terminal's interrupt, which the run's process handles, and dies with the run's process
(PR_SET_PDEATHSIG), so that nothing writes into the output dir once the run that owns it is
gone. An interrupted run ends them itself (`stop`) before it records and reports anything: an
executor still running then would finish, or be killed, after the run said it was interrupted.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import signal
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from tfx.orchestration.portable import base_executor_operator, data_types
from tfx.orchestration.python_execution_binary import python_executor_operator_dispatcher
from tfx.proto.orchestration import executable_spec_pb2, execution_invocation_pb2, execution_result_pb2

from components import interruption
from pipeline.local.stopping import WorkerDied

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_STOP_SECONDS = 5  # for a worker to exit once told to, before it is killed
_MAX_CAUSES = 20  # of an executor's error sent back (a cycle of causes ends there)


class ExecutorProcesses:
    """`count` forked worker processes; `run` gives an executor to an idle one and waits for it."""

    def __init__(self, count: int):
        context = multiprocessing.get_context("fork")
        # The objects alive now (the imports, most of them) stay out of the garbage collector's
        # sweeps while the workers live: a sweep writes to each object it visits, which copies
        # the pages the workers share with this process.
        gc.collect()
        gc.freeze()
        # An idle worker, or None once stop() was called (it wakes a `run` waiting for one).
        self._idle: queue.Queue[tuple[multiprocessing.process.BaseProcess, Connection] | None] = queue.Queue()
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._stopping = False
        parent_pid = os.getpid()
        ends: list[Connection] = []  # this process's ends: a worker closes its copies, or its recv() never ends
        for number in range(count):
            ours, theirs = context.Pipe()
            ends.append(ours)
            worker = context.Process(
                target=_serve, args=(theirs, ends, parent_pid), name=f"executor-{number + 1}", daemon=True
            )
            worker.start()
            theirs.close()
            self._processes.append(worker)
            self._idle.put((worker, ours))

    def run(
        self,
        executable_spec: executable_spec_pb2.PythonClassExecutableSpec | executable_spec_pb2.BeamExecutableSpec,
        execution_info: data_types.ExecutionInfo,
    ) -> execution_result_pb2.ExecutorOutput:
        """Runs the executor in a worker; its error, with its causes, is raised here, and
        interruption.Interrupted once stop() has ended or refused it."""
        component = execution_info.pipeline_node.node_info.id
        taken = self._idle.get()
        if taken is None or self._stopping:  # a worker that stop() ends after this point fails the send or recv
            self._idle.put(taken)  # for the next waiter
            raise interruption.Interrupted(f"{component}: the run was interrupted before its executor started")
        worker, connection = taken
        try:
            connection.send((executable_spec, execution_info.to_proto()))
            outcome, value = connection.recv()
        except (EOFError, OSError) as error:
            worker.join(_STOP_SECONDS)
            if self._stopping:
                raise interruption.Interrupted(f"{component}: its executor was ended by the interrupt") from error
            raise WorkerDied(component, worker.exitcode) from error
        self._idle.put((worker, connection))
        if outcome == "error":
            for raised, cause in zip(value, value[1:]):
                raised.__cause__ = cause
            raise value[0]
        return value

    def stop(self) -> None:
        """Ends every worker now (the run was interrupted), the busy ones too: SIGTERM, resumed
        first if stopped (SIGSTOP), then SIGKILL for one still alive after _STOP_SECONDS. A Pusher
        that has begun to publish holds SIGTERM off until its output is sent back, so that its
        push is recorded (components/interruption.py). No executor starts afterwards."""
        self._stopping = True
        self._idle.put(None)
        for worker in self._processes:
            if worker.pid and worker.exitcode is None:  # not reaped: its pid is still its own
                worker.terminate()
                os.kill(worker.pid, signal.SIGCONT)
        self._reap()

    def close(self) -> None:
        """Ends the workers once the run is over: each exits when its connection closes; one that
        does not within _STOP_SECONDS (stopped, say) is killed."""
        idle = []
        with contextlib.suppress(queue.Empty):
            while True:
                idle.append(self._idle.get_nowait())
        for taken in idle:
            if taken is not None:
                taken[1].close()  # the worker's recv() ends, and so does the worker
        self._reap()
        gc.unfreeze()

    def _reap(self) -> None:
        """Waits up to _STOP_SECONDS for the workers to exit, kills those that did not, and joins them."""
        deadline = time.monotonic() + _STOP_SECONDS
        alive = [worker for worker in self._processes if worker.exitcode is None]
        while alive and time.monotonic() < deadline:
            multiprocessing.connection.wait([worker.sentinel for worker in alive], deadline - time.monotonic())
            alive = [worker for worker in alive if worker.exitcode is None]
        for worker in alive:
            worker.kill()  # SIGKILL ends a stopped process too
        for worker in self._processes:
            worker.join()


@contextlib.contextmanager
def executor_processes(count: int) -> Iterator[ExecutorProcesses]:
    workers = ExecutorProcesses(count)
    try:
        yield workers
    finally:
        workers.close()


class InWorkerOperator(base_executor_operator.BaseExecutorOperator):
    """An executor operator for TFX's Launcher that runs Python and Beam executors in `workers`."""

    SUPPORTED_EXECUTOR_SPEC_TYPE = [
        executable_spec_pb2.PythonClassExecutableSpec,
        executable_spec_pb2.BeamExecutableSpec,
    ]
    SUPPORTED_PLATFORM_CONFIG_TYPE: list[Any] = []

    def __init__(self, executor_spec: Any, platform_config: Any = None, *, workers: ExecutorProcesses):
        super().__init__(executor_spec, platform_config)
        self._workers = workers

    def run_executor(self, execution_info: data_types.ExecutionInfo) -> execution_result_pb2.ExecutorOutput:
        return self._workers.run(self._executor_spec, execution_info)


def operators(workers: ExecutorProcesses) -> dict[Any, Any]:
    """TFX Launcher's custom_executor_operators: Python and Beam executors run in `workers`."""
    return {
        spec_type: functools.partial(InWorkerOperator, workers=workers)
        for spec_type in InWorkerOperator.SUPPORTED_EXECUTOR_SPEC_TYPE
    }


def _serve(connection: Connection, parent_ends: list[Connection], parent_pid: int) -> None:
    """A worker's life: executors, one at a time, until the run's process closes the connection."""
    for end in parent_ends:
        end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    interruption.in_worker()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the run's process died before prctl
        return
    while True:
        try:
            executable_spec, invocation = connection.recv()
        except EOFError:
            return
        try:
            connection.send(_run(executable_spec, invocation))
        except OSError:  # the run's process is gone or gave up on this worker: nobody to tell
            return
        # A publish blocks SIGTERM (components/interruption.py): one that came meanwhile ends the
        # worker here, now that the run has the executor's output.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        # What the executor freed goes back to the system: the workers' memory adds up.
        libc.malloc_trim(0)


def _run(executable_spec: Any, invocation: execution_invocation_pb2.ExecutionInvocation) -> tuple[str, Any]:
    """("ok", the ExecutorOutput), or ("error", the error and its causes, outermost first): what
    the run reports names the cause (pipeline/cli.py describe_fault). The full traceback goes
    to the run's log from here, where it happened."""
    try:
        execution_info = data_types.ExecutionInfo.from_proto(invocation)
        return "ok", python_executor_operator_dispatcher.run_executor(executable_spec, execution_info)
    except Exception as error:  # every error goes back to the run, which reports it
        logging.getLogger("absl").exception("The executor of %s failed", invocation.pipeline_node.node_info.id)
        chain: list[BaseException] = []
        link: BaseException | None = error
        while link is not None and len(chain) < _MAX_CAUSES:
            chain.append(_sendable(link))
            link = link.__cause__ or link.__context__
        return "error", chain


def _sendable(error: BaseException) -> BaseException:
    """`error` if it survives pickling, else the nearest of its classes that does, with its message."""
    for kind in type(error).__mro__:
        try:
            candidate = error if kind is type(error) else kind(str(error))
            pickle.loads(pickle.dumps(candidate))
            return candidate
        except Exception:  # noqa: BLE001 (a class that cannot be rebuilt from its message: try its base)
            continue
    return RuntimeError(str(error))
