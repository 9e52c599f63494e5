"""Runs a compiled pipeline spec task by task, as a Kubeflow backend would, each task with its own command.

No cluster runs in the tests. This harness does, for every task of `compile`'s output, what the
backend's driver and launcher do around the task's container, in one of two modes:

OPEN_SOURCE_KFP: Kubeflow Pipelines 2.17.0, the newest 2.x release (kubeflow/pipelines, tag
  2.17.0; paths below are under backend/src/). Each behaviour names the Go file and function it
  follows: task names validated as Argo does when the API server creates the run, and the
  run's parameters checked and given their defaults (runtime_parameters); inputs resolved by the
  driver, the root's inputs from those parameters, the others from an ML Metadata store, so
  upstream artifacts arrive with an empty type, named by their MLMD id, and with metadata that
  went through MLMD's value types; the cache key and cache reuse; outputs provisioned under
  `<root>/<pipeline>/<run id>/<task>/<uuid>/`
  with the launcher's own `executor-logs` output; every input artifact downloaded into the pod
  before the command runs; no `lifecycle` hooks (no code of the backend reads them); a failed
  task published FAILED, then, if its retryPolicy allows, run again as Argo retries its pod
  (Harness._attempt: the same execution, the same output URIs, a new pod). Every run
  is recorded in a real ML Metadata store as the driver and launcher record it
  (tests/support/kfp_metadata.py), served during the run as KFP's metadata-grpc-service
  (tests/support/mlmd_grpc.py) at the address KFP names to every task.
VERTEX: Vertex AI Pipelines where it differs: inputs carry their declared types and the
  producer's metadata verbatim; nothing is downloaded; every task runs (no cache).
What the driver and Argo would make of a task's pod, without a pod: its resources
(pod_resources) and its retry strategy (retry_strategy, whose limit the harness follows).

Where the harness cannot be a cluster: a pod's filesystem is a folder of its own per task (a
path the launcher would put at `/s3/...` is `<pod folder>/s3/...`); each task runs as a process
in the project's root with it on PYTHONPATH (the image's WORKDIR and ENV), its container's `env`
on top of the given environment; object storage is the local S3 server (tests/support/s3_server.py).
Tasks that are ready at the same time run side by side, as Argo would start their pods.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import decimal
import enum
import graphlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conftest import REPO_ROOT  # the project, where the image has /pipeline
from support import mlmd_grpc
from support.kfp_metadata import KfpMetadata
from support.s3_server import S3Server

TASK_TIMEOUT_SECONDS = 600
EXECUTOR_INPUT_PLACEHOLDER = "{{$}}"
# Argo's rule for a DAG task's name (argo-workflows workflow/common/util.go, IsValidWorkflowFieldName).
ARGO_NAME = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")
ARGO_NAME_MAX_LENGTH = 128
# v2/compiler/argocompiler/dag.go, task: each container task becomes two Argo tasks, NAME-driver and NAME.
DRIVER_SUFFIX = "-driver"
# v2/driver/driver.go, provisionOutputs: the launcher's log output, added when the API server's
# PUBLISH_LOGS is "true", as KFP's manifests set it (manifests/kustomize/base/pipeline/
# ml-pipeline-apiserver-deployment.yaml).
EXECUTOR_LOGS = "executor-logs"
# v2/component/constants.go EnvRetryIndex: the attempt of a task that may be retried, from 0 (Argo's
# {{retries}}), in its launcher's environment and so in its command's.
RETRY_INDEX = "KFP_RETRY_INDEX"
# v2/driver/resolve.go resolveInputParameter: a constant the driver replaces with the run's id.
RUN_ID_PLACEHOLDER = "{{$.pipeline_job_uuid}}"
# v2/compiler/argocompiler/common.go metadataEnvFrom: every task's container gets the variables of
# the metadata-grpc-configmap (manifests/kustomize/base/metadata/base/metadata-grpc-configmap.yaml).
METADATA_SERVICE_VARIABLES = ("METADATA_GRPC_SERVICE_HOST", "METADATA_GRPC_SERVICE_PORT")


class Mode(enum.Enum):
    OPEN_SOURCE_KFP = "open-source KFP 2.17.0"
    VERTEX = "Vertex AI"


class TaskFailed(AssertionError):
    """A task failed as the backend would report it; the message ends with its log's last lines."""


class RunRejected(AssertionError):
    """The backend refuses to create the run (what `CreateRun` would answer)."""


@dataclass
class TaskRun:
    """One task of a run: what it was given and what it produced."""

    name: str
    status: str  # "ran", "cached" or (open-source KFP, a task that failed) "failed"
    executor_input: dict[str, Any]
    log: Path  # what its command printed (the launcher's log, for a task that ran)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> runtime artifact, as a consumer gets it
    output_parameters: dict[str, Any] = field(default_factory=dict)
    artifact_ids: dict[str, int] = field(default_factory=dict)  # key -> MLMD id (open-source KFP)
    pod: Path | None = None  # the pod's filesystem, for a task that ran
    started: float = 0.0  # time.monotonic()
    finished: float = 0.0

    def input(self, key: str) -> dict[str, Any]:
        """The single runtime artifact the task got as input `key`."""
        [artifact] = self.executor_input["inputs"]["artifacts"][key]["artifacts"]
        return artifact

    def parameter(self, name: str) -> Any:
        return self.executor_input["inputs"]["parameterValues"][name]


@dataclass
class PipelineRun:
    run_id: str
    root: str  # <pipeline root>/<pipeline name>/<run id>
    parameters: dict[str, Any] = field(default_factory=dict)  # the run's runtime config
    tasks: dict[str, TaskRun] = field(default_factory=dict)  # in the order they finished

    def statuses(self) -> dict[str, str]:
        return {name: task.status for name, task in self.tasks.items()}


class Harness:
    """Runs the tasks of a compiled spec as the backend of `mode` would (see the module doc)."""

    def __init__(
        self,
        spec: Mapping[str, Any],
        mode: Mode,
        pipeline_root: str | None,
        storage: S3Server,
        work_dir: Path,
        env: Mapping[str, str],
        parallelism: int = 2,
    ):
        self.spec = spec
        self.mode = mode
        # A run created in KFP's UI takes the spec's defaultPipelineRoot (frontend/src/pages/NewRunV2.tsx).
        self.pipeline_root = (pipeline_root or spec["defaultPipelineRoot"]).rstrip("/")
        self.storage = storage
        self.work_dir = work_dir
        self.env = dict(env)
        self.parallelism = parallelism
        self.metadata = KfpMetadata(work_dir / "metadata.sqlite")
        self.pipeline_name = spec["pipelineInfo"]["name"]

    def run(
        self, run_id: str | None = None, tasks: Iterable[str] | None = None, parameters: Mapping[str, Any] | None = None
    ) -> PipelineRun:
        """Runs `tasks` (default: all), each after the tasks it depends on, which must be among
        them; stops at the first task that fails (TaskFailed). `parameters`: the values of the
        spec's root inputs the run is created with (its runtime config), the others' defaults."""
        dag = self.spec["root"]["dag"]["tasks"]
        if self.mode is Mode.OPEN_SOURCE_KFP:
            _check_argo_names(dag)
        runtime_config = runtime_parameters(self.spec, parameters or {})
        run_id = run_id or str(uuid.uuid4())
        wanted = set(dag if tasks is None else tasks)
        order = graphlib.TopologicalSorter({name: dag[name].get("dependentTasks", []) for name in sorted(wanted)})
        order.prepare()
        run = PipelineRun(run_id, f"{self.pipeline_root}/{self.pipeline_name}/{run_id}", parameters=runtime_config)
        with self._metadata_service(), concurrent.futures.ThreadPoolExecutor(self.parallelism) as pool:
            running: dict[concurrent.futures.Future, str] = {}
            while order.is_active():
                for name in order.get_ready():
                    running[pool.submit(self._run_task, run, name)] = name
                done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    task = future.result()  # a failed task raises here; the pool finishes the running ones
                    run.tasks[task.name] = task
                    order.done(running.pop(future))
        return run

    @contextlib.contextmanager
    def _metadata_service(self) -> Iterator[None]:
        """KFP's metadata-grpc-service, serving this harness's store while a run runs, named to
        every task as the metadata-grpc-configmap names it (see METADATA_SERVICE_VARIABLES)."""
        if self.mode is not Mode.OPEN_SOURCE_KFP:
            yield
            return
        with mlmd_grpc.serve(self.metadata.store, self.metadata.lock) as (host, port):
            self.env.update(zip(METADATA_SERVICE_VARIABLES, (host, str(port))))
            try:
                yield
            finally:
                for variable in METADATA_SERVICE_VARIABLES:
                    self.env.pop(variable)

    # --- one task: the driver's part, then the launcher's -------------------------------------------

    def _run_task(self, run: PipelineRun, name: str) -> TaskRun:
        task_spec = self.spec["root"]["dag"]["tasks"][name]
        component = self.spec["components"][task_spec["componentRef"]["name"]]
        container = self.spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
        task_dir = self.work_dir / run.run_id / name
        task_dir.mkdir(parents=True)
        pod = task_dir / "pod"
        started = time.monotonic()

        inputs = self._resolve_inputs(run, task_spec, component)
        outputs = self._provision_outputs(run, name, component, pod)
        executor_input = {"inputs": inputs, "outputs": outputs}
        log = task_dir / "task.log"

        fingerprint = execution_id = None
        if self.mode is Mode.OPEN_SOURCE_KFP:
            contexts = self.metadata.run_contexts(self.pipeline_name, run.run_id, run.root, run.parameters)
            cached = None
            if task_spec.get("cachingOptions", {}).get("enableCache"):
                # v2/driver/container.go Container: with the cache on for the task and an entry for its
                # fingerprint, the cached execution's outputs are reused and no pod runs the command.
                fingerprint = _fingerprint(executor_input, component, container)
                cached = self.metadata.cached_execution(fingerprint)
            input_ids = {
                key: [int(artifact["name"]) for artifact in artifact_list["artifacts"]]
                for key, artifact_list in inputs["artifacts"].items()
            }
            execution_id = self.metadata.create_execution(
                contexts, name, container["image"], inputs["parameterValues"], input_ids, fingerprint
            )
            if cached:
                # v2/driver/cache.go reuseCachedOutputs: the same MLMD artifacts and output parameters.
                artifact_ids, parameters = self.metadata.execution_outputs(cached)
                self.metadata.publish(contexts, execution_id, "CACHED", artifact_ids, parameters, None)
                log.write_text(f"cached: fingerprint {fingerprint}\n")
                return TaskRun(
                    name,
                    "cached",
                    executor_input,
                    log,
                    outputs={
                        key: self.metadata.runtime_artifact(artifact_id) for key, artifact_id in artifact_ids.items()
                    },
                    output_parameters=parameters,
                    started=started,
                    finished=time.monotonic(),
                )

        env = {
            **self.env,
            # The image's WORKDIR on the path, and what the caller put there (tests/faults).
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), self.env.get("PYTHONPATH")])),
            **{variable["name"]: variable["value"] for variable in container.get("env", [])},
        }
        task = TaskRun(name, "ran", executor_input, log, pod=pod, started=started)
        retries = self._retries(task_spec)
        for attempt in range(retries + 1):
            if retries:  # common.go retryIndexEnv: on the retry template only
                env[RETRY_INDEX] = str(attempt)
            try:
                executor_output = self._attempt(task, container, executor_input, attempt, env, execution_id)
                break
            except TaskFailed:
                if self.mode is Mode.OPEN_SOURCE_KFP:
                    # launcher_v2.go Execute: the execution is published whether the task succeeded or
                    # not (status FAILED unless it did), with the launcher's uploaded log.
                    self._record_outputs(task, {}, keys=[EXECUTOR_LOGS])
                    self.metadata.publish(contexts, execution_id, "FAILED", task.artifact_ids, {}, None)
                if attempt == retries:
                    task.status = "failed"
                    raise
        self._record_outputs(task, executor_output)
        if self.mode is Mode.OPEN_SOURCE_KFP:
            self.metadata.publish(
                contexts, execution_id, "COMPLETE", task.artifact_ids, task.output_parameters, fingerprint
            )
        task.finished = time.monotonic()
        return task

    def _retries(self, task_spec: dict) -> int:
        """How often Argo runs the task's pod again after it failed (retry_strategy's limit; KFP only)."""
        strategy = retry_strategy(task_spec) if self.mode is Mode.OPEN_SOURCE_KFP else None
        return int(strategy["limit"]) if strategy else 0

    def _attempt(
        self,
        task: TaskRun,
        container: dict,
        driver_input: dict[str, Any],
        attempt: int,
        env: dict[str, str],
        execution_id: int | None,
    ) -> dict:
        """One pod of the task (its `attempt`, from 0): the launcher's part, the task's command inside.

        Argo retries a failed pod of a task that has a retryPolicy (argocompiler/container.go
        addContainerExecutorTemplate: the retryStrategy is on the executor template, whose pod runs
        the launcher; the driver ran once, before the first). A retry is a new pod, its filesystem
        empty, with the executor input of the same driver: the same MLMD execution and the same
        output URIs, into which the failed attempt may have written. Its launcher marks the
        execution RUNNING again (launcher_v2.go prePublish) and writes its log to
        `executor-logs-<attempt>` (qualifyExecutorLogsForRetry, "0" where no KFP_RETRY_INDEX is
        set). Argo's wait between attempts (retry_strategy's backoff) is not waited here.
        """
        assert task.pod is not None
        task.log = task.log.with_name(f"attempt-{attempt}.log")
        task.executor_input = driver_input
        if self.mode is Mode.OPEN_SOURCE_KFP:
            assert execution_id is not None
            shutil.rmtree(task.pod, ignore_errors=True)  # a new pod
            task.executor_input = _with_logs_of_attempt(driver_input, attempt)
            self.metadata.pre_publish(execution_id, f"{task.name.lower()}-pod-{attempt}")
            self._download_inputs(task.executor_input["inputs"], task.pod)
        return self._execute(task.name, container, task.executor_input, task.pod, task.log, env)

    def _resolve_inputs(self, run: PipelineRun, task_spec: dict, component: dict) -> dict[str, Any]:
        """v2/driver/resolve.go resolveInputs: parameters and artifacts from the task's inputs spec."""
        declared = component.get("inputDefinitions", {})
        parameters = {}
        for name, source in task_spec.get("inputs", {}).get("parameters", {}).items():
            if "runtimeValue" in source:  # resolveInputParameter: a constant, or a placeholder of the run
                value = source["runtimeValue"]["constant"]
                if value == RUN_ID_PLACEHOLDER:
                    value = run.run_id
            elif "taskOutputParameter" in source:  # resolveUpstreamParameters
                producer = source["taskOutputParameter"]["producerTask"]
                if producer not in run.tasks:
                    raise TaskFailed(f"failed to resolve inputs: producer task, {producer}, not in tasks")
                value = run.tasks[producer].output_parameters[source["taskOutputParameter"]["outputParameterKey"]]
            elif "componentInputParameter" in source:  # resolveInputParameter: the root DAG's input
                root_input = source["componentInputParameter"]
                if root_input not in run.parameters:
                    raise TaskFailed(f"failed to resolve inputs: parent DAG does not have input parameter {root_input}")
                value = run.parameters[root_input]
                if value is None:  # ErrResolvedParameterNull: left out for an optional input, else an error
                    if declared.get("parameters", {}).get(name, {}).get("isOptional"):
                        continue
                    raise TaskFailed(f"failed to resolve inputs: resolved parameter is null: {root_input}")
            else:
                raise TaskFailed(f"{name}: this harness does not model the parameter source {sorted(source)}")
            parameters[name] = _typed(name, value, declared.get("parameters", {}).get(name, {}))
        artifacts = {}
        for name, source in task_spec.get("inputs", {}).get("artifacts", {}).items():
            producer = source["taskOutputArtifact"]  # resolveUpstreamArtifacts
            artifact = copy.deepcopy(run.tasks[producer["producerTask"]].outputs[producer["outputArtifactKey"]])
            if self.mode is Mode.VERTEX:  # the declared type, where KFP's MLMD client gives none
                artifact["type"] = declared["artifacts"][name]["artifactType"]
            artifacts[name] = {"artifacts": [artifact]}
        return {"parameterValues": parameters, "artifacts": artifacts}

    def _provision_outputs(self, run: PipelineRun, name: str, component: dict, pod: Path) -> dict[str, Any]:
        """v2/driver/driver.go provisionOutputs (KFP) or the Vertex layout <run root>/<task>/<key>."""
        definitions = copy.deepcopy(component.get("outputDefinitions", {}))
        artifacts = definitions.get("artifacts", {})
        if self.mode is Mode.OPEN_SOURCE_KFP:
            artifacts[EXECUTOR_LOGS] = {"artifactType": {"schemaTitle": "system.Artifact"}}
            task_root = f"{run.root}/{name}/{uuid.uuid4()}"
            output_file = self._local_path(task_root, pod) / "output_metadata.json"
        else:
            task_root = f"{run.root}/{name}"
            output_file = pod / "gcs" / "output_metadata.json"
        return {
            "artifacts": {
                key: {
                    "artifacts": [
                        {
                            "name": key,
                            "uri": f"{task_root}/{key}",
                            "type": spec["artifactType"],
                            **({"metadata": spec["metadata"]} if "metadata" in spec else {}),
                        }
                    ]
                }
                for key, spec in artifacts.items()
            },
            "parameters": {
                key: {"outputFile": str(pod / "tmp" / "kfp" / "outputs" / key)}
                for key in definitions.get("parameters", {})
            },
            "outputFile": str(output_file),
        }

    def _local_path(self, uri: str, pod: Path) -> Path:
        """v2/component/launcher_v2.go LocalPathForURI (s3:// -> /s3/...), inside the pod's folder."""
        scheme, separator, path = uri.partition("://")
        if not separator or scheme != "s3":
            raise TaskFailed(f"failed to generate local path for URI {uri}: unsupported storage scheme")
        return pod / "s3" / path

    def _download_inputs(self, inputs: dict[str, Any], pod: Path) -> None:
        """v2/component/launcher_v2.go downloadArtifacts (KFP only): every input artifact, every
        object under its URI, into the pod (objectstore/object_store.go DownloadBlob)."""
        if self.mode is not Mode.OPEN_SOURCE_KFP:
            return
        client = self.storage.client()
        for name, artifact_list in inputs["artifacts"].items():
            for artifact in artifact_list["artifacts"]:
                bucket, _, blob_dir = artifact["uri"].removeprefix("s3://").partition("/")
                local_dir = self._local_path(artifact["uri"], pod)
                for key in self.storage.keys(bucket, prefix=blob_dir):
                    if not (key == blob_dir.rstrip("/") or key.startswith(blob_dir.rstrip("/") + "/")):
                        continue  # isBlobKeyUnderPrefix
                    # sanitizeDownloadPath: filepath.Rel cleans the key, so `dir/` lands on `dir`.
                    local_path = local_dir / os.path.relpath(key, blob_dir)
                    try:  # downloadFile: MkdirAll(parent), then create the file
                        local_path.parent.mkdir(parents=True, exist_ok=True)
                        client.download_file(bucket, key, str(local_path))
                    except OSError as error:
                        raise TaskFailed(
                            f"failed to download input artifact {name!r} from remote storage URI "
                            f"{artifact['uri']!r}: downloadFile(): unable to complete copying {key!r} to local "
                            f"storage {str(local_path)!r}: {error}"
                        ) from error

    def _execute(
        self, name: str, container: dict, executor_input: dict, pod: Path, log: Path, env: dict[str, str]
    ) -> dict:
        """v2/component/launcher_v2.go execute: placeholders filled (compileCmdAndArgs), output
        folders made (prepareOutputFolders), the command run with its output to the log
        (getLogWriter), the executor output read back (getExecutorOutputFile: none is empty)."""
        outputs = executor_input["outputs"]
        folders = [Path(parameter["outputFile"]).parent for parameter in outputs["parameters"].values()]
        if self.mode is Mode.OPEN_SOURCE_KFP:
            folders += [
                self._local_path(artifact["uri"], pod).parent
                for artifact_list in outputs["artifacts"].values()
                for artifact in artifact_list["artifacts"]
            ]
        output_file = Path(outputs["outputFile"])
        for folder in [*folders, output_file.parent]:
            folder.mkdir(parents=True, exist_ok=True)
        command = container["command"]
        if command[0] == "python":  # the image's python is the venv's here
            command = [sys.executable, *command[1:]]
        argv = [*command, *(_substitute(arg, executor_input) for arg in container["args"])]
        with log.open("a") as stream:
            stream.write(f"$ {' '.join(command)} ...\n")
            stream.flush()
            result = subprocess.run(
                argv, cwd=REPO_ROOT, env=env, stdout=stream, stderr=subprocess.STDOUT, timeout=TASK_TIMEOUT_SECONDS
            )
        if result.returncode != 0:
            tail = "\n".join(log.read_text().splitlines()[-40:])
            raise TaskFailed(f"{name}: {command[-1]} exited with {result.returncode} (log {log}):\n{tail}")
        return json.loads(output_file.read_text()) if output_file.exists() else {}

    def _record_outputs(self, task: TaskRun, executor_output: dict, keys: Iterable[str] | None = None) -> None:
        """What the backend keeps of a task that ran (of its outputs `keys`, default all) and
        what its consumers get.

        KFP: v2/component/launcher_v2.go uploadOutputArtifacts (mergeRuntimeArtifacts, then the
        local output folder uploaded if the command wrote one, then RecordArtifact) and
        collectOutputParameters. Vertex: the merged artifacts as they are.
        """
        wanted = set(task.executor_input["outputs"]["artifacts"] if keys is None else keys)
        parameters = dict(executor_output.get("parameterValues", {}))
        for key, parameter in task.executor_input["outputs"]["parameters"].items():
            if key not in parameters and keys is None:
                parameters[key] = Path(parameter["outputFile"]).read_text()
        task.output_parameters = parameters
        for key, artifact_list in task.executor_input["outputs"]["artifacts"].items():
            if key not in wanted:
                continue
            [artifact] = copy.deepcopy(artifact_list["artifacts"])
            written = executor_output.get("artifacts", {}).get(key, {}).get("artifacts", [])
            if written and key != EXECUTOR_LOGS:
                _merge(written[0], artifact)
            if self.mode is Mode.VERTEX:
                task.outputs[key] = {**artifact, "name": f"{task.name}-{key}"}
                continue
            local_dir = self._local_path(artifact["uri"], task.pod)
            if key == EXECUTOR_LOGS:
                local_dir.write_text(task.log.read_text())  # getLogWriter wrote the command's output here
            if local_dir.exists():
                self._upload(local_dir, artifact["uri"])
            task.artifact_ids[key] = self.metadata.record_artifact(key, artifact["type"], artifact)
            task.outputs[key] = self.metadata.runtime_artifact(task.artifact_ids[key])

    def _upload(self, local_path: Path, uri: str) -> None:
        """objectstore/object_store.go UploadBlob: a file, or every file under a folder."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        files = [local_path] if local_path.is_file() else sorted(p for p in local_path.rglob("*") if p.is_file())
        for path in files:
            relative = "" if path == local_path else "/" + path.relative_to(local_path).as_posix()
            self.storage.client().upload_file(str(path), bucket, key + relative)


def runtime_parameters(spec: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The root inputs of a run created with `given` as its runtime config's parameters.

    What CreateRun refuses (apiserver/template/v2_template.go validatePipelineJobInputs: a
    parameter the spec does not have, a value of another type, a required one left out), then
    the defaults of those left out (compiler/argocompiler/argo.go Compile: `defaultValue`, or
    null for an optional one without), which the root DAG driver records as its inputs
    (driver/root_dag.go RootDAG) and tasks read (see _resolve_inputs).
    """
    declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    kinds = {
        "NUMBER_DOUBLE": (int, float),
        "NUMBER_INTEGER": (int, float),
        "STRING": (str,),
        "BOOLEAN": (bool,),
        "LIST": (list,),
        "STRUCT": (dict,),
    }
    for name, value in given.items():
        if name not in declared:
            raise RunRejected(f"parameter(s) provided are not required by pipeline: {name}")
        kind = declared[name].get("parameterType")
        if kind not in kinds:
            raise RunRejected(f"input parameter {name} has unspecified type")
        if not isinstance(value, kinds[kind]) or (kind != "BOOLEAN" and isinstance(value, bool)):
            raise RunRejected(f"input parameter {name} requires type {kind}, but the parameter value is {value!r}")
    parameters = dict(given)
    for name, parameter in declared.items():
        if name in parameters:
            continue
        if "defaultValue" in parameter:
            parameters[name] = parameter["defaultValue"]
        elif parameter.get("isOptional"):
            parameters[name] = None
        else:
            raise RunRejected(
                f"parameter {name} is not optional, yet has neither default value nor user provided value"
            )
    return parameters


def pod_resources(container: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The resources of the pod that runs `container` (a spec's executor container), as KFP's
    driver writes them into the pod spec patch (driver/driver.go initPodSpecPatch): the spec's
    numbers formatted by getPodResource, memory as "%vG" and CPU as "%v"; an accelerator a
    limit named by its type, when it has a type and a count above 0."""
    resources = container.get("resources", {})
    patch: dict[str, dict[str, str]] = {"limits": {}, "requests": {}}
    for kind, field_name, unit in (
        ("limits", "memoryLimit", "G"),
        ("requests", "memoryRequest", "G"),
        ("limits", "cpuLimit", ""),
        ("requests", "cpuRequest", ""),
    ):
        if resources.get(field_name):  # 0 or unset: no such resource
            resource = "memory" if field_name.startswith("memory") else "cpu"
            patch[kind][resource] = _go_float(resources[field_name]) + unit
    accelerator = resources.get("accelerator", {})
    if accelerator.get("type") and int(accelerator.get("count", 0)) > 0:
        patch["limits"][accelerator["type"]] = str(int(accelerator["count"]))
    return patch


def retry_strategy(task_spec: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Argo retryStrategy of the pod that runs the task (compiler/argocompiler/container.go:
    getTaskRetryParametersWithValues, then getTaskRetryStrategyFromInput on the retry template,
    whose inputs default to "0"); None without a retryPolicy."""
    policy = task_spec.get("retryPolicy")
    if policy is None:
        return None

    def seconds(duration: str | None) -> str:  # Duration.Seconds, an int64
        return str(int(float(duration.removesuffix("s")))) if duration else "0"

    return {
        "limit": str(policy.get("maxRetryCount", 0)),
        "backoff": {
            "duration": seconds(policy.get("backoffDuration")),
            "factor": _go_float(policy.get("backoffFactor", 0)),
            "maxDuration": seconds(policy.get("backoffMaxDuration")),
        },
    }


def _go_float(value: float) -> str:
    """Go's fmt "%v" of a float64 (strconv.FormatFloat 'g' with the shortest digits): 4.0 -> "4",
    0.5 -> "0.5", 1e6 -> "1e+06" (the exponent form from 10^6 up, or below 10^-4)."""
    number = decimal.Decimal(repr(float(value))).normalize()  # Python's repr: the shortest digits too
    if number == 0 or -4 <= number.adjusted() < 6:
        return format(number, "f")
    mantissa, _, exponent = format(number, "e").partition("e")
    return f"{mantissa}e{int(exponent):+03d}"


def _check_argo_names(dag: Mapping[str, Any]) -> None:
    """What CreateRun answers when a task would be an invalid Argo task (apiserver/resource/
    resource_manager.go CreateRun: executionSpec.Validate -> Argo's ValidateWorkflow)."""
    for name in dag:
        for argo_task in (name, name + DRIVER_SUFFIX):
            if not ARGO_NAME.fullmatch(argo_task) or len(argo_task) > ARGO_NAME_MAX_LENGTH:
                raise RunRejected(
                    f"Failed to validate workflow: templates.root.tasks.{argo_task} name must consist of alpha-numeric "
                    f"characters or '-', and must start with an alpha-numeric character "
                    f"(at most {ARGO_NAME_MAX_LENGTH})"
                )


def _typed(name: str, value: Any, declared: Mapping[str, Any]) -> Any:
    """resolve.go handleParamTypeValidationAndConversion: a STRING parameter takes any value as
    text (converter.go PbValueToText); other types must match."""
    kind = declared.get("parameterType", "STRING")
    if kind == "STRING":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))  # strconv.FormatFloat(v, 'f', -1, 64)
        return json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    expected = {
        "NUMBER_INTEGER": (int, float),
        "NUMBER_DOUBLE": (int, float),
        "BOOLEAN": (bool,),
        "LIST": (list,),
        "STRUCT": (dict,),
    }[kind]
    if not isinstance(value, expected) or (kind.startswith("NUMBER") and isinstance(value, bool)):
        raise TaskFailed(f"input parameter {name!r} type mismatch: expect {kind}, got {type(value).__name__}")
    return value


def _fingerprint(executor_input: dict, component: dict, container: dict) -> str:
    """v2/cacheutils/cache.go GenerateCacheKey and GenerateFingerPrint: input artifacts by name
    (the MLMD id), input parameters by value, outputs' spec without URIs, output parameter types,
    the image and the command and arguments as compiled (v2/driver/cache.go getFingerPrint),
    as JSON with sorted keys, hashed with SHA-256."""
    inputs, outputs = executor_input["inputs"], executor_input["outputs"]
    output_types = {
        name: spec["parameterType"]
        for name, spec in component.get("outputDefinitions", {}).get("parameters", {}).items()
    }
    cache_key = {
        "inputArtifactNames": {
            name: {"artifactNames": [a["name"] for a in artifact_list["artifacts"]]}
            for name, artifact_list in inputs["artifacts"].items()
        },
        "inputParameterValues": inputs["parameterValues"],
        "outputArtifactsSpec": {
            name: {key: value for key, value in artifact_list["artifacts"][0].items() if key != "uri"}
            for name, artifact_list in outputs["artifacts"].items()
        },
        "outputParametersSpec": {name: output_types[name] for name in outputs["parameters"]},
        "containerSpec": {"image": container["image"], "cmdArgs": [*container["command"], *container["args"]]},
    }
    return hashlib.sha256(json.dumps(cache_key, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _with_logs_of_attempt(executor_input: dict[str, Any], attempt: int) -> dict[str, Any]:
    """The executor input with the `executor-logs` URI of the attempt (launcher_v2.go
    qualifyExecutorLogsURI: the driver's URI, "-<attempt>" appended)."""
    qualified = copy.deepcopy(executor_input)
    [logs] = qualified["outputs"]["artifacts"][EXECUTOR_LOGS]["artifacts"]
    logs["uri"] += f"-{attempt}"
    return qualified


def _merge(source: dict, target: dict) -> None:
    """launcher_v2.go mergeRuntimeArtifacts: the URI if given, the metadata key by key."""
    if source.get("uri"):
        target["uri"] = source["uri"]
    if source.get("metadata"):
        target["metadata"] = {**target.get("metadata", {}), **source["metadata"]}


def _substitute(arg: str, executor_input: dict[str, Any]) -> str:
    """The argument with the executor-input placeholder filled (launcher_v2.go compileCmdAndArgs);
    the spec uses no other placeholder, and this harness models none."""
    if EXECUTOR_INPUT_PLACEHOLDER in arg:
        return arg.replace(EXECUTOR_INPUT_PLACEHOLDER, json.dumps(executor_input))
    if "{{$" in arg:
        raise TaskFailed(f"placeholder this harness does not model: {arg}")
    return arg
