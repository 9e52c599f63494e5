"""A model is what the Trainer wrote: the Trainer records the SHA-256 of every file of its
SavedModel, and whoever of ours uses the model (the Evaluators, the Pusher) checks the files
against that record first, as components/examples_integrity.py does for the Examples.

A cached model outlives its run: `run --no-push`, then a deleted `saved_model.pb` or a changed
byte, then `push RUN` would otherwise publish a model that TF Serving cannot load, or a model
other than the one the Evaluators judged. The record is a custom property of the Model artifact
(so in MLMD), and the digest of that record is the model's identity by content: the serving
dir's version markers carry both (components/serving_dir.py), so a served version is checked
the same way and lineage credits a served version to a model by content, not by path.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING

from components import files
from components.errors import PipelineError

if TYPE_CHECKING:  # lineage reads the property names, and imports no TFX
    from tfx import types

FILES_PROPERTY = "file_sha256"  # {path relative to the SavedModel: sha256}
DIGEST_PROPERTY = "model_sha256"  # digest(the FILES_PROPERTY): the model's identity by content
RETRAIN = "run again with --no-cache to train it again"

Manifest = dict[str, str]


class ModelIntegrityError(PipelineError):
    """A model's files differ from what was recorded when it was written."""


def saved_model_dir(model: types.Artifact) -> str:
    """Where a Model artifact holds its SavedModel (TFX's Format-Serving)."""
    from tfx.utils import path_utils

    return path_utils.serving_model_path(model.uri)


def manifest(directory: str) -> Manifest:
    """The SHA-256 of every file under `directory`, by relative path (with `/`)."""
    found = {}
    for root, _, names in files.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            found[os.path.relpath(path, directory).replace(os.sep, "/")] = files.sha256(path)
    return dict(sorted(found.items()))


def digest(recorded: Manifest) -> str:
    """One SHA-256 for a whole model: of its manifest, so of every file's path and content."""
    return hashlib.sha256(json.dumps(recorded, sort_keys=True).encode()).hexdigest()


def record(model: types.Artifact) -> None:
    """Records the manifest of the model's SavedModel and its digest (the Trainer calls it once written)."""
    recorded = manifest(saved_model_dir(model))
    model.set_json_value_custom_property(FILES_PROPERTY, recorded)
    model.set_string_custom_property(DIGEST_PROPERTY, digest(recorded))


def recorded_manifest(model: types.Artifact) -> Manifest:
    """What the Trainer recorded; ModelIntegrityError when it recorded nothing (an older run's model)."""
    value = model.get_json_value_custom_property(FILES_PROPERTY)
    if not value:
        raise ModelIntegrityError(f"{model.uri}: the Trainer recorded no checksums of this model's files; {RETRAIN}")
    return json.loads(json.dumps(value))  # protobuf Struct -> a plain dict


def verify(model: types.Artifact) -> Manifest:
    """Raises ModelIntegrityError naming the file when the model's SavedModel is not what the
    Trainer wrote; returns the manifest it checked against."""
    recorded = recorded_manifest(model)
    compare(saved_model_dir(model), recorded, "the Trainer wrote", f"the model is damaged; {RETRAIN}")
    return recorded


def compare(directory: str, recorded: Manifest, writer: str, what_to_do: str, allow_extra: bool = False) -> None:
    """Raises ModelIntegrityError (`<file> <problem> <writer>: <what_to_do>`) on the first file of
    `directory` that is missing, changed or (unless `allow_extra`) extra against `recorded`."""
    if not files.exists(directory):
        raise ModelIntegrityError(f"{directory} is missing: {what_to_do}")
    found = manifest(directory)
    for relative, sha256 in recorded.items():
        if relative not in found:
            problem = f"is missing; it is part of what {writer}"
        elif found[relative] != sha256:
            problem = f"differs from what {writer}"
        else:
            continue
        raise ModelIntegrityError(f"{os.path.join(directory, relative)} {problem}: {what_to_do}")
    for relative in sorted(set(found) - set(recorded)) if not allow_extra else []:
        raise ModelIntegrityError(f"{os.path.join(directory, relative)} is not part of what {writer}: {what_to_do}")
