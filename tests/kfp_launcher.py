"""A small fake of KFP's v2 launcher: runs the tasks of a compiled pipeline spec as their pods would.

No cluster runs in the tests, so this does locally what KFP's driver and launcher do for each
task (kubeflow/pipelines backend/src/v2: driver.go builds the executor input, launcher_v2.go
runs the command and records the executor output), with the spec as `compile` wrote it:

* each task once the tasks it depends on (`dependentTasks`) have succeeded, tasks that are
  ready at the same time side by side (`parallelism` at a time), each in a process of its own
  running the container's own command and arguments with `{{$}}` replaced by its executor
  input; in the project root with it on PYTHONPATH (the image's WORKDIR and ENV), the
  container's `env` on top of the given environment;
* the executor input: parameters from the task's `runtimeValue` constants; input artifacts
  from the upstream tasks' outputs (`taskOutputArtifact`) as those tasks' executor output left
  them (URI and metadata), named by an id as KFP names them by their MLMD id; output artifacts
  named by their key, at `<pipeline root>/<pipeline name>/<run id>/<task>/<key>`; the executor
  output file on local disk;
* after a task, its executor output file is read and each output artifact's URI and metadata
  merged into the artifact downstream tasks get (the launcher's mergeRuntimeArtifacts): TFX's
  executor runner writes the custom properties its executor set there;
* a container's `lifecycle.preCacheCheck` (the ExampleGen driver TFX compiles for a
  FileBasedExampleGen) runs before the executor with the same executor input, as Vertex AI
  runs it; its output artifacts are merged into the executor's, and TFX's executor runner reads
  the parameters it updated from the output file it left. Open-source KFP ignores `lifecycle`.

Not done: caching (every run runs every task), retries, and the launcher's copies of input
artifacts into the pod: TFX's executors read and write the URIs themselves.
"""

from __future__ import annotations

import concurrent.futures
import copy
import graphlib
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]  # the project, where the image has /pipeline
EXECUTOR_INPUT_PLACEHOLDER = "{{$}}"
TASK_TIMEOUT_SECONDS = 600


class TaskFailed(AssertionError):
    """A task's command exited with an error; the message ends with its log's last lines."""


@dataclass
class TaskRun:
    """One task of a run: what it was given and what it produced."""

    name: str
    executor_input: dict[str, Any]
    log: Path  # what its commands printed
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> runtime artifact
    driver_output: dict[str, Any] | None = None  # the preCacheCheck's executor output, if it ran
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
    tasks: dict[str, TaskRun] = field(default_factory=dict)  # in the order they finished


class FakeLauncher:
    """Runs compiled tasks the way KFP's launcher does (see the module doc)."""

    def __init__(self, spec: Mapping[str, Any], pipeline_root: str, work_dir: Path, env: Mapping[str, str],
                 parallelism: int = 2):
        self.spec = spec
        self.pipeline_root = pipeline_root.rstrip("/")
        self.work_dir = work_dir
        self.env = dict(env)
        self.parallelism = parallelism
        self._artifact_ids = itertools.count(1)  # MLMD's ids; shared by the runs of one launcher

    def run(self, run_id: str, tasks: Iterable[str] | None = None) -> PipelineRun:
        """Runs `tasks` (default: all), each after its upstream tasks, which must be among them;
        stops at the first task that fails (TaskFailed)."""
        dag = self.spec["root"]["dag"]["tasks"]
        wanted = set(dag if tasks is None else tasks)
        order = graphlib.TopologicalSorter({name: dag[name].get("dependentTasks", []) for name in sorted(wanted)})
        order.prepare()
        run = PipelineRun(run_id, f"{self.pipeline_root}/{self.spec['pipelineInfo']['name']}/{run_id}")
        with concurrent.futures.ThreadPoolExecutor(self.parallelism) as pool:
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

    def _run_task(self, run: PipelineRun, name: str) -> TaskRun:
        component = self.spec["components"][self.spec["root"]["dag"]["tasks"][name]["componentRef"]["name"]]
        container = self.spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
        task_dir = self.work_dir / run.run_id / name
        task_dir.mkdir(parents=True)
        task = TaskRun(name, self._executor_input(run, name, component, task_dir / "output_metadata.json"),
                       task_dir / "task.log")
        env = {**self.env, "PYTHONPATH": str(REPO_ROOT),  # as the image's ENV
               **{variable["name"]: variable["value"] for variable in container.get("env", [])}}
        task.started = time.monotonic()

        driver = container.get("lifecycle", {}).get("preCacheCheck")
        if driver:
            self._execute(driver["command"], driver["args"], task, env)
            task.driver_output = json.loads(Path(task.executor_input["outputs"]["outputFile"]).read_text())
            _merge_artifacts(task.executor_input["outputs"]["artifacts"], task.driver_output)
        self._execute(container["command"], container["args"], task, env)

        executor_output = json.loads(Path(task.executor_input["outputs"]["outputFile"]).read_text())
        outputs = copy.deepcopy(task.executor_input["outputs"]["artifacts"])
        _merge_artifacts(outputs, executor_output)
        # Recorded in MLMD: downstream tasks get each output named by its new id.
        task.outputs = {key: {**artifact_list["artifacts"][0], "name": str(next(self._artifact_ids))}
                        for key, artifact_list in outputs.items()}
        task.finished = time.monotonic()
        return task

    def _executor_input(self, run: PipelineRun, name: str, component: dict, output_file: Path) -> dict[str, Any]:
        inputs = self.spec["root"]["dag"]["tasks"][name].get("inputs", {})
        input_types = component.get("inputDefinitions", {}).get("artifacts", {})
        artifacts = {}
        for key, source in inputs.get("artifacts", {}).items():
            producer = source["taskOutputArtifact"]
            upstream = run.tasks[producer["producerTask"]].outputs[producer["outputArtifactKey"]]
            artifacts[key] = {"artifacts": [{**upstream, "type": input_types[key]["artifactType"]}]}
        outputs = {
            key: {"artifacts": [{
                "name": key,
                "type": definition["artifactType"],
                "uri": f"{run.root}/{name}/{key}",
            }]}
            for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items()
        }
        return {
            "inputs": {
                "parameterValues": {
                    parameter: value["runtimeValue"]["constant"]
                    for parameter, value in inputs.get("parameters", {}).items()
                },
                "artifacts": artifacts,
            },
            "outputs": {"artifacts": outputs, "outputFile": str(output_file)},
        }

    def _execute(self, command: list[str], args: list[str], task: TaskRun, env: dict[str, str]) -> None:
        """Runs one command of the task's container; raises TaskFailed with its log's tail."""
        if command[0] == "python":  # the image's python is the venv's here
            command = [sys.executable, *command[1:]]
        argv = [*command, *(_substitute(arg, task.executor_input) for arg in args)]
        with task.log.open("a") as log:
            log.write(f"$ {' '.join(command)} ...\n")
            log.flush()
            result = subprocess.run(argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    timeout=TASK_TIMEOUT_SECONDS)
        if result.returncode != 0:
            tail = "\n".join(task.log.read_text().splitlines()[-40:])
            raise TaskFailed(f"{task.name}: {command[-1]} exited with {result.returncode} (log {task.log}):\n{tail}")


def _substitute(arg: str, executor_input: dict[str, Any]) -> str:
    """The argument with KFP's executor-input placeholder filled; any other placeholder is an error."""
    if arg == EXECUTOR_INPUT_PLACEHOLDER:
        return json.dumps(executor_input)
    if "{{$" in arg:
        raise ValueError(f"placeholder this fake launcher does not know: {arg}")
    return arg


def _merge_artifacts(artifacts: dict[str, dict], executor_output: dict[str, Any]) -> None:
    """Merges the executor output's artifacts into `artifacts` in place: the URI if given, the
    metadata key by key (launcher_v2.go's mergeRuntimeArtifacts)."""
    for key, artifact_list in executor_output.get("artifacts", {}).items():
        if key not in artifacts:
            continue
        [written] = artifact_list["artifacts"]
        [target] = artifacts[key]["artifacts"]
        if written.get("uri"):
            target["uri"] = written["uri"]
        target["metadata"] = {**target.get("metadata", {}), **written.get("metadata", {})}
