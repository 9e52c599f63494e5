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
from typing import TYPE_CHECKING

from components import files
from components.errors import PipelineError

if TYPE_CHECKING:  # the report verifies files too, and imports no TFX
    from tfx import types

SHARDS_PROPERTY = "shard_sha256"  # {split: {file name: sha256}}
RECOVERY = "run again with --no-cache to rebuild them"


class ExamplesIntegrityError(PipelineError):
    """The Examples' files differ from what the ingest recorded."""


def record(examples: types.Artifact) -> None:
    """Records the SHA-256 of every file of every split (the ingest calls it once all are written)."""
    splits = json.loads(examples.split_names or "[]")  # artifact_utils.decode_split_names
    shards = {split: _sha256s(examples.uri, split) for split in splits}
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
            elif files.sha256(found[name]) != sha256:
                problem = "differs from what the ingest wrote"
            else:
                continue
            raise ExamplesIntegrityError(
                f"split '{split}': {files.split_uri(examples_uri, split)}/{name} {problem}: the cached Examples "
                f"are damaged; {RECOVERY}"
            )
        for name in sorted(set(found) - set(expected)):
            raise ExamplesIntegrityError(
                f"split '{split}': {files.split_uri(examples_uri, split)}/{name} was not written by the ingest; "
                f"{RECOVERY}"
            )


def split_digest(examples: types.Artifact, split: str) -> str:
    """One SHA-256 for the content of a split, the same for every ingest of the same files: of the
    input files' SHA-256s, the split and its size, which decide its examples (the shards' own bytes
    differ between ingests: a GZIP header holds the time it was written). Two models' Precision@1
    on splits of one digest compare; on splits of other digests they need not."""
    inputs = {
        name: examples.get_string_custom_property(name)
        for name in sorted(examples.mlmd_artifact.custom_properties)
        if name.startswith("input_sha256_")
    }
    size = examples.get_int_custom_property(f"num_examples_{split}")
    return hashlib.sha256(json.dumps([inputs, split, size], sort_keys=True).encode()).hexdigest()


def _recorded(examples: types.Artifact) -> dict[str, dict[str, str]]:
    value = examples.get_json_value_custom_property(SHARDS_PROPERTY)
    return json.loads(json.dumps(value)) if value else {}  # protobuf Struct -> plain dicts


def _sha256s(examples_uri: str, split: str) -> dict[str, str]:
    return {name: files.sha256(path) for name, path in _files(examples_uri, split).items()}


def _files(examples_uri: str, split: str) -> dict[str, str]:
    directory = files.split_uri(examples_uri, split)
    if not files.exists(directory):
        return {}
    return {name: os.path.join(directory, name) for name in files.listdir(directory)}
