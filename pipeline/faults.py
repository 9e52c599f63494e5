"""What a fault's one line (pipeline/cli.py) is made of: an error's causes, as TFX and Beam chain
them, and a full disk named by the file that could not be written, whoever wrote it: Python, HDF5
(Keras' checkpoints, by way of h5py), TensorFlow's file system, or SQLite under ML Metadata, whose
error names no file (the store's path is given)."""

from __future__ import annotations

import errno
import re
from pathlib import Path

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
HDF5_FILE = re.compile(r"filename = '([^']+)'")  # H5FD_sec2_write's message, which h5py raises as OSError
TENSORFLOW_FILE = re.compile(r"(\S+); No space left on device")  # tsl's IOError(context, ENOSPC)
SQLITE_FULL = "database or disk is full"  # SQLITE_FULL's message, in ML Metadata's InternalError


def first_line(error: BaseException) -> str:
    """An error's first line, or its type's name when it says nothing: what a one-line fault quotes."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def causes(error: BaseException) -> list[BaseException]:
    """The error and its causes, outermost first."""
    chain: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


def no_space(error: BaseException, store: Path | None = None) -> str | None:
    """'no space left on device writing <file>' when a write failed for want of space among the
    error's causes (the innermost such: what failed first, before what failed after it); the file
    is `store` for ML Metadata's SQLite. None when no cause is a full disk, or its file is not known
    (a stream's flush): the error's own line says as much."""
    for cause in reversed(causes(error)):
        text = str(cause)
        if isinstance(cause, OSError) and cause.errno in FULL_ERRNOS:
            hdf5 = HDF5_FILE.search(text)
            path = cause.filename or (hdf5.group(1) if hdf5 else None)
        elif tensorflow := TENSORFLOW_FILE.search(text):
            path = tensorflow.group(1)
        elif SQLITE_FULL in text:
            path = store
        else:
            continue
        return f"no space left on device writing {path}" if path else None
    return None
