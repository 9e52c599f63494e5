"""What an interrupted run may still publish: a publish already begun, never one that begins after.

An interrupt (Ctrl-C, SIGTERM) ends the run's executors (pipeline/local/concurrent_dag_runner.py):
their worker processes are killed, and what ran in threads records nothing more. A push must
not fall between the two: published and never recorded, or recorded and never published. So
the Pusher publishes inside `publishing()`, which the interrupt cannot enter nor cut short:

* in a worker process, the run ends the executor with SIGTERM; inside `publishing()` SIGTERM is
  blocked, and the worker unblocks it only once the executor's output is sent back to the run,
  which records it (pipeline/local/executor_processes.py);
* in a thread of the run's process, `stop()` waits for a publish under way to end, and no publish
  starts after it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_lock = threading.Lock()  # held around each publish, and by stop()
_state = {"stopped": False, "published": False, "in_worker": False}


class Interrupted(BaseException):
    """Raised where an executor would start or publish, or its execution be recorded, after the
    run was interrupted. A BaseException, as KeyboardInterrupt: TFX's Launcher records a failure
    only for an Exception, so the execution stays running until the run records it interrupted."""


def in_worker() -> None:
    """This process is a worker that sends each executor's output back to the run and then
    unblocks SIGTERM itself (pipeline/local/executor_processes.py): publishing() holds it off."""
    _state["in_worker"] = True


def start() -> None:
    """A run starts in this process: publishing is allowed again (a notebook runs several)."""
    with _lock:
        _state.update(stopped=False, published=False)


def stop() -> bool:
    """No publish starts from now on; returns once a publish under way in this process has ended,
    True when one has begun since start() (its execution is still to be recorded)."""
    with _lock:
        _state["stopped"] = True
        return _state["published"]


@contextlib.contextmanager
def publishing() -> Iterator[None]:
    """Around a publish and the rest of its executor: once begun, it ends whatever interrupt comes."""
    with _lock:
        if _state["stopped"]:
            raise Interrupted("the run was interrupted before this publish began")
        # Held until the worker has sent the executor's output. Nothing to hold elsewhere: in the
        # run's own threads an interrupt waits for the publish instead (stop()), and a mask left
        # blocked would keep SIGTERM from the caller's thread for good.
        if _state["in_worker"]:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        _state["published"] = True
        yield
