"""TFX artifacts for calling an executor directly: no pipeline, no MLMD, files under a tmp dir."""

from __future__ import annotations

from pathlib import Path

from tfx import types
from tfx.types import artifact_utils

from components import serving_dir

SAVED_MODEL_FILES = {"saved_model.pb": b"graph", "variables/variables.index": b"index"}
# The validation figures a served version's marker carries, for a version a test writes.
VALIDATION = serving_dir.Validation("validation data", 0.9, 0.9)


def artifact(
    artifact_class: type[types.Artifact],
    uri: Path | str,
    split_names: list[str] | None = None,
    **custom_properties: int | str,
) -> types.Artifact:
    """An artifact of `artifact_class` at `uri` with the given custom properties (int or str)."""
    made = artifact_class()
    made.uri = str(uri)
    if split_names is not None:
        made.split_names = artifact_utils.encode_split_names(split_names)
    for name, value in custom_properties.items():
        if isinstance(value, int):
            made.set_int_custom_property(name, value)
        else:
            made.set_string_custom_property(name, value)
    return made


def write_files(directory: Path, files: dict[str, bytes]) -> Path:
    """Writes `files` (relative path -> content) under `directory`; returns it."""
    for relative, content in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return directory


def read_files(directory: Path) -> dict[str, bytes]:
    """Every file under `directory`, by relative path."""
    return {
        str(path.relative_to(directory)): path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file()
    }
