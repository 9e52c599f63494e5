"""Content hashes of source code, so that changed code invalidates TFX's cache.

TFX's cache key holds a component's parameters and executor class name, not its code. The
Trainer and ingest get the hash of their code as a parameter, which also records in MLMD
exactly which code produced an artifact.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path, PurePosixPath


def source_sha256(module_name: str) -> str:
    """SHA-256 over the .py files of a module or package (sorted by relative path)."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(module_name)
    origin = Path(spec.origin)
    root = origin.parent if origin.name == "__init__.py" else origin
    files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def content_addressed(path: Path) -> PurePosixPath:
    """`<first 16 hex digits of its SHA-256>/<name>`: a relative path that changes with the content.

    Used for the schema, because ImportSchemaGen's cache key holds its path, not its content.
    """
    return PurePosixPath(file_sha256(path)[:16]) / Path(path).name
