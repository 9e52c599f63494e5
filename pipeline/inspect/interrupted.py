"""The store `lineage` and `report` read, as it is: executions a stopped or killed run left
running are recorded as interrupted by the local side before (pipeline/local/store_writes.py),
and show as "interrupted" (CANCELED in ML Metadata).
"""

from __future__ import annotations

from pathlib import Path

from ml_metadata import metadata_store

from pipeline.config import MetadataConfig
from pipeline.inspect import store
from pipeline.output_dir import OutputLayout


def open_for_reading(output_dir: Path, metadata: MetadataConfig) -> metadata_store.MetadataStore:
    """The store `lineage` and `report` read: Kubeflow's when the config names an MLMD gRPC
    service (KFP records its runs itself), else the output dir's SQLite."""
    if metadata.grpc_host:
        return store.open_grpc_store(metadata.grpc_host, metadata.grpc_port)
    return store.open_store(OutputLayout(output_dir).metadata_path)
