"""pipeline/local/executor_processes.py: executors run in forked worker processes, side by side,
and what they output, raise or suffer comes back to the run's process as it would in-process."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tfx.dsl.components.base import base_executor
from tfx.orchestration.portable import data_types
from tfx.proto.orchestration import executable_spec_pb2, pipeline_pb2
from tfx.types import standard_artifacts

from components import interruption
from components.errors import PipelineError
from pipeline.cli import describe_fault
from pipeline.local.executor_processes import ExecutorProcesses, executor_processes
from pipeline.local.stopping import RunFailed, WorkerDied

RENDEZVOUS_TIMEOUT_S = 60


class PidExecutor(base_executor.BaseExecutor):
    """Records the process it ran in on its output; with `rendezvous`, first waits until as many
    executors as the rendezvous names have started (each creates a file there)."""

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        rendezvous = exec_properties.get("rendezvous")
        if rendezvous:
            folder, expected = Path(rendezvous), int(exec_properties["expected"])
            (folder / str(os.getpid())).touch()
            deadline = time.monotonic() + RENDEZVOUS_TIMEOUT_S
            while len(list(folder.iterdir())) < expected and time.monotonic() < deadline:
                time.sleep(0.01)
        [output] = output_dict["out"]
        output.set_int_custom_property("pid", os.getpid())


class FaultyExecutor(base_executor.BaseExecutor):
    """Raises what `fault` names."""

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        fault = exec_properties["fault"]
        if fault == "pipeline_error":
            try:
                Path(exec_properties["path"]).read_bytes()  # raises: the file is not there
            except OSError as cause:
                raise TwoArgumentError(exec_properties["path"], "is not there") from cause
        if fault == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        raise ValueError("plain")


class BusyExecutor(base_executor.BaseExecutor):
    """Writes its process id to `started`, then runs until its process is ended."""

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        Path(exec_properties["started"]).write_text(str(os.getpid()))
        while True:
            time.sleep(0.05)


@pytest.fixture(autouse=True)
def a_run_starts():
    """Each test's workers start as a run's do, publishing allowed (components/interruption.py):
    a test or an in-process CLI run before it may have stopped this process's publishing, and
    the workers forked here inherit that state."""
    interruption.start()


class PublishingExecutor(base_executor.BaseExecutor):
    """Begins a publish (components/interruption.py) and writes its process id to `started`; ends
    once a SIGTERM came meanwhile (the run's interrupt), recording its process id as PidExecutor."""

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        with interruption.publishing():
            Path(exec_properties["started"]).write_text(str(os.getpid()))
            while signal.SIGTERM not in signal.sigpending():
                time.sleep(0.01)
        [output] = output_dict["out"]
        output.set_int_custom_property("pid", os.getpid())


class TwoArgumentError(PipelineError):
    """An error pickle cannot rebuild: its constructor takes two arguments, its args hold one."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")


def execution(
    tmp_path: Path, executor: type, component: str = "Trainer", **properties: Any
) -> tuple[Any, data_types.ExecutionInfo]:
    spec = executable_spec_pb2.PythonClassExecutableSpec(class_path=f"{__name__}.{executor.__name__}")
    output = standard_artifacts.String()
    output.uri = str(tmp_path / "out")
    info = data_types.ExecutionInfo(
        execution_id=1,
        output_dict={"out": [output]},
        exec_properties=properties,
        execution_output_uri=str(tmp_path / "executor_output.pb"),
        tmp_dir=str(tmp_path / "tmp") + "/",
        stateful_working_dir=str(tmp_path / "stateful"),
        pipeline_node=pipeline_pb2.PipelineNode(node_info=pipeline_pb2.NodeInfo(id=component)),
    )
    return spec, info


def started_busy(workers, tmp_path: Path, executor: type) -> tuple[concurrent.futures.Future, int]:
    """`executor` running in a worker, from a thread of this process (a daemon: a worker left
    running cannot hold up the test's end); returns once it has started, with its pid."""
    started = tmp_path / "started"
    running: concurrent.futures.Future = concurrent.futures.Future()

    def run() -> None:
        try:
            running.set_result(workers.run(*execution(tmp_path, executor, started=str(started))))
        except BaseException as error:  # noqa: BLE001 - interruption.Interrupted among them, for the test
            running.set_exception(error)

    threading.Thread(target=run, daemon=True).start()
    while not started.exists() or not started.read_text():
        assert not running.done(), running.exception()
        time.sleep(0.01)
    return running, int(started.read_text())


def output_pid(executor_output) -> int:
    [artifact] = executor_output.output_artifacts["out"].artifacts
    return artifact.custom_properties["pid"].int_value


def test_an_executor_runs_in_a_worker_and_its_outputs_come_back(tmp_path):
    with executor_processes(1) as workers:
        pid = output_pid(workers.run(*execution(tmp_path, PidExecutor)))
    assert pid != os.getpid()


def test_two_executors_run_side_by_side_in_two_processes(tmp_path):
    rendezvous = tmp_path / "started"
    rendezvous.mkdir()
    with executor_processes(2) as workers, concurrent.futures.ThreadPoolExecutor(2) as threads:
        runs = [
            threads.submit(
                workers.run,
                *execution(tmp_path / str(number), PidExecutor, rendezvous=str(rendezvous), expected=2),
            )
            for number in range(2)
        ]
        pids = {output_pid(run.result()) for run in runs}
    assert len(pids) == 2 and os.getpid() not in pids
    assert len(list(rendezvous.iterdir())) == 2  # each waited for the other: they ran at the same time


def test_an_executors_error_comes_back_with_its_causes_and_is_one_line(tmp_path):
    missing = tmp_path / "missing.idx"
    with executor_processes(1) as workers, pytest.raises(PipelineError) as raised:
        workers.run(*execution(tmp_path, FaultyExecutor, fault="pipeline_error", path=str(missing)))
    # TwoArgumentError cannot be rebuilt from its message: its nearest class that can, PipelineError.
    assert str(raised.value) == f"{missing}: is not there"
    assert isinstance(raised.value.__cause__, FileNotFoundError)
    failed = RunFailed(tmp_path / "run.log", "IdxExampleGen")
    failed.__cause__ = raised.value
    assert describe_fault(failed) == f"IdxExampleGen failed: {missing}: is not there (full log: {tmp_path}/run.log)"


def test_a_worker_serves_again_after_an_error(tmp_path):
    with executor_processes(1) as workers:
        with pytest.raises(ValueError, match="plain"):
            workers.run(*execution(tmp_path / "a", FaultyExecutor, fault="value_error"))
        assert output_pid(workers.run(*execution(tmp_path / "b", PidExecutor))) != os.getpid()


def test_a_worker_that_dies_is_one_clear_error_naming_the_component(tmp_path):
    with executor_processes(1) as workers, pytest.raises(WorkerDied) as raised:
        workers.run(*execution(tmp_path, FaultyExecutor, fault="die"))
    assert raised.value.component == "Trainer"
    failed = RunFailed(tmp_path / "run.log", raised.value.component)
    failed.__cause__ = raised.value
    assert describe_fault(failed) == (
        "Trainer failed: the process that ran its executor ended (exit code -9): killed, e.g. out of memory, "
        f"or crashed (full log: {tmp_path}/run.log)"
    )


def test_idle_workers_end_with_the_pool(tmp_path):
    workers = ExecutorProcesses(2)
    pids = [worker.pid for worker, _ in list(workers._idle.queue)]
    workers.close()
    assert not [pid for pid in pids if _alive(pid)]


@pytest.mark.parametrize("stopped", [False, True], ids=["running", "stopped with SIGSTOP"])
def test_an_interrupt_ends_a_busy_worker_and_its_executor_is_interrupted(tmp_path, stopped):
    with executor_processes(2) as workers:
        running, pid = started_busy(workers, tmp_path, BusyExecutor)
        if stopped:
            os.kill(pid, signal.SIGSTOP)  # a stopped worker would ignore SIGTERM until resumed
        workers.stop()
        assert not _alive(pid)
        with pytest.raises(interruption.Interrupted, match="Trainer: its executor was ended by the interrupt"):
            running.result()
        # Nothing starts after the interrupt (the other worker, idle, is ended too).
        with pytest.raises(interruption.Interrupted, match="before its executor started"):
            workers.run(*execution(tmp_path / "late", PidExecutor))


def test_an_interrupt_lets_a_publish_under_way_end_and_its_output_come_back(tmp_path):
    with executor_processes(1) as workers:
        running, pid = started_busy(workers, tmp_path, PublishingExecutor)
        workers.stop()
        assert output_pid(running.result()) == pid  # to be recorded by the run
        assert not _alive(pid)  # ended by the SIGTERM it held off


def test_a_stopped_idle_worker_does_not_hold_up_the_end_of_the_run(tmp_path):
    workers = ExecutorProcesses(1)
    [pid] = [worker.pid for worker, _ in list(workers._idle.queue)]
    os.kill(pid, signal.SIGSTOP)
    workers.close()
    assert not _alive(pid)


def test_workers_die_with_the_run_process_even_when_it_is_killed(tmp_path):
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pipeline.local.executor_processes import ExecutorProcesses
        workers = ExecutorProcesses(2)
        print(" ".join(str(worker.pid) for worker, _ in list(workers._idle.queue)), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while [pid for pid in pids if _alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pids if _alive(pid)]


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False
