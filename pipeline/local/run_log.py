"""What a local run shows while it runs: a line as each component starts and ends on the
console, and everything, the libraries' INFO lines and any traceback, in the run's log file."""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)
# The DAG runner's lines as a component starts and ends (TFX's LocalDagRunner's words), to absl's log.
STARTED = "Component %s is running."
FINISHED = "Component %s is finished."


class RunLog(logging.FileHandler):
    """Writes every INFO line of the run, the libraries' included, to the run's log file.

    A line it cannot write (its disk is full) is lost without a word: logging's default prints
    "--- Logging error ---" and two tracebacks on the console for each line, in every process
    of the run. The fault that filled the disk gets the run's one line (pipeline/cli.py)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(path)
        self.path = path
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def __enter__(self) -> RunLog:
        logging.root.addHandler(self)
        return self

    def __exit__(self, *exc_info) -> None:
        logging.root.removeHandler(self)
        self.close()

    def write_traceback(self, error: BaseException) -> None:
        """The full traceback, to this file only: the console gets one line (pipeline/cli.py)."""
        record = logging.LogRecord(
            __name__, logging.ERROR, __file__, 0, "The run failed", None, (type(error), error, error.__traceback__)
        )
        self.handle(record)  # written and flushed by emit(), which keeps its errors in handleError()

    def handleError(self, record: logging.LogRecord) -> None:
        """Quiet: see the class."""

    def flush(self) -> None:
        with contextlib.suppress(OSError):
            super().flush()

    def close(self) -> None:
        """Closes the file, whose buffer, when its disk is full, cannot be written either."""
        with contextlib.suppress(OSError):
            super().close()


class ComponentProgress(logging.Handler):
    """Prints a line as each component starts and ends, from the DAG runner's own log lines
    (STARTED, FINISHED); `current` names the components running now (None between components)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self._started: dict[str, float] = {}  # the components running now, and when they started

    @property
    def current(self) -> str | None:
        return " and ".join(self._started) or None

    def __enter__(self) -> ComponentProgress:
        logging.getLogger("absl").addHandler(self)
        return self

    def __exit__(self, *exc_info) -> None:
        logging.getLogger("absl").removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        if not isinstance(record.args, tuple) or not record.args:
            return
        node_id = str(record.args[0])
        if record.msg == STARTED:
            self._started[node_id] = time.monotonic()
            log.info("%s ...", node_id)
        elif record.msg == FINISHED:
            log.info("%s done in %.1f s", node_id, time.monotonic() - self._started.pop(node_id, time.monotonic()))
