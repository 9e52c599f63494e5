"""The ML Metadata store every run writes, opened and decoded: the one reader that knows the
layout of MLMD's protos (pipeline/local/ writes, with its constants). Everything else reads
plain records (ArtifactInfo, ExecutionInfo).

Two layouts are read alike. TFX's local runners give each run a `pipeline_run` context and each
component a `node` context, typed executions, TFX-named artifact types and properties. Kubeflow
Pipelines' launcher (kubeflow/pipelines 2.x, backend/src/v2/metadata/client.go) records a run
as a `system.PipelineRun` context named by the run's id, with a root `system.DAGExecution` and
one `system.ContainerExecution` per task that names it (`task_name`) and holds its parameters
(`inputs`); artifact types take the schema's title (`tfx.Examples`), and every property comes
back as a custom property through its converter (numbers as doubles, read back as ints when
whole, see _kfp_numbers; lists and objects wrapped as {"list": ...} / {"struct": ...}).
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import ml_metadata
from google.protobuf import json_format
from ml_metadata import errors as mlmd_errors
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.errors import PipelineError
from pipeline.config import MetadataConfig
from pipeline.faults import first_line
from pipeline.inspect.states import ComponentStatus
from pipeline.output_dir import OutputLayout

RUN_CONTEXT_TYPES = ("pipeline_run", "system.PipelineRun")  # TFX's local runners', KFP's launcher's
PIPELINE_CONTEXT_TYPES = ("pipeline", "system.Pipeline")  # each run's parent context, named by the pipeline
NODE_CONTEXT_TYPE = "node"
KFP_TASK_NAME = "task_name"  # the custom property naming a KFP execution's task (our node id)
KFP_PARAMETERS = "inputs"  # a KFP execution's parameter values, one struct
KFP_DAG_EXECUTION = "system.DAGExecution"  # a KFP run's root: no component of ours
KFP_TYPE_PREFIX = "tfx."  # what a TFX artifact type's schema title adds to its name
KFP_WRAPPERS = ("struct", "list")  # the keys KFP's converter wraps objects and lists in
STATUS_BY_STATE = {
    metadata_store_pb2.Execution.COMPLETE: ComponentStatus.RAN,
    metadata_store_pb2.Execution.CACHED: ComponentStatus.CACHED,
    metadata_store_pb2.Execution.FAILED: ComponentStatus.FAILED,
    metadata_store_pb2.Execution.CANCELED: ComponentStatus.INTERRUPTED,  # see pipeline/local/store_writes.py
}
OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
# Set by a probe's driver only when it runs, not on a cached run (its consumer gets it as a
# parameter too): it describes the input, not a setting.
DRIVER_PROPERTIES = frozenset({"seen"})
NO_RUNS = "the metadata store has no pipeline run yet (run the pipeline first)"

Store: TypeAlias = metadata_store.MetadataStore


class StoreError(PipelineError):
    """The store is missing or unreadable, or an id is unknown."""


class StoreLocked(StoreError):
    """Another process holds the SQLite store locked."""


@dataclass
class ArtifactInfo:
    id: int
    type: str  # TFX's name in either layout
    uri: str
    state: str
    created_ms: int
    properties: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)  # from the artifact's files, see artifacts.add_metrics


@dataclass
class ExecutionInfo:
    id: int
    node_id: str
    type: str  # the component's class, e.g. tfx.components.trainer.component.Trainer
    status: ComponentStatus
    started_ms: int
    seconds: float
    properties: dict[str, Any]  # as stored; `parameters` decodes them
    inputs: dict[str, list[ArtifactInfo]] = field(default_factory=dict)
    outputs: dict[str, list[ArtifactInfo]] = field(default_factory=dict)
    run_ids: list[str] = field(default_factory=list)

    @functools.cached_property
    def parameters(self) -> dict[str, Any]:
        """The parameters as plain values: TFX stores protos and dicts as JSON strings."""
        result = {}
        for name, value in sorted(self.properties.items()):
            if name not in DRIVER_PROPERTIES:
                value = _plain(json.loads(value) if _is_json(value) else value)
                # ExampleGen's CustomConfig proto holds one field named like the parameter: unwrap it.
                result[name] = value[name] if isinstance(value, dict) and list(value) == [name] else value
        return result


# --- opening the store ----------------------------------------------------------------------


def open_store(metadata_path: Path) -> Store:
    """Opens an existing SQLite MLMD store read-only; never creates one."""
    path = Path(metadata_path)
    if not path.is_file():
        raise StoreError(f"{path}: no metadata store here (run the pipeline first)")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    try:
        return metadata_store.MetadataStore(config)
    except RuntimeError as error:  # what MLMD raises when it cannot open a store
        raise _open_error(path, error) from error


def open_grpc_store(host: str, port: int) -> Store:
    """Connects to an MLMD gRPC service, e.g. Kubeflow's metadata-grpc-service."""
    store = metadata_store.MetadataStore(metadata_store_pb2.MetadataStoreClientConfig(host=host, port=port))
    try:
        store.get_context_types()  # the client connects lazily: fail here, not mid-query
    except mlmd_errors.StatusError as error:
        raise StoreError(f"{host}:{port}: cannot reach the MLMD gRPC service ({first_line(error)})") from error
    return store


def open_configured(output_dir: Path, metadata: MetadataConfig) -> Store:
    """The store `lineage` and `report` read, as it is: Kubeflow's when the config names an MLMD
    gRPC service (KFP records its runs itself), else the output dir's SQLite. What a killed run
    left running the local side records first (pipeline/local/store_writes.open_for_reading)."""
    if metadata.grpc_host:
        return open_grpc_store(metadata.grpc_host, metadata.grpc_port)
    return open_store(OutputLayout(output_dir).metadata_path)


def _open_error(path: Path, error: RuntimeError) -> StoreError:
    version = schema_version(path)
    if version is None:
        kind = "an empty file" if path.stat().st_size == 0 else "not an SQLite MLMD database"
        return StoreError(f"{path}: not a metadata store ({kind})")
    expected = re.search(r"library version (\d+)", str(error))
    if expected and int(expected[1]) != version:
        return StoreError(
            f"{path}: written with MLMD schema version {version}, but ml-metadata {ml_metadata.__version__} "
            f"reads version {expected[1]}: read it with the ml-metadata release that wrote it"
        )
    return StoreError(f"{path}: cannot open the metadata store ({first_line(error)})")


def schema_version(path: Path) -> int | None:
    """The schema version an MLMD SQLite store records; None when the file is not one. StoreLocked
    when another process still holds it locked after SQLite's wait (5 s): a store in use, which
    must never be taken for a file that is not one."""
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as database:
            return int(database.execute("SELECT schema_version FROM MLMDEnv").fetchone()[0])
    except sqlite3.OperationalError as error:
        # SQLITE_BUSY's and SQLITE_LOCKED's messages (Python 3.10's sqlite3 has no error codes).
        if str(error).startswith(("database is locked", "database table is locked")):
            raise StoreLocked(
                f"{path}: the metadata store is locked by another process (a write under way); "
                "wait for it to end and run the command again"
            ) from error
        return None
    except (sqlite3.Error, TypeError, ValueError):
        return None


# --- runs -----------------------------------------------------------------------------------


def run_contexts(store: Store, pipeline_name: str | None = None) -> list[metadata_store_pb2.Context]:
    """The pipeline runs, newest first: all, or those of the pipeline `pipeline_name`.

    KFP's metadata service holds every pipeline's runs; a run's parent context names its
    pipeline (KFP: `system.Pipeline`, backend/src/v2/metadata/client.go GetPipeline; TFX: `pipeline`).
    """
    if pipeline_name is None:
        runs = [run for context_type in RUN_CONTEXT_TYPES for run in store.get_contexts_by_type(context_type)]
    else:
        pipelines = (store.get_context_by_type_and_name(kind, pipeline_name) for kind in PIPELINE_CONTEXT_TYPES)
        runs = [
            child
            for pipeline in pipelines
            if pipeline is not None
            for child in store.get_children_contexts_by_context(pipeline.id)
            if child.type in RUN_CONTEXT_TYPES
        ]
    return sorted(runs, key=lambda run: run.create_time_since_epoch, reverse=True)


def no_runs(pipeline_name: str | None = None) -> StoreError:
    """The error of a store without (this pipeline's) runs."""
    if pipeline_name is None:
        return StoreError(NO_RUNS)
    return StoreError(f"the metadata store has no run of pipeline '{pipeline_name}' yet (run the pipeline first)")


def find_run_context(store: Store, run_id: str) -> metadata_store_pb2.Context | None:
    """The run named exactly `run_id`, or None."""
    found = (store.get_context_by_type_and_name(context_type, run_id) for context_type in RUN_CONTEXT_TYPES)
    return next((run for run in found if run is not None), None)


def find_run(store: Store, run_id: str | None = None, pipeline_name: str | None = None) -> metadata_store_pb2.Context:
    """The run named `run_id` (a prefix is enough), or numbered so by `lineage runs` (1 is the
    oldest; #3 or 3), or the newest run; of the pipeline `pipeline_name` when given."""
    runs = run_contexts(store, pipeline_name)
    if not runs:
        raise no_runs(pipeline_name)
    if run_id is None:
        return runs[0]
    number = run_id.removeprefix("#")
    if number.isdigit() and 1 <= int(number) <= len(runs):
        return runs[len(runs) - int(number)]
    matches = [run for run in runs if run.name == run_id] or [run for run in runs if run.name.startswith(run_id)]
    if len(matches) != 1:
        raise StoreError(f"run '{run_id}' {'is ambiguous' if matches else 'not found'} (see `lineage runs`)")
    return matches[0]


# --- executions -----------------------------------------------------------------------------


def run_executions(store: Store, run: metadata_store_pb2.Context) -> list[ExecutionInfo]:
    """The executions of one run, in the order they started, with their input and output artifacts."""
    executions = sorted(store.get_executions_by_context(run.id), key=lambda e: (e.create_time_since_epoch, e.id))
    infos = [info for info in _execution_infos(store, executions) if info.type != KFP_DAG_EXECUTION]
    for info in infos:
        if info.status is ComponentStatus.CACHED and not info.properties:
            info.properties = _reused_properties(store, info)
    return infos


def executions(store: Store, execution_ids: Iterable[int]) -> list[ExecutionInfo]:
    """Executions by id, with their input and output artifacts."""
    return _execution_infos(store, store.get_executions_by_id(list(execution_ids)))


def linked_executions(store: Store, artifact_id: int, producer: bool) -> list[int]:
    """The execution that made an artifact (`producer`), or those that used it.

    Cached executions record the artifact they reuse as their output too: the first one made it.
    """
    events = store.get_events_by_artifact_ids([artifact_id])
    ids = sorted({event.execution_id for event in events if (event.type in OUTPUT_EVENTS) == producer})
    return ids[:1] if producer else ids


def producer_run(store: Store, artifact_id: int) -> str:
    """The run whose execution made the artifact (what a cached execution reused)."""
    producers = linked_executions(store, artifact_id, producer=True)
    return ", ".join(_run_ids(store, producers[0])) if producers else "-"


def _reused_properties(store: Store, info: ExecutionInfo) -> dict[str, Any]:
    """The parameters of a node a partial run reused (`push RUN` reuses everything before the
    probe): TFX records it with none, so they are those of the execution that made its outputs."""
    outputs = [artifact.id for artifacts in info.outputs.values() for artifact in artifacts]
    producers = linked_executions(store, outputs[0], producer=True) if outputs else []
    if not producers or producers[0] == info.id:
        return {}
    [producer] = store.get_executions_by_id(producers)
    return {**_values(producer.properties), **_values(producer.custom_properties)}


def _execution_infos(store: Store, found: list[metadata_store_pb2.Execution]) -> list[ExecutionInfo]:
    """Executions decoded, with their artifacts: one query each for their events, artifacts and types."""
    events = store.get_events_by_execution_ids([execution.id for execution in found])
    artifacts = {
        a.id: a for a in artifact_infos(store, store.get_artifacts_by_id(list({e.artifact_id for e in events})))
    }
    type_names = _type_names(store.get_execution_types_by_id(list({e.type_id for e in found})))
    infos = {execution.id: _execution_info(store, execution, type_names[execution.type_id]) for execution in found}
    for event in events:
        key = next((step.key for step in event.path.steps if step.HasField("key")), "")
        info = infos[event.execution_id]
        target = info.outputs if event.type in OUTPUT_EVENTS else info.inputs
        target.setdefault(key, []).append(artifacts[event.artifact_id])
    return list(infos.values())


def _execution_info(store: Store, execution: metadata_store_pb2.Execution, type_name: str) -> ExecutionInfo:
    contexts = _contexts_by_type(store, execution.id)
    nodes = contexts.get(NODE_CONTEXT_TYPE, [])
    kfp_task = execution.custom_properties.get(KFP_TASK_NAME)
    if nodes:
        node_id = nodes[0].split(".", 1)[-1]  # `<pipeline>.<node id>`
    else:
        node_id = kfp_task.string_value if kfp_task and kfp_task.string_value else f"execution-{execution.id}"
    if kfp_task is not None:  # KFP's bookkeeping (pod, image, cache) is no parameter of ours
        parameters = execution.custom_properties.get(KFP_PARAMETERS)
        properties = json_format.MessageToDict(parameters.struct_value) if parameters else {}
    else:
        properties = {**_values(execution.properties), **_values(execution.custom_properties)}
    return ExecutionInfo(
        id=execution.id,
        node_id=node_id,
        type=type_name,
        status=STATUS_BY_STATE.get(execution.last_known_state, ComponentStatus.RUNNING),
        started_ms=execution.create_time_since_epoch,
        seconds=(execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000,
        properties=properties,
        run_ids=[name for context_type in RUN_CONTEXT_TYPES for name in contexts.get(context_type, [])],
    )


def _contexts_by_type(store: Store, execution_id: int) -> dict[str, list[str]]:
    """The names of an execution's contexts, by their type's name."""
    contexts = store.get_contexts_by_execution(execution_id)
    type_names = _type_names(store.get_context_types_by_id(list({c.type_id for c in contexts})))
    names: dict[str, list[str]] = {}
    for context in contexts:
        names.setdefault(type_names[context.type_id], []).append(context.name)
    return names


def _run_ids(store: Store, execution_id: int) -> list[str]:
    contexts = _contexts_by_type(store, execution_id)
    return [name for context_type in RUN_CONTEXT_TYPES for name in contexts.get(context_type, [])]


def _type_names(types: Iterable[Any]) -> dict[int, str]:
    return {t.id: t.name for t in types}


# --- artifacts ------------------------------------------------------------------------------


def artifact_infos(store: Store, artifacts: Iterable[metadata_store_pb2.Artifact]) -> list[ArtifactInfo]:
    """Artifacts decoded, in the order given; TFX's type names and ints in either layout."""
    artifacts = list(artifacts)
    type_names = _type_names(store.get_artifact_types_by_id(list({a.type_id for a in artifacts})))
    infos = []
    for artifact in artifacts:
        type_name = type_names[artifact.type_id]
        properties = {**_values(artifact.properties), **_values(artifact.custom_properties)}
        infos.append(
            ArtifactInfo(
                id=artifact.id,
                type=type_name.removeprefix(KFP_TYPE_PREFIX),
                uri=artifact.uri,
                state=metadata_store_pb2.Artifact.State.Name(artifact.state),
                created_ms=artifact.create_time_since_epoch,
                properties=_kfp_numbers(properties) if type_name.startswith(KFP_TYPE_PREFIX) else properties,
            )
        )
    return infos


def artifacts_of_type(store: Store, type_name: str) -> list[ArtifactInfo]:
    """The artifacts of one type, TFX's name (`PushedModel`), in either layout (KFP's `tfx.PushedModel`)."""
    return [
        info
        for name in (type_name, KFP_TYPE_PREFIX + type_name)
        for info in artifact_infos(store, store.get_artifacts_by_type(name))
    ]


def artifacts(
    store: Store, ids: list[int] | None = None, uri: str | None = None, run: metadata_store_pb2.Context | None = None
) -> list[ArtifactInfo]:
    """Artifacts by id, by URI or of one run (every one when none is given), oldest first."""
    if ids is not None:
        found = store.get_artifacts_by_id(ids)
    elif uri is not None:
        found = store.get_artifacts_by_uri(uri)
    elif run is not None:
        found = store.get_artifacts_by_context(run.id)
    else:
        found = store.get_artifacts()
    return artifact_infos(store, sorted(found, key=lambda artifact: artifact.id))


def artifact_type_names(store: Store) -> set[str]:
    """The artifact types the store knows, by TFX's names."""
    return {t.name.removeprefix(KFP_TYPE_PREFIX) for t in store.get_artifact_types()}


def split_names(properties: dict[str, Any]) -> list[str]:
    """The splits an Examples or statistics artifact holds (TFX keeps them as a JSON list)."""
    return json.loads(properties.get("split_names", "[]"))


def artifacts_of(executions: Iterable[ExecutionInfo], side: str) -> list[ArtifactInfo]:
    """The input (`side` "inputs") or output artifacts of the executions."""
    return [artifact for info in executions for artifacts in getattr(info, side).values() for artifact in artifacts]


# --- plain values ---------------------------------------------------------------------------


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level of dotted keys; lists and scalars stay as they are."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _values(properties) -> dict[str, Any]:
    """MLMD Value protos -> plain Python values."""
    result = {}
    for name, value in properties.items():
        kind = value.WhichOneof("value")
        if kind == "struct_value":
            data = json_format.MessageToDict(value.struct_value)
            if len(data) == 1 and next(iter(data)) in KFP_WRAPPERS:
                data = next(iter(data.values()))
            # TFX wraps a JSON custom property that is not an object as {"__value__": value}
            # (set_json_value_custom_property): a list as it is, a string holding JSON.
            wrapped = data.get("__value__") if isinstance(data, dict) and set(data) == {"__value__"} else data
            result[name] = json.loads(wrapped) if isinstance(wrapped, str) else wrapped
        elif kind is not None:
            result[name] = getattr(value, kind)
    return result


def _kfp_numbers(properties: dict[str, Any]) -> dict[str, Any]:
    """A KFP-layout artifact's properties with TFX's ints back: KFP's converter stores every
    number of an artifact's metadata as a double, so a whole double was an int (a float that
    happens to be whole, a precision of 1.0, reads as 1: the store no longer tells them apart).
    Objects and lists are stored as TFX stores them (Structs of doubles in both layouts): left as they are."""
    return {
        name: int(value) if isinstance(value, float) and value.is_integer() else value
        for name, value in properties.items()
    }


def _is_json(value: Any) -> bool:
    return isinstance(value, str) and (value[:1] in ("{", "[") or value == "null")


def _plain(value: Any) -> Any:
    """Unwraps protobuf Any ({"@type", "value"}); whole floats become ints (a Struct's numbers are floats)."""
    if isinstance(value, dict):
        if set(value) == {"@type", "value"}:
            return _plain(value["value"])
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
