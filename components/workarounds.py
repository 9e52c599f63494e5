"""Every workaround of a bug or limit of TFX, TensorFlow, tensorflow-io or Beam, in one place.

Each says what it works around, the upstream issue (or what was observed, when none was found),
and when to delete it. The callers call these functions and know nothing of the bug:

* exit_process, exit_now, run_then_exit, end_beam_workers_without_static_destructors: tensorflow-io
  aborts a process that used s3:// as it exits;
* beam_packaging: TFX builds a TFX sdist for remote Beam workers in every Beam component;
* executors_can_fork: TensorFlow's runtime and the object stores' clients do not survive a fork.

TFX, Beam and TensorFlow are imported inside the functions that patch or probe them: the CLI
imports this module for exit_process, and starts without them.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.metadata
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from components.object_storage import is_uri

# --- tensorflow-io aborts at exit after s3:// -----------------------------------------------------
# tensorflow-io 0.37.1 aborts the process at exit once it used s3:// ("pure virtual method called",
# exit code 134): its AWS client outlives the AWS SDK's logger. Upstream: tensorflow/io#2039 (open;
# the fix, tensorflow/io#2120, is merged but in no release). Delete exit_process, exit_now,
# run_then_exit and end_beam_workers_without_static_destructors (and components/beam_worker.py's
# call) once the pinned tensorflow-io has that fix: tests/e2e/test_object_storage.py's process
# that used s3:// then exits with 0 through a plain sys.exit.


def exit_process(code: int) -> NoReturn:
    """Ends the process with `code`; once tensorflow-io is loaded, without C++ static destructors.
    Python's own exit work (atexit handlers, logging's among them; stdio) still runs first."""
    if "tensorflow_io" not in sys.modules:
        sys.exit(code)
    atexit._run_exitfuncs()  # what interpreter shutdown would run; os._exit does not
    exit_now(code)


def exit_now(code: int) -> NoReturn:
    """Flushes stdout and stderr and ends the process at once: no atexit, no C++ destructors."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_then_exit(main: Callable[[Any], object], parsed_argv: Any, what: str) -> NoReturn:
    """Runs `main` (TFX's entry point of a Kubeflow task) and ends the process through
    exit_process: 0 when it succeeded, 1 (its traceback logged) when it raised."""
    try:
        main(parsed_argv)
    except Exception:
        logging.exception("The %s failed", what)
        exit_process(1)
    exit_process(0)


def end_beam_workers_without_static_destructors() -> None:
    """In a Beam worker process (components/beam_worker.py): its exit skips C++ static
    destructors, with the code it would have had: what it gave sys.exit, 1 after an uncaught
    exception, else 0 (a worker that aborts is logged by Beam as a failed worker).

    Registered last, the exit runs before the atexit handlers registered earlier (atexit is
    last in, first out), which exit_now then skips; of those, logging's flush is the one that
    matters, so it runs here. SystemExit never reaches an excepthook or atexit, so sys.exit is
    wrapped to remember its code."""
    ended = {"uncaught": False, "code": 0}
    previous_excepthook, previous_exit = sys.excepthook, sys.exit

    def note_uncaught_exception(*exc_info: Any) -> None:
        ended["uncaught"] = True
        previous_excepthook(*exc_info)

    def record_exit_code(code: str | int | None = None) -> NoReturn:
        ended["code"] = code if isinstance(code, int) else 0 if code is None else 1
        previous_exit(code)

    def exit_without_static_destructors() -> None:
        logging.shutdown()
        exit_now(1 if ended["uncaught"] else int(ended["code"]))

    sys.excepthook = note_uncaught_exception
    sys.exit = record_exit_code
    atexit.register(exit_without_static_destructors)


# --- TFX packages itself for remote Beam workers in every Beam component ---------------------------
# TFX's Beam executors call dependency_utils.make_beam_dependency_flags, which copies TFX and runs
# `setup.py sdist` (build_ephemeral_package) for remote workers to install, in each Beam component
# of every run (what it costs: docs/performance.md), for runners that never read it, and each build
# chdir()s the process, so two at once break each other. No upstream issue found; observed in TFX
# 1.16 (tfx/utils/dependency_utils.py). Delete beam_packaging once TFX skips the package for the
# DirectRunner and LOOPBACK workers and builds it once per process: then
# tests/components/test_workarounds.py's tests pass without it.


@contextlib.contextmanager
def beam_packaging(beam_args: list[str]) -> Iterator[None]:
    """While inside: no package where the Beam workers are this process (Beam's DirectRunner, any
    runner with --environment_type=LOOPBACK); for other runners one built per TFX code
    (tfx_package_cache), reused by every step of every run after, one build at a time."""
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


# --- what does not survive a fork -----------------------------------------------------------------
# A local run forks worker processes for its executors (pipeline/local/executor_processes.py).
# TensorFlow's runtime is not fork-safe once started: a forked worker's first op waits forever
# (tensorflow/tensorflow#2448, closed as by design). The object stores' clients keep thread pools
# that do not survive a fork either: no upstream issue found; observed: an S3 copy through
# tensorflow-io in a forked worker waited forever. Workers need Linux's prctl, and macOS's system
# libraries are not fork-safe. Delete executors_can_fork (and run every executor in a worker)
# once workers are started with `spawn` (a fresh interpreter, which pays TensorFlow's import per
# worker) or those libraries become fork-safe.


def executors_can_fork(paths: Iterable[str]) -> bool:
    """Whether a run reading and writing `paths` may run its executors in forked worker
    processes; else they run in its launchers' threads (slower: one interpreter lock)."""
    return why_executors_cannot_fork(paths) is None


def why_executors_cannot_fork(paths: Iterable[str]) -> str | None:
    """Why a run reading and writing `paths` runs its executors in threads, for a note to the
    user (pipeline/notebook.py); None when they may run in forked workers."""
    if not sys.platform.startswith("linux"):
        return f"worker processes need Linux (this is {sys.platform})"
    in_object_storage = next((path for path in paths if is_uri(path)), None)
    if in_object_storage:
        return f"{in_object_storage} is in object storage, whose clients do not survive a fork"
    if tensorflow_started():
        return "TensorFlow already ran in this process and does not survive a fork (restart the kernel to fork again)"
    return None


def tensorflow_started() -> bool:
    """Whether TensorFlow's runtime was started in this process. A run's own process never runs
    TensorFlow before its workers are forked; a Python session that did (a notebook that
    trained, a test process) must run its executors in threads."""
    from tensorflow.python.eager import context

    return context.context_safe() is not None
