"""How a local run stops before its end: a signal (RunInterrupted), or a fault (RunFailed, or
bad input or settings as they are, whose line names the file or setting).

Light on purpose: the CLI and the notebook catch these without loading TFX.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from components.errors import PipelineError
from pipeline.local.run_log import ComponentProgress


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


class WorkerDied(PipelineError):
    """A worker process ended while it ran the executor of `component` (killed, e.g. out of
    memory, or crashed; pipeline/local/executor_processes.py): a fault of the machine, reported
    in one line naming the component and the run's log."""

    def __init__(self, component: str, exit_code: int | None):
        super().__init__(
            f"the process that ran its executor ended (exit code {exit_code}): killed, e.g. out of memory, or crashed"
        )
        self.component = component


def run_error(error: BaseException, log_path: Path, running: str | None, store: Path) -> BaseException:
    """What a run that stopped raises: the interrupt, or bad input or settings as they are (their
    line names the file or setting), else RunFailed naming the component and the log."""
    if isinstance(error, RunInterrupted) or (isinstance(error, PipelineError) and not isinstance(error, WorkerDied)):
        return error
    return RunFailed(log_path, error.component if isinstance(error, WorkerDied) else running, store)


@contextlib.contextmanager
def signals_as_exceptions(progress: ComponentProgress) -> Iterator[None]:
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
