"""What the local side writes into a run's ML Metadata store, besides what TFX records itself;
pipeline/inspect/ only reads it.

* Executions a run left running are recorded as interrupted (CANCELED in ML Metadata, which
  `lineage` and the report show as "interrupted"): a run stopped by SIGINT or SIGTERM does so at
  once; a run killed outright (SIGKILL, a lost machine) cannot, so the next command that finds
  the output dir idle does it: the next run (pipeline/local/recovery.py), or `lineage` and
  `report` before they read the store (open_for_reading).
* How a run was made (pipeline/inspect/run_made.py RunMade) goes on its run's context.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.config import MetadataConfig
from pipeline.inspect import run_made, store
from pipeline.output_dir import OutputDirLock, OutputLayout

LEFT_RUNNING = (metadata_store_pb2.Execution.NEW, metadata_store_pb2.Execution.RUNNING)

log = logging.getLogger(__name__)


def open_writable(metadata_path: Path) -> metadata_store.MetadataStore:
    """An existing SQLite store, opened for writing (never created)."""
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(metadata_path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
    return metadata_store.MetadataStore(config)


def mark_interrupted(mlmd: metadata_store.MetadataStore) -> list[int]:
    """Records every execution left running as CANCELED; returns their ids."""
    left = [execution for state in LEFT_RUNNING for execution in mlmd.get_executions(list_options=_state_filter(state))]
    for execution in left:
        execution.last_known_state = metadata_store_pb2.Execution.CANCELED
    if left:
        mlmd.put_executions(left)
    return [execution.id for execution in left]


def record_killed_runs(output_dir: Path) -> None:
    """Before `lineage` or `report` reads `output_dir`'s store: when no run holds the dir, what is
    recorded as running was killed. Best effort: a store this user cannot write is read as it is."""
    metadata_path = OutputLayout(output_dir).metadata_path
    if store.schema_version(metadata_path) is None or not OutputDirLock.idle(output_dir):
        return  # no store (opening one for writing would make one), or a live run
    try:
        mark_interrupted(open_writable(metadata_path))
    except Exception as error:  # noqa: BLE001 - a read-only store, a store of another version: read it as it is
        log.debug("Could not record killed runs in %s: %s", metadata_path, error)


def open_for_reading(output_dir: Path, metadata: MetadataConfig) -> metadata_store.MetadataStore:
    """The store `lineage` and `report` read (store.open_configured), after recording what a killed
    run left running in the output dir's SQLite; Kubeflow's store, over gRPC, leaves it untouched."""
    if not metadata.grpc_host:
        record_killed_runs(output_dir)
    return store.open_configured(output_dir, metadata)


def record_run_made(metadata_path: Path, run_id: str, made: run_made.RunMade) -> None:
    """`made` on the context of run `run_id` in the SQLite store at `metadata_path`, if the run
    reached the store (run_made.read reads it back)."""
    mlmd = open_writable(metadata_path)
    run = store.find_run_context(mlmd, run_id)
    if run is None:
        return
    run_made.set_on(run, made)
    mlmd.put_contexts([run])


def _state_filter(state: int) -> metadata_store.ListOptions:
    name = metadata_store_pb2.Execution.State.Name(state)  # MLMD's filter takes the enum's name
    return metadata_store.ListOptions(filter_query=f"last_known_state = {name}")
