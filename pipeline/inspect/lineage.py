"""Queries on the ML Metadata store that every TFX run writes: runs, executions, artifacts.

The run summary and `mnist-pipeline lineage` read the store through these functions only.
They return plain data (dataclasses); pipeline/inspect/lineage_report.py turns it into tables, JSON
and Graphviz DOT.

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

import json
import os
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ml_metadata
from google.protobuf import json_format
from ml_metadata import errors as mlmd_errors
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components import files, model_integrity
from components import serving_dir as serving
from components.errors import PipelineError
from components.idx_example_gen.settings import IDX_ROLES
from pipeline import node_ids
from pipeline.inspect import artifact_metrics
from pipeline.inspect.states import ComponentStatus, RunStatus

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
    metadata_store_pb2.Execution.CANCELED: ComponentStatus.INTERRUPTED,  # see pipeline/inspect/interrupted.py
}
OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
PUSHED_LATEST = "pushed:latest"
# Set by a driver only when its component runs, not on a cached run: a probe's `seen` (which its
# consumer gets as a parameter too), and older runs' ExampleGen driver's fingerprint of the files.
# They describe the input, not a setting.
DRIVER_PROPERTIES = frozenset({"seen", "span", "version", "input_fingerprint"})
NO_RUNS = "the metadata store has no pipeline run yet (run the pipeline first)"


class LineageError(PipelineError):
    """The store is missing or unreadable, or an id is unknown."""


class StoreLocked(LineageError):
    """Another process holds the SQLite store locked."""


@dataclass
class ArtifactInfo:
    id: int
    type: str
    uri: str
    state: str
    created_ms: int
    properties: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)  # from the artifact's files, see add_metrics


@dataclass
class ExecutionInfo:
    id: int
    node_id: str
    type: str  # the component's class, e.g. tfx.components.trainer.component.Trainer
    status: ComponentStatus
    started_ms: int
    seconds: float
    properties: dict[str, Any]
    inputs: dict[str, list[ArtifactInfo]] = field(default_factory=dict)
    outputs: dict[str, list[ArtifactInfo]] = field(default_factory=dict)
    run_ids: list[str] = field(default_factory=list)


@dataclass
class RunInfo:
    id: str
    started_ms: int
    seconds: float
    status: RunStatus
    components: list[ExecutionInfo]


@dataclass
class Step:
    """An execution on the way to an artifact, with its parameters and the versions of its code."""

    execution: ExecutionInfo
    parameters: dict[str, Any]
    versions: dict[str, str]


@dataclass
class InputFile:
    """An IDX file as IdxExampleGen recorded it on its Examples."""

    role: str
    name: str
    sha256: str
    examples_id: int


@dataclass
class Trace:
    artifact: ArtifactInfo
    upstream: list[Step]  # from the artifact's producer back to the ingest, newest first
    input_files: list[InputFile]
    downstream: list[ExecutionInfo]  # the executions that used it or what came of it, oldest first
    runs_made: dict[str, Any] = field(default_factory=dict)  # run id -> run_made.RunMade, of the upstream runs


# --- opening the store ----------------------------------------------------------------------


def open_store(metadata_path: Path) -> metadata_store.MetadataStore:
    """Opens an existing SQLite MLMD store; never creates one."""
    path = Path(metadata_path)
    if not path.is_file():
        raise LineageError(f"{path}: no metadata store here (run the pipeline first)")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    try:
        return metadata_store.MetadataStore(config)
    except RuntimeError as error:  # what MLMD raises when it cannot open a store
        raise _open_error(path, error) from error


def open_grpc_store(host: str, port: int) -> metadata_store.MetadataStore:
    """Connects to an MLMD gRPC service, e.g. Kubeflow's metadata-grpc-service."""
    store = metadata_store.MetadataStore(metadata_store_pb2.MetadataStoreClientConfig(host=host, port=port))
    try:
        store.get_context_types()  # the client connects lazily: fail here, not mid-query
    except mlmd_errors.StatusError as error:
        raise LineageError(f"{host}:{port}: cannot reach the MLMD gRPC service ({_first_line(error)})") from error
    return store


def _open_error(path: Path, error: RuntimeError) -> LineageError:
    version = schema_version(path)
    if version is None:
        kind = "an empty file" if path.stat().st_size == 0 else "not an SQLite MLMD database"
        return LineageError(f"{path}: not a metadata store ({kind})")
    expected = re.search(r"library version (\d+)", str(error))
    if expected and int(expected[1]) != version:
        return LineageError(
            f"{path}: written with MLMD schema version {version}, but ml-metadata {ml_metadata.__version__} "
            f"reads version {expected[1]}: read it with the ml-metadata release that wrote it"
        )
    return LineageError(f"{path}: cannot open the metadata store ({_first_line(error)})")


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


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


# --- runs and executions --------------------------------------------------------------------


def run_contexts(
    store: metadata_store.MetadataStore, pipeline_name: str | None = None
) -> list[metadata_store_pb2.Context]:
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


def no_runs(pipeline_name: str | None = None) -> LineageError:
    """The error of a store without (this pipeline's) runs."""
    if pipeline_name is None:
        return LineageError(NO_RUNS)
    return LineageError(f"the metadata store has no run of pipeline '{pipeline_name}' yet (run the pipeline first)")


def find_run_context(store: metadata_store.MetadataStore, run_id: str) -> metadata_store_pb2.Context | None:
    """The run named exactly `run_id`, or None."""
    found = (store.get_context_by_type_and_name(context_type, run_id) for context_type in RUN_CONTEXT_TYPES)
    return next((run for run in found if run is not None), None)


def find_run(
    store: metadata_store.MetadataStore, run_id: str | None = None, pipeline_name: str | None = None
) -> metadata_store_pb2.Context:
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
        raise LineageError(f"run '{run_id}' {'is ambiguous' if matches else 'not found'} (see `lineage runs`)")
    return matches[0]


def list_runs(store: metadata_store.MetadataStore, pipeline_name: str | None = None) -> list[RunInfo]:
    """Every run (of the pipeline `pipeline_name` when given), newest first, with the status of
    each of its components."""
    runs = run_contexts(store, pipeline_name)
    if not runs:
        raise no_runs(pipeline_name)
    return [run_info(store, run) for run in runs]


def run_info(
    store: metadata_store.MetadataStore,
    run: metadata_store_pb2.Context,
    with_artifacts: bool = False,
    leave_out: str | None = None,
) -> RunInfo:
    """One run: when it started, how long it took, and how it ended; without the node
    `leave_out` (a node that describes the run while it runs: the Kubeflow report task)."""
    executions = [e for e in run_executions(store, run, with_artifacts) if e.node_id != leave_out]
    started = min((e.started_ms for e in executions), default=run.create_time_since_epoch)
    ended = max((e.started_ms + e.seconds * 1000 for e in executions), default=started)
    statuses = {execution.status for execution in executions}
    status = RunStatus.of(statuses)
    return RunInfo(
        id=run.name,
        started_ms=started,
        seconds=round((ended - started) / 1000, 1),
        status=status,
        components=executions,
    )


def run_executions(
    store: metadata_store.MetadataStore, run: metadata_store_pb2.Context, with_artifacts: bool = False
) -> list[ExecutionInfo]:
    """The executions of one run, in the order they started."""
    executions = sorted(store.get_executions_by_context(run.id), key=lambda e: (e.create_time_since_epoch, e.id))
    infos = [_execution_info(store, execution) for execution in executions]
    infos = [info for info in infos if info.type != KFP_DAG_EXECUTION]
    for info in infos:
        if info.status is ComponentStatus.CACHED and not info.properties:
            info.properties = _reused_properties(store, info.id)
    if with_artifacts:
        for info in infos:
            info.inputs, info.outputs = execution_artifacts(store, info.id)
    return infos


def _reused_properties(store: metadata_store.MetadataStore, execution_id: int) -> dict[str, Any]:
    """The parameters of a node a partial run reused (`push RUN` reuses everything before the
    probe): TFX records it with none, so they are those of the execution that made its outputs."""
    outputs = [e.artifact_id for e in store.get_events_by_execution_ids([execution_id]) if e.type in OUTPUT_EVENTS]
    producers = _linked_executions(store, outputs[0], producer=True) if outputs else []
    if not producers or producers[0] == execution_id:
        return {}
    [producer] = store.get_executions_by_id(producers)
    return {**_values(producer.properties), **_values(producer.custom_properties)}


def execution(store: metadata_store.MetadataStore, execution_id: int) -> ExecutionInfo:
    """One execution with its input and output artifacts."""
    [found] = store.get_executions_by_id([execution_id])
    info = _execution_info(store, found)
    info.inputs, info.outputs = execution_artifacts(store, execution_id)
    return info


def execution_artifacts(
    store: metadata_store.MetadataStore, execution_id: int
) -> tuple[dict[str, list[ArtifactInfo]], dict[str, list[ArtifactInfo]]]:
    """An execution's input and output artifacts, by their keys."""
    events = store.get_events_by_execution_ids([execution_id])
    artifacts = {a.id: a for a in store.get_artifacts_by_id([event.artifact_id for event in events])}
    inputs: dict[str, list[ArtifactInfo]] = {}
    outputs: dict[str, list[ArtifactInfo]] = {}
    for event in events:
        key = next((step.key for step in event.path.steps if step.HasField("key")), "")
        target = outputs if event.type in OUTPUT_EVENTS else inputs
        target.setdefault(key, []).append(artifact_info(store, artifacts[event.artifact_id]))
    return inputs, outputs


def parameters(execution_info: ExecutionInfo) -> dict[str, Any]:
    """An execution's parameters as plain values: TFX stores protos and dicts as JSON strings."""
    result = {}
    for name, value in sorted(execution_info.properties.items()):
        if name not in DRIVER_PROPERTIES:
            value = _plain(json.loads(value) if _is_json(value) else value)
            # ExampleGen's CustomConfig proto holds one field named like the parameter: unwrap it.
            result[name] = value[name] if isinstance(value, dict) and list(value) == [name] else value
    return result


def versions(execution_info: ExecutionInfo, execution_parameters: dict[str, Any]) -> dict[str, str]:
    """What code ran: the component's class, the TFX release and the code hashes among the parameters."""
    tfx_versions = [
        a.properties["tfx_version"]
        for artifacts in execution_info.outputs.values()
        for a in artifacts
        if "tfx_version" in a.properties
    ]
    hashes = {key: value for key, value in flatten(execution_parameters).items() if key.endswith("sha256")}
    return {"component": execution_info.type, **({"tfx": tfx_versions[0]} if tfx_versions else {}), **hashes}


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level of dotted keys; lists and scalars stay as they are."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _execution_info(store: metadata_store.MetadataStore, execution: metadata_store_pb2.Execution) -> ExecutionInfo:
    contexts = store.get_contexts_by_execution(execution.id)
    type_names = {t.id: t.name for t in store.get_context_types_by_id(list({c.type_id for c in contexts}))}
    names_by_type: dict[str, list[str]] = {}
    for context in contexts:
        names_by_type.setdefault(type_names[context.type_id], []).append(context.name)
    nodes = names_by_type.get(NODE_CONTEXT_TYPE, [])
    kfp_task = execution.custom_properties.get(KFP_TASK_NAME)
    if nodes:
        node_id = node_ids.current(nodes[0].split(".", 1)[-1])
    else:
        node_id = kfp_task.string_value if kfp_task and kfp_task.string_value else f"execution-{execution.id}"
    if kfp_task is not None:  # KFP's bookkeeping (pod, image, cache) is no parameter of ours
        parameters = execution.custom_properties.get(KFP_PARAMETERS)
        properties = json_format.MessageToDict(parameters.struct_value) if parameters else {}
    else:
        properties = {**_values(execution.properties), **_values(execution.custom_properties)}
    [execution_type] = store.get_execution_types_by_id([execution.type_id])
    status = STATUS_BY_STATE.get(execution.last_known_state, ComponentStatus.RUNNING)
    return ExecutionInfo(
        id=execution.id,
        node_id=node_id,
        type=execution_type.name,
        status=status,
        started_ms=execution.create_time_since_epoch,
        seconds=(execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000,
        properties=properties,
        run_ids=[name for context_type in RUN_CONTEXT_TYPES for name in names_by_type.get(context_type, [])],
    )


# --- artifacts ------------------------------------------------------------------------------


def artifact_info(store: metadata_store.MetadataStore, artifact: metadata_store_pb2.Artifact) -> ArtifactInfo:
    [artifact_type] = store.get_artifact_types_by_id([artifact.type_id])
    properties = {**_values(artifact.properties), **_values(artifact.custom_properties)}
    if artifact_type.name.startswith(KFP_TYPE_PREFIX):
        properties = _kfp_numbers(properties)
    return ArtifactInfo(
        id=artifact.id,
        type=artifact_type.name.removeprefix(KFP_TYPE_PREFIX),
        uri=artifact.uri,
        state=metadata_store_pb2.Artifact.State.Name(artifact.state),
        created_ms=artifact.create_time_since_epoch,
        properties=properties,
    )


def list_artifacts(
    store: metadata_store.MetadataStore, artifact_type: str | None = None, run_id: str | None = None
) -> list[ArtifactInfo]:
    """Artifacts, newest first: all, of one type (any case), and/or of one run; with their metrics."""
    if run_id is not None:
        artifacts = store.get_artifacts_by_context(find_run(store, run_id).id)
    elif not run_contexts(store):
        raise LineageError(NO_RUNS)
    else:
        artifacts = store.get_artifacts()
    infos = [artifact_info(store, artifact) for artifact in sorted(artifacts, key=lambda a: a.id, reverse=True)]
    if artifact_type is not None:
        names = {t.name.removeprefix(KFP_TYPE_PREFIX) for t in store.get_artifact_types()}
        known = {name.lower(): name for name in names}
        if artifact_type.lower() not in known:
            raise LineageError(f"unknown artifact type '{artifact_type}' (known: {', '.join(sorted(known.values()))})")
        infos = [info for info in infos if info.type == known[artifact_type.lower()]]
    add_metrics(store, infos)
    return infos


def find_artifact(store: metadata_store.MetadataStore, reference: str, serving_dir: str | None = None) -> ArtifactInfo:
    """The artifact with this id or URI (a pushed model also by where it was pushed), or
    pushed:latest: what `serving_dir` serves (see _latest_pushed)."""
    if not run_contexts(store):
        raise LineageError(NO_RUNS)
    if reference == PUSHED_LATEST:
        return _latest_pushed(store, serving_dir)
    if ":" in reference and "://" not in reference and not reference.startswith(("/", ".")):
        raise LineageError(f"'{reference}' is not an artifact id, a URI or {PUSHED_LATEST}")
    if reference.isdigit():
        found = store.get_artifacts_by_id([int(reference)])
        if not found:
            raise LineageError(f"no artifact with id {reference} in the metadata store (see `lineage artifacts`)")
        return artifact_info(store, found[0])
    uri = (reference if "://" in reference else os.path.abspath(reference)).rstrip("/")  # local URIs are absolute
    found = store.get_artifacts_by_uri(uri)
    if found:
        return artifact_info(store, max(found, key=lambda a: a.id))
    pushed = [info for info in _pushed_models(store) if info.properties.get("pushed_destination") == uri]
    if pushed:
        return pushed[-1]
    raise LineageError(
        f"no artifact with URI {uri} in the metadata store; give an id, a URI or {PUSHED_LATEST} "
        "(see `lineage artifacts`)"
    )


def add_metrics(store: metadata_store.MetadataStore, infos: list[ArtifactInfo]) -> None:
    """Adds the metrics: Precision@1 per split to the Trainer's models (from its files), the
    Evaluators' figures to evaluations (from their properties)."""
    for info in infos:
        if info.type == "ModelEvaluation":
            info.metrics = artifact_metrics.evaluation_metrics(info.properties)
        elif info.type == "Model":
            for producer_id in _linked_executions(store, info.id, producer=True):
                model_runs = execution(store, producer_id).outputs.get("model_run", [])
                info.metrics = artifact_metrics.trainer_metrics(model_runs[0].uri) if model_runs else {}


def artifacts_of_type(store: metadata_store.MetadataStore, type_name: str) -> list[ArtifactInfo]:
    """The artifacts of one type, TFX's name (`PushedModel`), in either layout (KFP's `tfx.PushedModel`)."""
    return [
        artifact_info(store, artifact)
        for name in (type_name, KFP_TYPE_PREFIX + type_name)
        for artifact in store.get_artifacts_by_type(name)
    ]


def _pushed_models(store: metadata_store.MetadataStore) -> list[ArtifactInfo]:
    """The models pushed to serving whose version is still there (recovery.mark_removed_pushes), oldest first."""
    pushed = [
        info
        for info in artifacts_of_type(store, "PushedModel")
        if info.properties.get("pushed") == 1 and info.state == "LIVE"
    ]
    return sorted(pushed, key=lambda info: (int(info.properties.get("pushed_version") or 0), info.id))


def _latest_pushed(store: metadata_store.MetadataStore, serving_dir: str | None) -> ArtifactInfo:
    """The model being served: the highest version in `serving_dir`, as TF Serving and `predict`
    take it, credited by content: a record of its push, or a Trainer's Model, counts only if the
    model's digest is the one the version's marker holds (a store that was lost reuses execution
    ids, so the paths of other models). A version whose push a killed run never recorded is
    found by its marker, as the Trainer's Model it holds (the next run records the push).
    Without a serving dir: the highest version MLMD recorded."""
    pushed = _pushed_models(store)
    if serving_dir is None:
        if not pushed:
            raise LineageError(f"{PUSHED_LATEST}: no model has been pushed yet")
        return pushed[-1]
    served = serving.latest(serving_dir)
    if served is None:
        raise LineageError(
            f"{PUSHED_LATEST}: {serving_dir} serves no model"
            + (" (the versions pushed earlier were removed)" if pushed else "")
        )
    recorded = [
        info
        for info in pushed
        if _same_place(info.properties.get("pushed_destination"), served.path)
        and _same_content(info.properties.get(model_integrity.DIGEST_PROPERTY), served.model_sha256)
    ]
    if recorded:
        return recorded[-1]
    models = [
        model
        for model in store.get_artifacts_by_uri(served.model_uri)
        if _same_content(_values(model.custom_properties).get(model_integrity.DIGEST_PROPERTY), served.model_sha256)
    ]
    if not models:
        raise LineageError(
            f"{served.path}: served, but no model in the metadata store has its content (model_sha256 "
            f"{served.model_sha256 or 'not in its marker'}): the records of the run that made it are not in this store"
        )
    model = artifact_info(store, models[-1])
    model.properties["served_as"] = (
        f"{served.path} (push not recorded: the run was interrupted; the next run records it)"
    )
    return model


def _same_content(recorded: str | None, served: str | None) -> bool:
    """A record credits a served version only if both name the same content (a push recorded
    before records carried the digest is taken by its place)."""
    return recorded is None if served is None else recorded == served


def is_complete_version(path: str) -> bool:
    """Whether the serving dir still holds version `path` whole (its marker is there)."""
    return files.exists(os.path.join(path, serving.MARKER_FILE))


def _same_place(a: str | None, b: str | None) -> bool:
    """Two paths or URIs name the same place (`outputs/serving/1` and `/abs/outputs/serving/1/`)."""
    if not a or not b:
        return False
    return _normalized(a) == _normalized(b)


def _normalized(location: str) -> str:
    return location.rstrip("/") if "://" in location else os.path.abspath(location)


# --- trace ----------------------------------------------------------------------------------


def trace(store: metadata_store.MetadataStore, reference: str, serving_dir: str | None = None) -> Trace:
    """Where an artifact came from (down to the IDX files) and what used it."""
    artifact = find_artifact(store, reference, serving_dir)
    upstream = sorted(_walk(store, artifact.id, upstream=True), key=lambda e: e.id, reverse=True)
    downstream = sorted(_walk(store, artifact.id, upstream=False), key=lambda e: e.id)
    add_metrics(store, [artifact, *artifacts_of(upstream, "outputs"), *artifacts_of(downstream, "outputs")])
    steps = []
    for info in upstream:
        execution_parameters = parameters(info)
        steps.append(Step(info, execution_parameters, versions(info, execution_parameters)))
    return Trace(artifact, steps, input_files(upstream), downstream)


def _walk(store: metadata_store.MetadataStore, artifact_id: int, upstream: bool) -> list[ExecutionInfo]:
    """The executions reached from an artifact: producers and their inputs, or users and their outputs."""
    found: dict[int, ExecutionInfo] = {}
    queue, seen = [artifact_id], {artifact_id}
    while queue:
        for execution_id in _linked_executions(store, queue.pop(0), producer=upstream):
            if execution_id in found:
                continue
            info = found[execution_id] = execution(store, execution_id)
            if not upstream and info.status == "cached":
                continue  # its outputs are those of the execution it reused, reached already
            for artifact in artifacts_of([info], "inputs" if upstream else "outputs"):
                if artifact.id not in seen:
                    seen.add(artifact.id)
                    queue.append(artifact.id)
    return list(found.values())


def producer_run(store: metadata_store.MetadataStore, artifact_id: int) -> str:
    """The run whose execution made the artifact (what a cached execution reused)."""
    producers = _linked_executions(store, artifact_id, producer=True)
    return ", ".join(execution(store, producers[0]).run_ids) if producers else "-"


def split_names(properties: dict[str, Any]) -> list[str]:
    """The splits an Examples or statistics artifact holds (TFX keeps them as a JSON list)."""
    return json.loads(properties.get("split_names", "[]"))


def _linked_executions(store: metadata_store.MetadataStore, artifact_id: int, producer: bool) -> list[int]:
    """The execution that made an artifact (`producer`), or those that used it.

    Cached executions record the artifact they reuse as their output too: the first one made it.
    """
    events = store.get_events_by_artifact_ids([artifact_id])
    ids = sorted({event.execution_id for event in events if (event.type in OUTPUT_EVENTS) == producer})
    return ids[:1] if producer else ids


def artifacts_of(executions: list[ExecutionInfo], side: str) -> list[ArtifactInfo]:
    return [artifact for info in executions for artifacts in getattr(info, side).values() for artifact in artifacts]


def input_files(executions: list[ExecutionInfo]) -> list[InputFile]:
    """The IDX files recorded on the Examples among the executions' outputs."""
    return [
        InputFile(
            role, examples.properties[f"input_file_{role}"], examples.properties[f"input_sha256_{role}"], examples.id
        )
        for examples in artifacts_of(executions, "outputs")
        if examples.type == "Examples"
        for role in IDX_ROLES
        if f"input_file_{role}" in examples.properties
    ]


# --- plain values ---------------------------------------------------------------------------


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
