"""The ML Metadata store of a Kubeflow Pipelines 2.17.0 backend, written as its driver and launcher write it.

tests/support/kfp_launcher.py records every run here, in a real MLMD store (SQLite), through the calls
KFP's Go client makes (kubeflow/pipelines, tag 2.17.0, backend/src/v2/metadata/client.go unless
another file is named), so that `lineage` and `report` can be tried on a store laid out the way a
cluster's is:

* contexts: the pipeline (`system.Pipeline`, named by pipelineInfo.name) and each run
  (`system.PipelineRun`, named by the run's id, with namespace, resource_name, pipeline_root and
  store_session_info), the run a child of the pipeline (GetPipeline);
* executions: the run's root DAG (`system.DAGExecution` named `run/<id>`, driver/root_dag.go
  RootDAG) and one `system.ContainerExecution` per task (driver/container.go Container), with
  display_name, task_name, parent_dag_id, pod_name, image, cache fingerprint and `inputs`, the
  parameter values as one struct (CreateExecution); created RUNNING with INPUT events, then
  published COMPLETE or FAILED (launcher_v2.go Execute) or CACHED (driver/container.go, reusing the cached
  execution's artifacts) with OUTPUT events named by the output key and `outputs`, the output
  parameters (PublishExecution); a retried task's execution RUNNING again (PrePublishExecution),
  then published again, its OUTPUT events added to the failed attempt's; executions and their
  artifacts in both contexts (PutExecution);
* artifacts: typed by their schema's title (SchemaToArtifactType: `tfx.Examples`, ...), no name,
  every metadata field a custom property through converter.go StructValueToMLMDValue (a
  number a double, a bool an int, a list or struct wrapped as {"list": ...} / {"struct": ...}),
  plus display_name and store_session_info (RecordArtifact).

The cache itself is the API server's task table in KFP (cacheutils/cache.go); here a dict.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format, struct_pb2
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

PIPELINE_CONTEXT = "system.Pipeline"
RUN_CONTEXT = "system.PipelineRun"
CONTAINER_EXECUTION = "system.ContainerExecution"
DAG_EXECUTION = "system.DAGExecution"
NAMESPACE = "kubeflow"
RUN_RESOURCE = "run-resource"  # driver/root_dag.go: the literal KFP 2.17 records
# config/s3.go S3ProviderConfig.ProvideSessionInfo: no `kfp-launcher` providers -> credentials from the env.
S3_SESSION_INFO = json.dumps({"Provider": "s3", "Params": {"fromEnv": "true"}})
STATES = {
    "RUNNING": mlmd.Execution.RUNNING,
    "COMPLETE": mlmd.Execution.COMPLETE,
    "CACHED": mlmd.Execution.CACHED,
    "FAILED": mlmd.Execution.FAILED,
}


class MetadataError(AssertionError):
    """What the launcher reports when it cannot record a value (converter.go)."""


@dataclass(frozen=True)
class RunContexts:
    """client.go Pipeline: a run's two contexts, and its root DAG execution's id."""

    pipeline: mlmd.Context
    run: mlmd.Context
    dag_id: int


class KfpMetadata:
    """KFP's view of one MLMD store: what its driver and launcher write and read there."""

    def __init__(self, path: Path) -> None:
        config = mlmd.ConnectionConfig()
        config.sqlite.filename_uri = str(path)
        config.sqlite.connection_mode = mlmd.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.path = path
        self.store = metadata_store.MetadataStore(config)
        self.lock = threading.RLock()  # the store is one SQLite connection; the gRPC service shares it
        self._runs: dict[str, RunContexts] = {}
        self._cache: dict[str, int] = {}  # fingerprint -> execution id (the API server's task table)

    # --- driver -------------------------------------------------------------------------------

    def run_contexts(self, pipeline_name: str, run_id: str, run_root: str, parameters: dict[str, Any]) -> RunContexts:
        """GetPipeline (get or insert both contexts, the run a child of the pipeline), then, once
        per run, the root DAG execution with the run's parameters (driver/root_dag.go RootDAG)."""
        with self.lock:
            if run_id in self._runs:
                return self._runs[run_id]
            pipeline = self._context(PIPELINE_CONTEXT, pipeline_name, {})
            run = self._context(
                RUN_CONTEXT,
                run_id,
                {
                    "namespace": NAMESPACE,
                    "resource_name": RUN_RESOURCE,
                    "pipeline_root": run_root,
                    "store_session_info": S3_SESSION_INFO,
                },
            )
            self.store.put_parent_contexts([mlmd.ParentContext(child_id=run.id, parent_id=pipeline.id)])
            dag = mlmd.Execution(
                type_id=self._execution_type(DAG_EXECUTION),
                name=f"run/{run_id}",
                last_known_state=mlmd.Execution.RUNNING,
            )
            # CreateExecution: display_name and task_name always (empty for the root: the UI finds the
            # root as the execution without a task name, frontend/src/lib/v2/DynamicFlow.ts).
            _set(dag, "display_name", "")
            _set(dag, "task_name", "")
            _set(dag, "inputs", parameters)
            dag_id, _, _ = self.store.put_execution(dag, [], [pipeline, run])
            self._runs[run_id] = RunContexts(pipeline, run, dag_id)
            return self._runs[run_id]

    def create_execution(
        self,
        contexts: RunContexts,
        task_name: str,
        image: str,
        parameters: dict[str, Any],
        input_artifact_ids: dict[str, list[int]],
        fingerprint: str | None,
    ) -> int:
        """CreateExecution for a container task (driver/container.go Container): RUNNING, with
        the task's parameter values as `inputs` and an INPUT event per input artifact."""
        execution = mlmd.Execution(
            type_id=self._execution_type(CONTAINER_EXECUTION), last_known_state=mlmd.Execution.RUNNING
        )
        for key, value in {
            "display_name": task_name,
            "task_name": task_name,
            "parent_dag_id": contexts.dag_id,
            "pod_name": f"{task_name.lower()}-pod",
            "pod_uid": "",
            "namespace": NAMESPACE,
            "image": image,
            "inputs": parameters,
            **({"cache_fingerprint": fingerprint} if fingerprint else {}),
        }.items():
            _set(execution, key, value)
        events = [
            (None, mlmd.Event(artifact_id=artifact_id, type=mlmd.Event.INPUT, path=_path(key)))
            for key, ids in input_artifact_ids.items()
            for artifact_id in ids
        ]
        with self.lock:
            execution_id, _, _ = self.store.put_execution(execution, events, [contexts.pipeline, contexts.run])
        return execution_id

    def cached_execution(self, fingerprint: str) -> int | None:
        """cacheutils/cache.go GetExecutionCache: the execution recorded under the fingerprint."""
        return self._cache.get(fingerprint)

    def execution_outputs(self, execution_id: int) -> tuple[dict[str, int], dict[str, Any]]:
        """driver/cache.go reuseCachedOutputs: a cached execution's output artifacts (by the
        OUTPUT events' keys) and output parameters (its `outputs`)."""
        with self.lock:
            events = self.store.get_events_by_execution_ids([execution_id])
            [execution] = self.store.get_executions_by_id([execution_id])
        artifacts = {event.path.steps[0].key: event.artifact_id for event in events if event.type == mlmd.Event.OUTPUT}
        outputs = execution.custom_properties.get("outputs")
        return artifacts, json_format.MessageToDict(outputs.struct_value) if outputs else {}

    # --- launcher -----------------------------------------------------------------------------

    def pre_publish(self, execution_id: int, pod_name: str) -> None:
        """PrePublishExecution (launcher_v2.go prePublish, before the command of every attempt):
        the launcher's pod, and the execution RUNNING again after a failed attempt."""
        with self.lock:
            [execution] = self.store.get_executions_by_id([execution_id])
            execution.last_known_state = mlmd.Execution.RUNNING
            _set(execution, "pod_name", pod_name)
            self.store.put_execution(execution, [], [])

    def record_artifact(self, output_key: str, schema: dict[str, Any], artifact: dict[str, Any]) -> int:
        """RecordArtifact: typed by the schema's title, the runtime artifact's metadata as custom
        properties (converter.go toMLMDArtifact), display_name and store_session_info added."""
        stored = mlmd.Artifact(uri=artifact["uri"], state=mlmd.Artifact.LIVE)
        with self.lock:
            stored.type_id = self.store.put_artifact_type(mlmd.ArtifactType(name=_schema_title(schema)))
            for key, value in artifact.get("metadata", {}).items():
                _set(stored, key, value)
            for key, value in (("display_name", output_key), ("store_session_info", S3_SESSION_INFO)):
                if key not in stored.custom_properties:
                    _set(stored, key, value)
            [artifact_id] = self.store.put_artifacts([stored])
        return artifact_id

    def runtime_artifact(self, artifact_id: int) -> dict[str, Any]:
        """OutputArtifact.ToRuntimeArtifact after GetOutputArtifactsByExecutionId: the type's
        schema is "" ("TODO(Bobgy): figure out how to get schema"), the name is the id, the
        metadata what converter.go toRuntimeArtifact makes of the custom properties (a number
        as a number, a struct as it is stored)."""
        with self.lock:
            [stored] = self.store.get_artifacts_by_id([artifact_id])
        return {
            "name": str(artifact_id),
            "uri": stored.uri,
            "type": {"instanceSchema": ""},
            "metadata": {key: _plain(value) for key, value in stored.custom_properties.items()},
        }

    def publish(
        self,
        contexts: RunContexts,
        execution_id: int,
        state: str,
        outputs: dict[str, int],
        parameters: dict[str, Any],
        fingerprint: str | None,
    ) -> None:
        """PublishExecution: the state, `outputs`, an OUTPUT event per artifact; then
        (launcher_v2.go Execute) the cache entry of a task that enables the cache and ran."""
        with self.lock:
            [execution] = self.store.get_executions_by_id([execution_id])
            execution.last_known_state = STATES[state]
            _set(execution, "outputs", parameters)
            events = [
                (None, mlmd.Event(artifact_id=artifact_id, type=mlmd.Event.OUTPUT, path=_path(key)))
                for key, artifact_id in outputs.items()
            ]
            self.store.put_execution(execution, events, [contexts.pipeline, contexts.run])
            if fingerprint and state == "COMPLETE":
                self._cache[fingerprint] = execution_id

    # --- types and contexts -------------------------------------------------------------------

    def _execution_type(self, name: str) -> int:
        return self.store.put_execution_type(mlmd.ExecutionType(name=name))

    def _context(self, type_name: str, name: str, properties: dict[str, Any]) -> mlmd.Context:
        """getOrInsertContext: context types carry no declared properties, only custom ones."""
        found = self.store.get_context_by_type_and_name(type_name, name)
        if found is not None:
            return found
        context = mlmd.Context(type_id=self.store.put_context_type(mlmd.ContextType(name=type_name)), name=name)
        for key, value in properties.items():
            _set(context, key, value)
        [context.id] = self.store.put_contexts([context])
        return context


def _path(key: str) -> mlmd.Event.Path:
    """client.go eventPath: one step, the input or output key."""
    return mlmd.Event.Path(steps=[mlmd.Event.Path.Step(key=key)])


def _schema_title(schema: dict[str, Any]) -> str:
    """SchemaToArtifactType: the title of the YAML instance schema (launcher_v2.go
    getArtifactSchema makes `title: <schemaTitle>` of a schema title)."""
    if schema.get("schemaTitle"):
        return schema["schemaTitle"]
    title = (yaml.safe_load(schema.get("instanceSchema") or "") or {}).get("title")
    if not title:
        raise MetadataError(f"artifact type has no title: {schema}")
    return title


def _set(message: mlmd.Artifact | mlmd.Execution | mlmd.Context, key: str, value: Any) -> None:
    """converter.go StructValueToMLMDValue (the launcher's metadata) and the Go client's own
    values (StringValue, intValue, a struct for `inputs` / `outputs`)."""
    target = message.custom_properties[key]
    if isinstance(value, str):
        target.string_value = value
    elif isinstance(value, bool):
        target.int_value = int(value)
    elif isinstance(value, int) and key == "parent_dag_id":  # client.go intValue
        target.int_value = value
    elif isinstance(value, (int, float)):
        target.double_value = float(value)
    elif isinstance(value, dict) and key in ("inputs", "outputs"):  # CreateExecution / PublishExecution
        target.struct_value.CopyFrom(_struct(value))
    elif isinstance(value, list):
        target.struct_value.CopyFrom(_struct({"list": value}))
    elif isinstance(value, dict):
        target.struct_value.CopyFrom(_struct({"struct": value}))
    else:
        raise MetadataError(f"unknown/unsupported value type {type(value).__name__} (metadata value {value!r})")


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def _plain(value: mlmd.Value) -> Any:
    """converter.go toRuntimeArtifact: string, double and int (as a number) and struct as they are."""
    kind = value.WhichOneof("value")
    if kind == "struct_value":
        return json_format.MessageToDict(value.struct_value)
    if kind in ("int_value", "double_value"):
        return float(getattr(value, kind))
    return getattr(value, kind)
