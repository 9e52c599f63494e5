"""What runs that did not finish left, put right by the next command that holds the output dir.

A run killed outright (SIGKILL, a lost machine) leaves its running executions recorded as
running, and the folders its components had begun to write, which no record names. A store
that was deleted leaves a whole pipeline root no record names; TFX's local runner numbers
output folders by execution id, so a new store would write into those old folders (and the
ingest's checksums would cover old shards too). Called with the output dir's lock held, so
that no live run is writing:

* executions left running become CANCELED, which `lineage` and the report show as
  "interrupted" (pipeline/local/store_writes.py; the interrupted run itself does this at once after
  SIGINT/SIGTERM, and `lineage` and `report` when they find the output dir idle);
* remove_unrecorded: the artifact folders (`<root>/<node>/<key>/<id>`) that no artifact in the
  store names are deleted, so that every executor writes into a clean folder. Only what is
  provably a run's own goes: under a node folder TFX made (it holds TFX's `.system/`), and
  neither a serving dir's (this run's or the previous one's; a served version is never an
  artifact) nor one that holds the output dir; those are kept and named in the log (preflight
  refuses such layouts; this is the second guard). The model a served version came from is not
  kept for its marker: the version is a whole copy that names the model by its content, and a new
  store's Trainer takes the same execution id, so it would write its model into the old one's;
* mark_removed_pushes: a push whose version the serving dir no longer holds is recorded as
  DELETED, so that TFX's cache does not reuse it (it reuses LIVE outputs only) and the Pusher
  pushes the model again: MLMD records what the serving dir holds, never the reverse.

A pipeline root belongs to one store: `<root>/.metadata` names it, and another store is refused.
TFX's fileio (object storage too) is imported where it is used: it loads TensorFlow, which a
process that imports the runner without running it (a notebook's kernel, the tests) need not pay.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components import serving_dir
from components.errors import PipelineError
from pipeline import node_ids
from pipeline.inspect import store as mlmd
from pipeline.local import store_writes
from pipeline.output_dir import OutputLayout, lies_within, normalized

OWNER_FILE = ".metadata"

log = logging.getLogger(__name__)


class PipelineRootTaken(PipelineError):
    """The pipeline root holds another store's artifacts."""


def recover(layout: OutputLayout) -> None:
    """Puts right what runs that did not finish left, saying so in the log; the lock is held."""
    claim_pipeline_root(layout.pipeline_root, layout.metadata_path)
    store = store_writes.open_writable(layout.metadata_path) if layout.metadata_path.exists() else None
    left_running = store_writes.mark_interrupted(store) if store else []
    if left_running:
        log.info("Recorded %d execution(s) left running by a run that was killed as interrupted", len(left_running))
    for destination in mark_removed_pushes(store) if store else []:
        log.info("%s was pushed, and is no longer in the serving dir: the model will be pushed again", destination)
    previous = previous_serving_dir(store) if store else None
    if previous and normalized(previous) != normalized(layout.serving_dir):
        log.warning(
            "warning: the serving dir is %s, not %s as in the previous run of this output dir: the "
            "blessing compares with what %s serves",
            layout.serving_dir,
            previous,
            layout.serving_dir,
        )
    serving_dirs = [layout.serving_dir, *([previous] if previous else [])]
    cleanup = remove_unrecorded(layout.pipeline_root, store, serving_dirs, [str(layout.output_dir)])
    if cleanup.removed:
        log.info(
            "Removed %d artifact folder(s) that no record names (left by a run that was killed, or by a "
            "metadata store that is gone): %s",
            len(cleanup.removed),
            ", ".join(cleanup.removed),
        )
    if cleanup.kept:
        log.info(
            "Kept %d folder(s) that no record names, as they are in or hold a serving dir, or hold the output dir: %s",
            len(cleanup.kept),
            ", ".join(cleanup.kept),
        )


def previous_serving_dir(store: metadata_store.MetadataStore) -> str | None:
    """The serving dir the newest ServingProbe execution looked at, if any ran."""
    from components.served_model.probe import SERVING_DIR_KEY  # it loads TFX: not before a run's checks

    contexts = store.get_contexts_by_type(mlmd.NODE_CONTEXT_TYPE)
    probe = next((context for context in contexts if context.name.endswith(f".{node_ids.SERVING_PROBE}")), None)
    executions = store.get_executions_by_context(probe.id) if probe else []
    if not executions:
        return None
    newest = max(executions, key=lambda execution: execution.id)
    properties = newest.custom_properties  # where TFX records a component's parameters
    return properties[SERVING_DIR_KEY].string_value if SERVING_DIR_KEY in properties else None


def mark_removed_pushes(store: metadata_store.MetadataStore) -> list[str]:
    """Records the pushes whose version is gone from the serving dir as DELETED; returns their versions."""
    removed = []
    for artifact in store.get_artifacts_by_type("PushedModel"):
        properties = artifact.custom_properties
        destination = properties["pushed_destination"].string_value if "pushed_destination" in properties else ""
        if (
            artifact.state == metadata_store_pb2.Artifact.LIVE
            and destination
            and not serving_dir.is_complete(destination)
        ):
            artifact.state = metadata_store_pb2.Artifact.DELETED
            store.put_artifacts([artifact])
            removed.append(destination)
    return removed


def claim_pipeline_root(pipeline_root: str, metadata_path: Path) -> None:
    """Names the store in `<pipeline_root>/.metadata`; refuses a root another store named."""
    from tfx.dsl.io import fileio

    owner_file = os.path.join(pipeline_root, OWNER_FILE)
    if fileio.exists(owner_file):
        with fileio.open(owner_file) as owner:
            named = owner.read().strip()
        if named != str(metadata_path):
            raise PipelineRootTaken(
                f"{pipeline_root}: holds the artifacts of the metadata store {named}, not of {metadata_path}; "
                "give each output dir a pipeline root of its own (--pipeline-root)"
            )
        return
    fileio.makedirs(pipeline_root)
    with fileio.open(owner_file, "w") as owner:
        owner.write(str(metadata_path))


@dataclass(frozen=True)
class Cleanup:
    """What remove_unrecorded deleted, and the unrecorded folders it kept as not provably its own."""

    removed: list[str]
    kept: list[str]


def remove_unrecorded(
    pipeline_root: str,
    store: metadata_store.MetadataStore | None,
    serving_dirs: Sequence[str] = (),
    protected: Sequence[str] = (),
) -> Cleanup:
    """Deletes the artifact folders under `pipeline_root` that no artifact of `store` (None: no
    store) names and nothing else claims: none that is, holds or lies in one of `serving_dirs`,
    and none that is or holds one of `protected` (the output dir, which holds the pipeline root
    by default)."""
    from tfx.dsl.io import fileio

    recorded = [normalized(artifact.uri) for artifact in store.get_artifacts()] if store else []
    guarded = [normalized(path) for path in serving_dirs]  # nothing of theirs, either way
    held = [normalized(path) for path in protected]  # nothing that holds one
    removed, kept = [], []
    for folder in _artifact_folders(pipeline_root):
        location = normalized(folder)
        if any(lies_within(uri, location) for uri in recorded):
            continue
        if any(lies_within(path, location) or lies_within(location, path) for path in guarded) or any(
            lies_within(path, location) for path in held
        ):
            kept.append(folder)
            continue
        fileio.rmtree(folder)
        removed.append(folder)
    return Cleanup(removed, kept)


def _artifact_folders(pipeline_root: str) -> list[str]:
    """`<root>/<node>/<output key>/<execution id>`: where TFX's local runner puts each output, in
    the node folders TFX made (TFX's launcher writes `<node>/.system/` before any output)."""
    from tfx.dsl.io import fileio

    def children(path: str) -> list[str]:
        if not fileio.isdir(path):
            return []
        return [
            os.path.join(path, name.rstrip("/")) for name in sorted(fileio.listdir(path)) if not name.startswith(".")
        ]

    return [
        folder
        for node in children(pipeline_root)
        if fileio.isdir(os.path.join(node, ".system"))
        for key in children(node)
        for folder in children(key)
        if os.path.basename(folder).isdigit()
    ]
