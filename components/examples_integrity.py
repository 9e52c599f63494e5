"""Examples are what lineage says they are: the ingest records the SHA-256 of every shard it
wrote, and whoever of ours reads the Examples (the Trainer, the Evaluators) checks the files
against that record first.

A shard deleted or damaged after the ingest (a cached artifact outlives its run) would
otherwise train a model on part of the data while MLMD says all of it, or fail deep inside
TensorFlow with an error that names no file. The record is a custom property of the Examples
artifact, so it is in MLMD with the rest of its lineage.
"""

from __future__ import annotations

import hashlib
import json
import os

from tfx import types
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from components.errors import PipelineError

SHARDS_PROPERTY = "shard_sha256"  # {split: {file name: sha256}}
READ_BYTES = 1 << 20
RECOVERY = "run again with --no-cache to rebuild them"


class ExamplesIntegrityError(PipelineError):
    """The Examples' files differ from what the ingest recorded."""


def record(examples: types.Artifact) -> None:
    """Records the SHA-256 of every file of every split (the ingest calls it once all are written)."""
    splits = artifact_utils.decode_split_names(examples.split_names)
    shards = {split: {name: _sha256(path) for name, path in _files(examples.uri, split).items()} for split in splits}
    examples.set_json_value_custom_property(SHARDS_PROPERTY, shards)


def verify(examples: types.Artifact, splits: list[str]) -> None:
    """Raises ExamplesIntegrityError, naming the split and the file, when a file of `splits` is
    missing, extra or changed."""
    verify_files(examples.uri, _recorded(examples), splits)


def verify_files(examples_uri: str, recorded: dict[str, dict[str, str]], splits: list[str]) -> None:
    """verify, given the Examples' URI and their recorded SHARDS_PROPERTY (e.g. read from MLMD)."""
    for split in splits:
        expected = recorded.get(split)
        if expected is None:
            raise ExamplesIntegrityError(f"{examples_uri}: the ingest recorded no checksums for split '{split}'")
        found = _files(examples_uri, split)
        for name, sha256 in sorted(expected.items()):
            if name not in found:
                problem = "is missing"
            elif _sha256(found[name]) != sha256:
                problem = "differs from what the ingest wrote"
            else:
                continue
            raise ExamplesIntegrityError(
                f"split '{split}': {_split_dir(examples_uri, split)}/{name} {problem}: the cached Examples "
                f"are damaged; {RECOVERY}"
            )
        for name in sorted(set(found) - set(expected)):
            raise ExamplesIntegrityError(
                f"split '{split}': {_split_dir(examples_uri, split)}/{name} was not written by the ingest; {RECOVERY}"
            )


def _recorded(examples: types.Artifact) -> dict[str, dict[str, str]]:
    value = examples.get_json_value_custom_property(SHARDS_PROPERTY)
    return json.loads(json.dumps(value)) if value else {}  # protobuf Struct -> plain dicts


def _split_dir(examples_uri: str, split: str) -> str:
    return os.path.join(examples_uri, f"Split-{split}")  # TFX's layout (artifact_utils.get_split_uri)


def _files(examples_uri: str, split: str) -> dict[str, str]:
    directory = _split_dir(examples_uri, split)
    if not fileio.exists(directory):
        return {}
    return {name.rstrip("/"): os.path.join(directory, name.rstrip("/")) for name in fileio.listdir(directory)}


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with fileio.open(path, "rb") as shard:
        while chunk := shard.read(READ_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
