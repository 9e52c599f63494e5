"""The serving dir: numbered SavedModel versions, as TensorFlow Serving reads a model base path.

The serving dir is the truth about what is served, and MLMD records what it holds, never the
reverse. So that several runs, machines or faults can share one:

* A version is complete once its marker is there (`assets.extra/pushed_from.json`, naming the
  model artifact it came from and the model's digest; TF Serving leaves `assets.extra/` to its users). The marker is
  written last, after `saved_model.pb`, which comes after every other file: on object storage,
  where a publish copies object by object, a version that TF Serving can load before the marker
  lands is whole (tensorflow/serving#1086; TFX's own Pusher copies `saved_model.pb` last since
  tensorflow/tfx#4466). Readers take complete versions named by ASCII digits (TF Serving's
  version numbers) and name what they skip.
* A push publishes under the serving dir's lock (components/publish_lock.py): a compare-and-swap, since the
  publisher first checks that the dir still serves the model its candidate was compared with,
  and version numbers are unique however many pushers share the dir.
* A push writes into `.staging-<version>` first (TF Serving ignores names that are not numbers);
  what a push killed midway left (its staging folder, and on object storage a version without
  its marker) is removed by the next push, under the lock: only folders so named that hold
  nothing but a model's files, so that nothing else placed there is taken for one.
Local paths and gs:// / s3:// URIs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass

from components import files
from components.errors import PipelineError
from components.object_storage import is_uri

STAGING_PREFIX = ".staging-"
NOTHING_SERVED = "none"  # what is served, as a fingerprint, before the first push
MARKER_FILE = os.path.join("assets.extra", "pushed_from.json")
SAVED_MODEL_FILE = "saved_model.pb"
# What a SavedModel holds at its top (tensorflow/python/saved_model/constants.py; Keras adds keras_metadata.pb).
SAVED_MODEL_ENTRIES = frozenset(
    {SAVED_MODEL_FILE, "saved_model.cpb", "saved_model.pbtxt", "fingerprint.pb", "keras_metadata.pb"}
    | {"variables", "assets", "assets.extra", "debug"}
)

log = logging.getLogger(__name__)
_reported: set[str] = set()


class ServedModelChanged(PipelineError):
    """The serving dir no longer serves what this run saw, or compared its model with: run again."""


@dataclass(frozen=True)
class ServedVersion:
    """One complete version in the serving dir and the model it came from."""

    version: int
    path: str
    model_uri: str
    model_sha256: str | None = None  # model_digest of what was published (None: an older marker)

    def fingerprint(self) -> str:
        return f"{self.version}:{self.model_uri}"


def fingerprint(served: ServedVersion | None) -> str:
    """What is served, in one string: `<version>:<model URI>`, or NOTHING_SERVED."""
    return served.fingerprint() if served else NOTHING_SERVED


def is_version_name(name: str) -> bool:
    """A name TF Serving takes as a version number: ASCII digits only."""
    return name.isascii() and name.isdigit()


def complete_versions(serving_dir: str) -> list[ServedVersion]:
    """The complete versions, oldest first; logs one line naming the entries it skips."""
    if not files.exists(serving_dir):
        return []
    found, skipped = [], []
    for name in sorted(files.listdir(serving_dir)):
        path = os.path.join(serving_dir, name)
        if name.startswith("."):
            continue  # staging folders and the PublishLock: the Pusher's own
        if not is_version_name(name):
            skipped.append(f"{name} (not a version number)")
        elif not files.isdir(path):
            skipped.append(f"{name} (a file)")
        elif not files.exists(os.path.join(path, MARKER_FILE)):
            skipped.append(f"{name} (no {MARKER_FILE}: incomplete, or not pushed by this pipeline)")
        else:
            recorded = read_marker(path)
            found.append(ServedVersion(int(name), path, recorded["model_uri"], recorded.get("model_sha256")))
    line = f"{serving_dir}: skipped {', '.join(skipped)}"
    if skipped and line not in _reported:  # once per process: several components read the dir
        _reported.add(line)
        log.info(line)
    return sorted(found, key=lambda served: (served.version, served.path))


def highest_number(serving_dir: str) -> int | None:
    """The highest version number any entry has, complete or not: a new version must be higher."""
    names = files.listdir(serving_dir) if files.exists(serving_dir) else []
    return max((int(name) for name in names if is_version_name(name)), default=None)


def latest(serving_dir: str) -> ServedVersion | None:
    """The version TF Serving serves: the highest complete one; None when there is none."""
    versions = complete_versions(serving_dir)
    return versions[-1] if versions else None


def read_marker(version_dir: str) -> dict:
    with files.open(os.path.join(version_dir, MARKER_FILE)) as marker:
        return json.loads(marker.read())


def write_marker(version_dir: str, model_uri: str, model_sha256: str) -> None:
    files.makedirs(os.path.dirname(os.path.join(version_dir, MARKER_FILE)))
    with files.open(os.path.join(version_dir, MARKER_FILE), "w") as marker:
        marker.write(json.dumps({"model_uri": model_uri, "model_sha256": model_sha256}))


def model_digest(saved_model_dir: str) -> str:
    """SHA-256 of the graph and the weights' index (which holds each tensor's checksum): tells two
    models apart even at one URI (a store that was lost reuses execution ids, so output paths)."""
    digest = hashlib.sha256()
    for relative in (SAVED_MODEL_FILE, os.path.join("variables", "variables.index")):
        path = os.path.join(saved_model_dir, relative)
        if files.exists(path):
            with files.open(path, "rb") as file:
                digest.update(relative.encode() + b"\0" + file.read())
    return digest.hexdigest()


def publish(staging_dir: str, version_dir: str, model_uri: str) -> None:
    """Makes the copy in `staging_dir` the version `version_dir`, complete once its marker is there.

    A local rename is atomic: the version appears whole, marker included. On object storage a
    rename is a copy, so the copy goes in an order that never shows a loadable partial version:
    every other file, then saved_model.pb, then the marker; the staging folder goes last.
    """
    model_sha256 = model_digest(staging_dir)
    if not is_uri(version_dir):
        write_marker(staging_dir, model_uri, model_sha256)
        files.rename(staging_dir, version_dir)
        return
    relative_paths = sorted(os.path.relpath(path, staging_dir) for path in _files_under(staging_dir))
    for relative in sorted(relative_paths, key=lambda name: name == SAVED_MODEL_FILE):
        files.makedirs(os.path.dirname(os.path.join(version_dir, relative)))
        files.copy(os.path.join(staging_dir, relative), os.path.join(version_dir, relative), overwrite=True)
    write_marker(version_dir, model_uri, model_sha256)
    files.rmtree(staging_dir)


def remove_unfinished(serving_dir: str) -> list[str]:
    """Removes what pushes that died left: their staging folders, and the version folders their
    publish left without a marker. Only under the PublishLock: no other push is writing then."""
    if not files.exists(serving_dir):
        return []
    removed = []
    for name in files.listdir(serving_dir):
        name = name.rstrip("/")
        staging_dir = os.path.join(serving_dir, name)
        version = name.removeprefix(STAGING_PREFIX)
        if not (name.startswith(STAGING_PREFIX) and is_version_name(version) and _holds_a_model_only(staging_dir)):
            continue  # not provably a push's staging folder: left as it is
        version_dir = os.path.join(serving_dir, version)
        if (
            files.exists(version_dir)
            and not files.exists(os.path.join(version_dir, MARKER_FILE))
            and _holds_a_model_only(version_dir)
        ):
            files.rmtree(version_dir)
            removed.append(version_dir)
        files.rmtree(staging_dir)
        removed.append(staging_dir)
    return removed


def _holds_a_model_only(directory: str) -> bool:
    """A folder with nothing but a SavedModel's entries (the names of tensorflow/python/saved_model/
    constants.py): what a push copies; an output dir or anything else put there is not its to remove."""
    return files.isdir(directory) and all(name.rstrip("/") in SAVED_MODEL_ENTRIES for name in files.listdir(directory))


def _files_under(directory: str) -> list[str]:
    return [os.path.join(root, name) for root, _, names in files.walk(directory) for name in names]
