"""The serving dir: numbered SavedModel versions, as TensorFlow Serving reads a model base path.

A version is written under a hidden staging name (TF Serving ignores names that are not
numbers) and renamed to its number when complete. Each version carries a marker naming the
model artifact it came from, in `assets.extra/` (the SavedModel folder TF Serving leaves to
its users), so a version that an interrupted push left behind is recognised: the next push of
the same model records it instead of copying it again. Local paths and gs:// / s3:// URIs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from tfx.dsl.io import fileio

STAGING_PREFIX = ".staging-"
MARKER_FILE = os.path.join("assets.extra", "pushed_from.json")


@dataclass(frozen=True)
class ServedVersion:
    """One version in the serving dir and the model it came from (None: no marker)."""

    version: int
    path: str
    model_uri: str | None

    def fingerprint(self) -> str:
        return f"{self.version}:{self.model_uri}"


def versions(serving_dir: str) -> list[int]:
    """The numbered versions, oldest first."""
    if not fileio.exists(serving_dir):
        return []
    return sorted(int(name.rstrip("/")) for name in fileio.listdir(serving_dir) if name.rstrip("/").isdigit())


def latest(serving_dir: str) -> ServedVersion | None:
    """The version TF Serving serves: the highest number; None when nothing was pushed."""
    numbers = versions(serving_dir)
    if not numbers:
        return None
    path = os.path.join(serving_dir, str(numbers[-1]))
    return ServedVersion(numbers[-1], path, read_marker(path).get("model_uri"))


def write_marker(version_dir: str, model_uri: str) -> None:
    fileio.makedirs(os.path.dirname(os.path.join(version_dir, MARKER_FILE)))
    with fileio.open(os.path.join(version_dir, MARKER_FILE), "w") as marker:
        marker.write(json.dumps({"model_uri": model_uri}))


def read_marker(version_dir: str) -> dict:
    path = os.path.join(version_dir, MARKER_FILE)
    if not fileio.exists(path):
        return {}
    with fileio.open(path) as marker:
        return json.loads(marker.read())


def remove_stale_staging(serving_dir: str) -> list[str]:
    """Removes the staging folders of pushes that died; returns their paths.

    Safe only while no other push writes here: the output dir's lock (local runs) and one
    Pusher per pipeline run (Kubeflow) see to that.
    """
    if not fileio.exists(serving_dir):
        return []
    stale = [os.path.join(serving_dir, name.rstrip("/")) for name in fileio.listdir(serving_dir)
             if name.startswith(STAGING_PREFIX)]
    for path in stale:
        fileio.rmtree(path)
    return stale
