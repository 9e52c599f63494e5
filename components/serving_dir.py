"""The serving dir: numbered SavedModel versions, as TensorFlow Serving reads a model base path.

The serving dir is the truth about what is served, and MLMD records what it holds, never the
reverse. So that several runs, machines or faults can share one:

* A version is complete once its marker is there (`assets.extra/pushed_from.json`; TF Serving
  leaves `assets.extra/` to its users). It names the model artifact the version came from, the
  SHA-256 of each of the model's files as the Trainer recorded them (components/model_integrity.py)
  and their digest (the model's identity by content), and the validation Precision@1 of the
  model and of the best model served before it (Validation: the blessing's ratchet). The marker is
  written last, after `saved_model.pb`, which comes after every other file: on object storage,
  where a publish copies object by object, a version that TF Serving can load before the marker
  lands is whole (tensorflow/serving#1086; TFX's own Pusher copies `saved_model.pb` last since
  tensorflow/tfx#4466). Readers take complete versions named by ASCII digits within int64 (TF
  Serving's version numbers) and name what they skip; a version whose files differ from its
  marker, or whose marker is damaged, is refused in one line naming it.
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

import json
import logging
import os
from dataclasses import dataclass

from components import files, model_integrity
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
MAX_VERSION = 2**63 - 1  # TF Serving's version numbers are int64; it ignores larger names

log = logging.getLogger(__name__)


class ServedModelChanged(PipelineError):
    """The serving dir no longer serves what this run saw, or compared its model with: run again."""


class DamagedVersion(PipelineError):
    """A complete version whose marker or files are not what its push wrote."""


@dataclass(frozen=True)
class Validation:
    """What the validation Evaluator measured, carried in the marker: the blessing compares a new
    model with the best model served on the same validation data, so that a chain of pushes,
    each within the tolerance of the one before, cannot drift down (components/evaluator)."""

    data_sha256: str  # the validation split's content (examples_integrity.split_digest)
    precision_at_1: float  # this model's
    best_precision_at_1: float  # the best of the models served in a row on that data, this one included

    def best_on(self, data_sha256: str) -> float | None:
        """The best Precision@1 served on `data_sha256`; None for other data, where it says nothing."""
        return self.best_precision_at_1 if self.data_sha256 == data_sha256 else None

    @classmethod
    def measured(cls, data_sha256: str, precision_at_1: float, best_served: float | None) -> Validation:
        """A model's figure on `data_sha256`, with the best served before it (None: none on that data)."""
        best = max(precision_at_1, best_served) if best_served is not None else precision_at_1
        return cls(data_sha256, precision_at_1, best)

    @classmethod
    def from_property(cls, value: object) -> Validation:
        """From an artifact's JSON custom property (a protobuf Struct), as the Evaluator writes it."""
        return cls(**json.loads(json.dumps(value)))


@dataclass(frozen=True)
class ServedVersion:
    """One complete version in the serving dir and the model it came from."""

    version: int
    path: str
    model_uri: str
    model_sha256: str  # model_integrity.digest of the model's files
    files: dict[str, str]  # their manifest
    validation: Validation

    def fingerprint(self) -> str:
        return f"{self.version}:{self.model_uri}"


@dataclass(frozen=True)
class Scan:
    """What a serving dir holds: its complete versions, oldest first, and what it skipped, described."""

    versions: list[ServedVersion]
    skipped: list[str]

    def skipped_line(self, serving_dir: str) -> str | None:
        return f"{serving_dir}: skipped {', '.join(self.skipped)}" if self.skipped else None


def fingerprint(served: ServedVersion | None) -> str:
    """What is served, in one string: `<version>:<model URI>`, or NOTHING_SERVED."""
    return served.fingerprint() if served else NOTHING_SERVED


def is_version_name(name: str) -> bool:
    """A name TF Serving takes as a version number: ASCII digits only, within int64."""
    return name.isascii() and name.isdigit() and int(name) <= MAX_VERSION


def scan(serving_dir: str) -> Scan:
    """The complete versions and the entries that are not (ServingProbe reports those, once per run)."""
    if not files.exists(serving_dir):
        return Scan([], [])
    found, skipped = [], []
    for name in sorted(files.listdir(serving_dir)):
        path = os.path.join(serving_dir, name)
        if name.startswith("."):
            continue  # staging folders and the PublishLock: the Pusher's own
        if not (name.isascii() and name.isdigit()):
            skipped.append(f"{name} (not a version number)")
        elif int(name) > MAX_VERSION:
            skipped.append(f"{name} (beyond int64, which TF Serving ignores)")
        elif not files.isdir(path):
            skipped.append(f"{name} (a file)")
        elif not is_complete(path):
            skipped.append(f"{name} (no {MARKER_FILE}: incomplete, or not pushed by this pipeline)")
        else:
            found.append(read_version(path))
    return Scan(sorted(found, key=lambda served: (served.version, served.path)), skipped)


def is_complete(version_dir: str) -> bool:
    """Whether a version is whole: its marker, written last, is there."""
    return files.exists(os.path.join(version_dir, MARKER_FILE))


def complete_versions(serving_dir: str) -> list[ServedVersion]:
    """The complete versions, oldest first."""
    return scan(serving_dir).versions


def highest_number(serving_dir: str) -> int | None:
    """The highest version number any entry has, complete or not: a new version must be higher."""
    names = files.listdir(serving_dir) if files.exists(serving_dir) else []
    return max((int(name) for name in names if is_version_name(name)), default=None)


def latest(serving_dir: str) -> ServedVersion | None:
    """The version TF Serving serves: the highest complete one; None when there is none."""
    versions = complete_versions(serving_dir)
    return versions[-1] if versions else None


def read_marker(version_dir: str) -> dict:
    """The marker's fields; DamagedVersion, in one line, when it is not a marker this pipeline wrote."""
    path = os.path.join(version_dir, MARKER_FILE)
    try:
        with files.open(path, "rb") as marker:
            recorded = json.loads(marker.read())
    except (ValueError, OSError) as error:  # bad JSON or UTF-8 (ValueError), unreadable
        raise _damaged_marker(version_dir, f"unreadable ({error})") from error
    if not isinstance(recorded, dict) or not isinstance(recorded.get("model_uri"), str):
        raise _damaged_marker(version_dir, "incomplete (no model_uri)")
    return recorded


def read_version(version_dir: str) -> ServedVersion:
    """The complete version at `version_dir`, as its marker describes it."""
    recorded = read_marker(version_dir)
    missing = [key for key in ("model_sha256", "files", "validation") if key not in recorded]
    if missing:  # docs/design.md, "What an older version left": no reader of older forms
        serving_dir = os.path.dirname(version_dir.rstrip("/"))
        raise DamagedVersion(
            f"{os.path.join(version_dir, MARKER_FILE)} is of an older form (no {' or '.join(missing)}): an earlier "
            f"version of this pipeline pushed it; move {version_dir} out of {serving_dir}, or push a model from a "
            "fresh run"
        )
    try:
        validation = Validation(**recorded["validation"])
        if not isinstance(recorded["files"], dict) or not isinstance(recorded["model_sha256"], str):
            raise TypeError("files is not an object, or model_sha256 not a string")
    except TypeError as error:
        raise _damaged_marker(version_dir, f"malformed ({error})") from error
    name = os.path.basename(version_dir.rstrip("/"))
    return ServedVersion(
        int(name) if is_version_name(name) else 0,  # 0: a copy outside a serving dir (`predict --model`)
        version_dir,
        recorded["model_uri"],
        recorded["model_sha256"],
        recorded["files"],
        validation,
    )


def write_marker(version_dir: str, model_uri: str, recorded: model_integrity.Manifest, validation: Validation) -> None:
    marker = {
        "model_uri": model_uri,
        "model_sha256": model_integrity.digest(recorded),
        "files": recorded,
        "validation": validation.__dict__,
    }
    files.makedirs(os.path.dirname(os.path.join(version_dir, MARKER_FILE)))
    with files.open(os.path.join(version_dir, MARKER_FILE), "w") as file:
        file.write(json.dumps(marker))


def verify_version(served: ServedVersion) -> None:
    """DamagedVersion, in one line naming the file, when a served version's files differ from
    what its push published."""
    serving_dir = os.path.dirname(served.path.rstrip("/"))
    what_to_do = (
        f"served version {served.version} is damaged; TF Serving cannot serve it as pushed: move {served.path} "
        f"out of {serving_dir} (the version before it is then served) and run again"
    )
    try:
        # Files besides the model's (the marker, a user's notes) do not change what TF Serving loads.
        model_integrity.compare(served.path, served.files, "its push published", what_to_do, allow_extra=True)
    except model_integrity.ModelIntegrityError as error:
        raise DamagedVersion(str(error)) from None


def publish(
    staging_dir: str,
    version_dir: str,
    model_uri: str,
    recorded: model_integrity.Manifest,
    validation: Validation,
) -> None:
    """Makes the copy in `staging_dir` the version `version_dir`, complete once its marker is there.

    The copy is first checked against `recorded`, what the Trainer wrote: only a whole, unchanged
    model gets a marker. A local rename is atomic: the version appears whole, marker included. On
    object storage a rename is a copy, so the copy goes in an order that never shows a loadable
    partial version: every other file, then saved_model.pb, then the marker (after the copy is
    checked again); the staging folder goes last.
    """
    not_published = "the copy to publish is not the model; nothing was published"
    model_integrity.compare(staging_dir, recorded, "the Trainer wrote", not_published)
    if not is_uri(version_dir):
        write_marker(staging_dir, model_uri, recorded, validation)
        files.rename(staging_dir, version_dir)
        return
    relative_paths = sorted(os.path.relpath(path, staging_dir) for path in _files_under(staging_dir))
    for relative in sorted(relative_paths, key=lambda name: name == SAVED_MODEL_FILE):
        files.makedirs(os.path.dirname(os.path.join(version_dir, relative)))
        files.copy(os.path.join(staging_dir, relative), os.path.join(version_dir, relative), overwrite=True)
    model_integrity.compare(version_dir, recorded, "the Trainer wrote", not_published)
    write_marker(version_dir, model_uri, recorded, validation)
    files.rmtree(staging_dir)


def _damaged_marker(version_dir: str, problem: str) -> DamagedVersion:
    serving_dir = os.path.dirname(version_dir.rstrip("/"))
    return DamagedVersion(
        f"{os.path.join(version_dir, MARKER_FILE)} is {problem}: version {os.path.basename(version_dir)} is damaged; "
        f"move {version_dir} out of {serving_dir} (the version before it is then served) and run again"
    )


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
        if files.exists(version_dir) and not is_complete(version_dir) and _holds_a_model_only(version_dir):
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
