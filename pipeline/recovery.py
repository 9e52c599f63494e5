"""What runs that did not finish left, put right by the next command that holds the output dir.

A run killed outright (SIGKILL, a lost machine) leaves its running executions recorded as
running, and the folders its components had begun to write, which no record names. A store
that was deleted leaves a whole pipeline root no record names; TFX's local runner numbers
output folders by execution id, so a new store would write into those old folders (and the
ingest's checksums would cover old shards too). Called with the output dir's lock held, so
that no live run is writing:

* mark_interrupted: executions left running become CANCELED, which `lineage` and the report
  show as "interrupted" (the interrupted run itself does this at once after SIGINT/SIGTERM, and
  `lineage` and `report` do it when they find the output dir idle: record_killed_runs);
* remove_unrecorded: the artifact folders (`<root>/<node>/<key>/<id>`) that no artifact in the
  store names are deleted, so that every executor writes into a clean folder;
* mark_removed_pushes: a push whose version the serving dir no longer holds is recorded as
  DELETED, so that TFX's cache does not reuse it (it reuses LIVE outputs only) and the Pusher
  pushes the model again: MLMD records what the serving dir holds, never the reverse.

A pipeline root belongs to one store: `<root>/.metadata` names it, and another store is refused.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.errors import PipelineError

OWNER_FILE = ".metadata"
LEFT_RUNNING = (metadata_store_pb2.Execution.NEW, metadata_store_pb2.Execution.RUNNING)

log = logging.getLogger(__name__)


class PipelineRootTaken(PipelineError):
    """The pipeline root holds another store's artifacts."""


def open_writable(metadata_path: Path) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(metadata_path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
    return metadata_store.MetadataStore(config)


def record_killed_runs(output_dir: Path) -> None:
    """For readers: when no run holds `output_dir`, what is recorded as running was killed. Best
    effort: a store this user cannot write is read as it is."""
    from pipeline.output_dir import OutputDirLock, OutputLayout

    from pipeline import lineage

    metadata_path = OutputLayout(output_dir).metadata_path
    if lineage.schema_version(metadata_path) is None or not OutputDirLock.idle(output_dir):
        return  # no store (opening one for writing would make one), or a live run
    try:
        mark_interrupted(open_writable(metadata_path))
    except Exception as error:  # noqa: BLE001 - a read-only store, a store of another version: read it as it is
        log.debug("Could not record killed runs in %s: %s", metadata_path, error)


def mark_interrupted(store: metadata_store.MetadataStore) -> list[int]:
    """Records every execution left running as CANCELED; returns their ids."""
    left = [execution for state in LEFT_RUNNING
            for execution in store.get_executions(list_options=_state_filter(state))]
    for execution in left:
        execution.last_known_state = metadata_store_pb2.Execution.CANCELED
    if left:
        store.put_executions(left)
    return [execution.id for execution in left]


def _state_filter(state: int) -> metadata_store.ListOptions:
    name = metadata_store_pb2.Execution.State.Name(state)  # MLMD's filter takes the enum's name
    return metadata_store.ListOptions(filter_query=f"last_known_state = {name}")


def previous_serving_dir(store: metadata_store.MetadataStore) -> str | None:
    """The serving dir the newest ServingProbe execution looked at, if any ran."""
    from pipeline import node_ids

    contexts = store.get_contexts_by_type("node")
    probe = next((context for context in contexts if context.name.endswith(f".{node_ids.SERVING_PROBE}")), None)
    executions = store.get_executions_by_context(probe.id) if probe else []
    if not executions:
        return None
    newest = max(executions, key=lambda execution: execution.id)
    properties = newest.custom_properties  # where TFX records a component's parameters
    return properties["serving_dir"].string_value if "serving_dir" in properties else None


def mark_removed_pushes(store: metadata_store.MetadataStore) -> list[str]:
    """Records the pushes whose version is gone from the serving dir as DELETED; returns their versions."""
    from pipeline import lineage

    removed = []
    for artifact in store.get_artifacts_by_type("PushedModel"):
        properties = artifact.custom_properties
        destination = properties["pushed_destination"].string_value if "pushed_destination" in properties else ""
        if (artifact.state == metadata_store_pb2.Artifact.LIVE and destination
                and not lineage.is_complete_version(destination)):
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
                "give each output dir a pipeline root of its own (--pipeline-root)")
        return
    fileio.makedirs(pipeline_root)
    with fileio.open(owner_file, "w") as owner:
        owner.write(str(metadata_path))


def remove_unrecorded(pipeline_root: str, store: metadata_store.MetadataStore | None) -> list[str]:
    """Deletes the artifact folders under `pipeline_root` that no artifact of `store` (None: no
    store) names; returns them."""
    from tfx.dsl.io import fileio

    recorded = [os.path.normpath(artifact.uri) for artifact in store.get_artifacts()] if store else []
    removed = []
    for folder in _artifact_folders(pipeline_root):
        normalized = os.path.normpath(folder)
        if not any(uri == normalized or uri.startswith(normalized + os.sep) for uri in recorded):
            fileio.rmtree(folder)
            removed.append(folder)
    return removed


def _artifact_folders(pipeline_root: str) -> list[str]:
    """`<root>/<node>/<output key>/<execution id>`: where TFX's local runner puts each output."""
    from tfx.dsl.io import fileio

    def children(path: str) -> list[str]:
        if not fileio.isdir(path):
            return []
        return [os.path.join(path, name.rstrip("/")) for name in sorted(fileio.listdir(path))
                if not name.startswith(".")]

    return [folder for node in children(pipeline_root) for key in children(node) for folder in children(key)
            if os.path.basename(folder).isdigit()]
