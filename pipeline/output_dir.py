"""The output dir of local runs: where each thing lives, and one run at a time.

    pipeline/        the pipeline root: every component's artifacts
    metadata.sqlite  the MLMD store (lineage, cache)
    schemas/         the curated schema, copied under its content hash
    serving/         pushed models, one numbered version each (a TF Serving base path)
    runs/            each run's log, summary (JSON) and report (HTML)
The pipeline root and the serving dir may instead be gs:// or s3:// URIs.
"""

from __future__ import annotations

import errno
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from components.errors import PipelineError
from components.object_storage import is_uri

LOCK_FILE = ".lock"


def normalized(location: str) -> str:
    """A URI without its trailing slashes; a local path absolute, with its symbolic links resolved:
    two names of one folder compare equal."""
    return location.rstrip("/") if is_uri(location) else os.path.realpath(location)


def lies_within(path: str, folder: str) -> bool:
    """`path` is `folder` or lies inside it (both `normalized`)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


class OutputDirBusy(PipelineError):
    """Another run holds the output dir."""


@dataclass(frozen=True)
class OutputLayout:
    """The folders and files of one output dir; artifacts and pushed models may live elsewhere."""

    output_dir: Path
    pipeline_root_uri: str | None = None  # e.g. s3://BUCKET/PATH instead of <output_dir>/pipeline
    serving_dir_uri: str | None = None  # e.g. s3://BUCKET/PATH instead of <output_dir>/serving

    @property
    def pipeline_root(self) -> str:
        return self.pipeline_root_uri or str(self.output_dir / "pipeline")

    @property
    def metadata_path(self) -> Path:
        return self.output_dir / "metadata.sqlite"

    @property
    def schemas_dir(self) -> Path:
        return self.output_dir / "schemas"

    @property
    def serving_dir(self) -> str:
        return self.serving_dir_uri or str(self.output_dir / "serving")

    @property
    def tensorboard_dir(self) -> Path:
        """A link per run that trained a model, to its TensorBoard logs, named by the run id."""
        return self.output_dir / "tensorboard"

    @property
    def runs_dir(self) -> Path:
        return self.output_dir / "runs"

    def run_file(self, run_id: str, suffix: str) -> Path:
        """runs/<run id><suffix>: the run's .log, .json summary or .html report."""
        return self.runs_dir / f"{run_id}{suffix}"


class OutputDirLock:
    """An exclusive lock on the output dir for one run; a second run stops at once, naming the holder.

    flock is released by the kernel when the holding process dies, so a killed run never leaves
    a stale lock; the file keeps the holder's PID for the message.
    """

    def __init__(self, output_dir: Path):
        self._path = output_dir / LOCK_FILE
        self._file: IO[str] | None = None

    def __enter__(self) -> OutputDirLock:
        """Takes the lock, making the output dir first if it is not there (a first run)."""
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # e.g. a parent that takes no folders (/proc), read-only, not a folder
            raise PipelineError(f"--output-dir {self._path.parent}: cannot make this folder ({error})") from None
        lock_file = self._path.open("a+")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            lock_file.close()
            raise _busy(self._path.parent) from error
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(str(os.getpid()))
        lock_file.flush()
        self._file = lock_file
        return self

    def __exit__(self, *exc_info) -> None:
        assert self._file is not None
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()
        self._file = None

    @staticmethod
    def check_idle(output_dir: Path) -> None:
        """Raises OutputDirBusy when a run holds `output_dir` now: a run's checks refuse a busy dir
        before anything slow (the lock itself is taken later, and refuses a run that came between)."""
        if not OutputDirLock.idle(output_dir):
            raise _busy(output_dir)

    @staticmethod
    def idle(output_dir: Path) -> bool:
        """True when no run holds `output_dir` now (a read-only peek: the lock file is not written)."""
        path = output_dir / LOCK_FILE
        if not path.exists():
            return True
        with path.open() as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                return False
            fcntl.flock(lock_file, fcntl.LOCK_UN)
            return True


def _busy(output_dir: Path) -> OutputDirBusy:
    """The error naming the process that holds `output_dir` (its PID is in the lock file)."""
    holder = (output_dir / LOCK_FILE).read_text().strip() or "another process"
    return OutputDirBusy(
        f"{output_dir}: another run (process {holder}) is using this output dir; "
        "wait for it to end or give another --output-dir"
    )
