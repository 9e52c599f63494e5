"""Runs that ended without finishing, recorded as interrupted rather than running forever.

A run stopped by SIGINT or SIGTERM records at once what it left running; a run killed outright
(SIGKILL, a lost machine) cannot, so the next command that finds the output dir idle does it: the
next run, or `lineage` and `report`, which read the store. An execution so recorded is CANCELED
in ML Metadata, which `lineage` and the report show as "interrupted".
"""

from __future__ import annotations

import logging
from pathlib import Path

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.config import MetadataConfig
from pipeline.inspect import store as mlmd
from pipeline.output_dir import OutputDirLock, OutputLayout

LEFT_RUNNING = (metadata_store_pb2.Execution.NEW, metadata_store_pb2.Execution.RUNNING)

log = logging.getLogger(__name__)


def open_for_reading(output_dir: Path, metadata: MetadataConfig) -> metadata_store.MetadataStore:
    """The store `lineage` and `report` read: Kubeflow's when the config names an MLMD gRPC
    service (KFP records its runs itself), else the output dir's SQLite, with what a killed run
    left running recorded as interrupted first."""
    if metadata.grpc_host:
        return mlmd.open_grpc_store(metadata.grpc_host, metadata.grpc_port)
    record_killed_runs(output_dir)
    return mlmd.open_store(OutputLayout(output_dir).metadata_path)


def open_writable(metadata_path: Path) -> metadata_store.MetadataStore:
    """An existing SQLite store, opened for writing (never created)."""
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(metadata_path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
    return metadata_store.MetadataStore(config)


def record_killed_runs(output_dir: Path) -> None:
    """For readers: when no run holds `output_dir`, what is recorded as running was killed. Best
    effort: a store this user cannot write is read as it is."""
    metadata_path = OutputLayout(output_dir).metadata_path
    if mlmd.schema_version(metadata_path) is None or not OutputDirLock.idle(output_dir):
        return  # no store (opening one for writing would make one), or a live run
    try:
        mark_interrupted(open_writable(metadata_path))
    except Exception as error:  # noqa: BLE001 - a read-only store, a store of another version: read it as it is
        log.debug("Could not record killed runs in %s: %s", metadata_path, error)


def mark_interrupted(store: metadata_store.MetadataStore) -> list[int]:
    """Records every execution left running as CANCELED; returns their ids."""
    left = [
        execution for state in LEFT_RUNNING for execution in store.get_executions(list_options=_state_filter(state))
    ]
    for execution in left:
        execution.last_known_state = metadata_store_pb2.Execution.CANCELED
    if left:
        store.put_executions(left)
    return [execution.id for execution in left]


def _state_filter(state: int) -> metadata_store.ListOptions:
    name = metadata_store_pb2.Execution.State.Name(state)  # MLMD's filter takes the enum's name
    return metadata_store.ListOptions(filter_query=f"last_known_state = {name}")
