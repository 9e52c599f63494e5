"""Queries on the ML Metadata store that every TFX run writes: runs, executions, artifacts.

The run summary and `mnist-pipeline lineage` read the store through these functions only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from ml_metadata import errors as mlmd_errors
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.errors import PipelineError

RUN_CONTEXT_TYPE = "pipeline_run"  # the context LocalDagRunner and Kubeflow give each run
NODE_CONTEXT_TYPE = "node"
STATUS_BY_STATE = {
    metadata_store_pb2.Execution.COMPLETE: "ran",
    metadata_store_pb2.Execution.CACHED: "cached",
    metadata_store_pb2.Execution.FAILED: "failed",
}


class LineageError(PipelineError):
    """The store is missing or unreadable, or an id is unknown."""


@dataclass
class ArtifactInfo:
    id: int
    type: str
    uri: str
    state: str
    created_ms: int
    properties: dict[str, Any]


@dataclass
class ExecutionInfo:
    id: int
    node_id: str
    type: str  # the component's class, e.g. tfx.components.trainer.component.Trainer
    status: str  # ran | cached | failed | running; a Resolver "resolved" (it is a lookup, never cached)
    started_ms: int
    seconds: float
    properties: dict[str, Any]
    inputs: dict[str, list[ArtifactInfo]] = field(default_factory=dict)
    outputs: dict[str, list[ArtifactInfo]] = field(default_factory=dict)


def open_store(metadata_path: Path) -> metadata_store.MetadataStore:
    """Opens an existing SQLite MLMD store; never creates one."""
    if not Path(metadata_path).is_file():
        raise LineageError(f"{metadata_path}: no metadata store here (run the pipeline first)")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(metadata_path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    try:
        return metadata_store.MetadataStore(config)
    except mlmd_errors.MlmdError as error:  # e.g. a store written by another MLMD schema version
        raise LineageError(f"{metadata_path}: cannot open the metadata store ({error})") from error


def run_contexts(store: metadata_store.MetadataStore) -> list[metadata_store_pb2.Context]:
    """All pipeline runs, newest first."""
    return sorted(store.get_contexts_by_type(RUN_CONTEXT_TYPE), key=lambda run: run.create_time_since_epoch, reverse=True)


def find_run(store: metadata_store.MetadataStore, run_id: str | None = None) -> metadata_store_pb2.Context:
    """The run named `run_id` (a prefix is enough), or the newest run."""
    runs = run_contexts(store)
    if not runs:
        raise LineageError("the metadata store has no pipeline run yet")
    if run_id is None:
        return runs[0]
    matches = [run for run in runs if run.name.startswith(run_id)]
    if len(matches) != 1:
        raise LineageError(f"run '{run_id}' {'is ambiguous' if matches else 'not found'} (see `lineage runs`)")
    return matches[0]


def run_executions(
    store: metadata_store.MetadataStore, run: metadata_store_pb2.Context, with_artifacts: bool = False
) -> list[ExecutionInfo]:
    """The executions of one run, in the order they started."""
    executions = sorted(store.get_executions_by_context(run.id), key=lambda e: (e.create_time_since_epoch, e.id))
    infos = [_execution_info(store, execution) for execution in executions]
    if with_artifacts:
        for info in infos:
            info.inputs, info.outputs = execution_artifacts(store, info.id)
    return infos


def execution_artifacts(
    store: metadata_store.MetadataStore, execution_id: int
) -> tuple[dict[str, list[ArtifactInfo]], dict[str, list[ArtifactInfo]]]:
    """An execution's input and output artifacts, by their keys."""
    events = store.get_events_by_execution_ids([execution_id])
    artifacts = {a.id: a for a in store.get_artifacts_by_id([event.artifact_id for event in events])}
    inputs: dict[str, list[ArtifactInfo]] = {}
    outputs: dict[str, list[ArtifactInfo]] = {}
    for event in events:
        is_output = event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
        key = next((step.key for step in event.path.steps if step.HasField("key")), "")
        (outputs if is_output else inputs).setdefault(key, []).append(artifact_info(store, artifacts[event.artifact_id]))
    return inputs, outputs


def artifact_info(store: metadata_store.MetadataStore, artifact: metadata_store_pb2.Artifact) -> ArtifactInfo:
    [artifact_type] = store.get_artifact_types_by_id([artifact.type_id])
    return ArtifactInfo(
        id=artifact.id,
        type=artifact_type.name,
        uri=artifact.uri,
        state=metadata_store_pb2.Artifact.State.Name(artifact.state),
        created_ms=artifact.create_time_since_epoch,
        properties={**_values(artifact.properties), **_values(artifact.custom_properties)},
    )


def _execution_info(store: metadata_store.MetadataStore, execution: metadata_store_pb2.Execution) -> ExecutionInfo:
    nodes = [c.name for c in store.get_contexts_by_execution(execution.id) if _context_type(store, c) == NODE_CONTEXT_TYPE]
    node_id = nodes[0].split(".", 1)[-1] if nodes else f"execution-{execution.id}"
    [execution_type] = store.get_execution_types_by_id([execution.type_id])
    status = STATUS_BY_STATE.get(execution.last_known_state, "running")
    if execution_type.name.endswith(".Resolver") and status == "ran":
        status = "resolved"
    return ExecutionInfo(
        id=execution.id,
        node_id=node_id,
        type=execution_type.name,
        status=status,
        started_ms=execution.create_time_since_epoch,
        seconds=(execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000,
        properties={**_values(execution.properties), **_values(execution.custom_properties)},
    )


def _context_type(store: metadata_store.MetadataStore, context: metadata_store_pb2.Context) -> str:
    return store.get_context_types_by_id([context.type_id])[0].name


def _values(properties) -> dict[str, Any]:
    """MLMD Value protos -> plain Python values."""
    result = {}
    for name, value in properties.items():
        kind = value.WhichOneof("value")
        if kind == "struct_value":
            data = json_format.MessageToDict(value.struct_value)
            # TFX wraps JSON custom properties as {"__value__": "<json>"}.
            result[name] = json.loads(data["__value__"]) if set(data) == {"__value__"} else data
        elif kind is not None:
            result[name] = getattr(value, kind)
    return result
