"""Content hashes of the project's code, so that changed code misses TFX's cache.

TFX's cache key holds a component's parameters and executor class name, not its code. Each
component of ours gets, as a parameter, the hash of every project module its executor (or the
Trainer's run_fn) imports, found by walking the import graph from that module: a fix to any
module on the way re-runs the component, and MLMD records exactly which code made an artifact.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path, PurePosixPath

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROJECT_PACKAGES = ("components", "pipeline")


def code_sha256(*module_names: str, root: Path = PROJECT_ROOT) -> str:
    """SHA-256 over the source of the modules and every project module they import, transitively."""
    files = set().union(*(imported_files(name, root) for name in module_names))
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def imported_files(module_name: str, root: Path = PROJECT_ROOT) -> set[Path]:
    """The files of `module_name`, of the project modules it imports (transitively), and of the
    packages on their way (importing a.b runs a/__init__.py)."""
    found: set[Path] = set()
    pending = [module_name]
    while pending:
        name = pending.pop()
        for path in _files_of(name, root):
            if path not in found:
                found.add(path)
                pending += sorted(imported_names(path, name))
    return found


def _files_of(module_name: str, root: Path) -> list[Path]:
    """The module's file and its packages' __init__.py files; [] for a module outside the project."""
    parts = module_name.split(".")
    if parts[0] not in PROJECT_PACKAGES:
        return []
    files = [root.joinpath(*parts[:depth], "__init__.py") for depth in range(1, len(parts) + 1)]
    files.append(root.joinpath(*parts).with_suffix(".py"))
    return [path for path in files if path.is_file()]


def imported_names(path: Path, module_name: str) -> set[str]:
    """Every module name the file imports, absolute, anywhere in it (functions included); `from
    a import b` names both a and a.b (b may be a module). The project's one import walker: the
    layering test reads the import graph with it too."""
    package = module_name if path.name == "__init__.py" else module_name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name}


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def content_addressed(path: Path) -> PurePosixPath:
    """`<first 16 hex digits of its SHA-256>/<name>`: a relative path that changes with the content.

    Used for the schema, because ImportSchemaGen's cache key holds its path, not its content.
    """
    return PurePosixPath(file_sha256(path)[:16]) / Path(path).name
