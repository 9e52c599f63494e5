"""Imported by every Beam worker process (`--beam_plugin`, added in pipeline.create_pipeline).

It registers s3:// there and ends the worker without C++ static destructors, as
object_storage.exit_process does for the main process: a worker process that used s3://
would otherwise abort at exit (code 134), which the runner logs as a failed worker.
"""

from __future__ import annotations

import atexit
import logging
import sys
from typing import NoReturn

from components.object_storage import enable_s3, exit_now

_uncaught_exception = False
_exit_code = 0  # what the worker gave sys.exit, if it called it
_previous_excepthook = sys.excepthook
_previous_exit = sys.exit


def _note_uncaught_exception(*exc_info) -> None:
    global _uncaught_exception
    _uncaught_exception = True
    _previous_excepthook(*exc_info)


def _record_exit_code(code: str | int | None = None) -> NoReturn:
    """sys.exit, remembering its code: SystemExit never reaches an excepthook or atexit."""
    global _exit_code
    _exit_code = code if isinstance(code, int) else 0 if code is None else 1
    _previous_exit(code)


def _exit_without_static_destructors() -> None:
    """Runs before the atexit handlers registered earlier (atexit is last in, first out), which
    exit_now then skips; of those, logging's flush is the one that matters, so it runs here."""
    logging.shutdown()
    exit_now(1 if _uncaught_exception else _exit_code)


enable_s3()
sys.excepthook = _note_uncaught_exception
sys.exit = _record_exit_code
atexit.register(_exit_without_static_destructors)
