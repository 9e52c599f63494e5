"""Files on this machine or at a gs:// / s3:// URI, with the calls of TFX's fileio.

Local paths go through Python's os, shutil and open; URIs through tf.io.gfile, imported on the
first URI (with s3:// registered). So the commands that only read what runs left (`lineage`,
`report`) and a run's checks before it starts never pay TensorFlow's import for a local output
dir (docs/performance.md says what it costs).
"""

from __future__ import annotations

import builtins
import glob as local_glob
import hashlib
import os
import shutil
from collections.abc import Iterator
from typing import IO, Any

from components.object_storage import enable_s3, is_uri


def _gfile() -> Any:
    """tf.io.gfile, with s3:// registered."""
    enable_s3()
    import tensorflow as tf

    return tf.io.gfile


def open(path: str, mode: str = "r") -> IO[Any]:
    """fileio's name for it, read as `files.open`; text is UTF-8."""
    if is_uri(path):
        return _gfile().GFile(path, mode)
    return builtins.open(path, mode, encoding=None if "b" in mode else "utf-8")


def exists(path: str) -> bool:
    return _gfile().exists(path) if is_uri(path) else os.path.exists(path)


def isdir(path: str) -> bool:
    return _gfile().isdir(path) if is_uri(path) else os.path.isdir(path)


def listdir(path: str) -> list[str]:
    """The names in a folder (never with a trailing slash, which gfile gives for folders on GCS)."""
    names = _gfile().listdir(path) if is_uri(path) else os.listdir(path)
    return [name.rstrip("/") for name in names]


def glob(pattern: str) -> list[str]:
    return list(_gfile().glob(pattern)) if is_uri(pattern) else local_glob.glob(pattern)


def walk(top: str) -> Iterator[tuple[str, list[str], list[str]]]:
    return _gfile().walk(top) if is_uri(top) else os.walk(top)


def makedirs(path: str) -> None:
    if is_uri(path):
        _gfile().makedirs(path)
    else:
        os.makedirs(path, exist_ok=True)


def rename(source: str, destination: str) -> None:
    """Atomic on a local disk, for files and folders; on object storage gfile renames files only
    (components/serving_dir.py copies a version's folder file by file instead)."""
    if is_uri(source) or is_uri(destination):
        _gfile().rename(source, destination)
    else:
        os.rename(source, destination)


def copy(source: str, destination: str, overwrite: bool = False) -> None:
    if is_uri(source) or is_uri(destination):
        _gfile().copy(source, destination, overwrite=overwrite)
    elif not overwrite and os.path.exists(destination):
        raise FileExistsError(f"{destination} already exists")
    else:
        shutil.copyfile(source, destination)


def rmtree(path: str) -> None:
    if is_uri(path):
        _gfile().rmtree(path)
    else:
        shutil.rmtree(path)


def split_uri(artifact_uri: str, split: str) -> str:
    """The folder of one split of a TFX artifact (TFX's layout: artifact_utils.get_split_uri)."""
    return os.path.join(artifact_uri, f"Split-{split}")


def sha256(path: str, read_bytes: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes, read `read_bytes` at a time (a shard or a model file may be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(read_bytes):
            digest.update(chunk)
    return digest.hexdigest()
