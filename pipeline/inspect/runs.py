"""One record per run, read from the store in one pass: what every view of a run starts from.

The run summary and the diff (run_summary.py), the `lineage runs` and `graph` tables
(lineage_views.py) and the run page (run_page/) are functions of RunRecords; none reads a run
from the store again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml_metadata.proto import metadata_store_pb2

from components import model_integrity
from components.idx_example_gen.settings import IDX_ROLES
from pipeline.inspect import run_made
from pipeline.inspect import store as mlmd
from pipeline.inspect.run_made import RunMade
from pipeline.inspect.states import FINISHED, ComponentStatus, RunStatus
from pipeline.inspect.store import ArtifactInfo, ExecutionInfo, Store


@dataclass
class InputFile:
    """An IDX file as IdxExampleGen recorded it on its Examples."""

    role: str
    name: str
    sha256: str
    examples_id: int


@dataclass
class RunRecord:
    """A run: its executions in the order they started, with their parameters and artifacts."""

    id: str
    started_ms: int
    seconds: float
    status: RunStatus
    executions: list[ExecutionInfo]
    made: RunMade | None  # None: a run the local runner did not make (Kubeflow's)
    made_in: dict[int, str]  # a cached execution's id -> the run whose execution made what it reused
    first_served: str | None  # "version N by run R": the first push of the model this run pushed, to another version

    @property
    def by_node(self) -> dict[str, ExecutionInfo]:
        return {execution.node_id: execution for execution in self.executions}

    def execution(self, node_id: str) -> ExecutionInfo | None:
        return next((execution for execution in self.executions if execution.node_id == node_id), None)

    def output(self, node_id: str, key: str, finished_only: bool = False) -> ArtifactInfo | None:
        """The first artifact the node made (or reused) under `key`; None when it made none, or,
        with `finished_only`, when it did not finish (the outputs of a failed or stopped one)."""
        execution = self.execution(node_id)
        if execution is None or (finished_only and execution.status not in FINISHED):
            return None
        return execution.outputs[key][0] if execution.outputs.get(key) else None


def load(store: Store, run: metadata_store_pb2.Context, leave_out: str | None = None) -> RunRecord:
    """The record of `run`, without the node `leave_out` (a node that describes the run while it
    runs: the Kubeflow report task)."""
    executions = [e for e in mlmd.run_executions(store, run) if e.node_id != leave_out]
    started = min((e.started_ms for e in executions), default=run.create_time_since_epoch)
    ended = max((e.started_ms + e.seconds * 1000 for e in executions), default=started)
    made_in = {
        e.id: mlmd.producer_run(store, outputs[0].id)
        for e in executions
        if e.status is ComponentStatus.CACHED and (outputs := mlmd.artifacts_of([e], "outputs"))
    }
    return RunRecord(
        id=run.name,
        started_ms=started,
        seconds=round((ended - started) / 1000, 1),
        status=RunStatus.of({execution.status for execution in executions}),
        executions=executions,
        made=run_made.read(run),
        made_in=made_in,
        first_served=_first_served(store, executions),
    )


def load_all(store: Store, pipeline_name: str | None = None) -> list[RunRecord]:
    """Every run (of the pipeline `pipeline_name` when given), newest first."""
    contexts = mlmd.run_contexts(store, pipeline_name)
    if not contexts:
        raise mlmd.no_runs(pipeline_name)
    return [load(store, context) for context in contexts]


def input_files(executions: list[ExecutionInfo]) -> list[InputFile]:
    """The IDX files recorded on the Examples among the executions' outputs."""
    return [
        InputFile(
            role, examples.properties[f"input_file_{role}"], examples.properties[f"input_sha256_{role}"], examples.id
        )
        for examples in mlmd.artifacts_of(executions, "outputs")
        if examples.type == "Examples"
        for role in IDX_ROLES
        if f"input_file_{role}" in examples.properties
    ]


def _first_served(store: Store, executions: list[ExecutionInfo]) -> str | None:
    """ "version N by run R": the first push of the model the run pushed (by model_sha256) to
    another version, as when going back to settings a cached Trainer had already trained for; else None."""
    pushed = next((e.outputs["pushed_model"][0] for e in executions if e.outputs.get("pushed_model")), None)
    digest = pushed.properties.get(model_integrity.DIGEST_PROPERTY) if pushed else None
    if pushed is None or pushed.properties.get("pushed") != 1 or digest is None:
        return None
    earlier = sorted(
        (
            artifact
            for artifact in mlmd.artifacts_of_type(store, pushed.type)
            if artifact.id < pushed.id
            and artifact.properties.get(model_integrity.DIGEST_PROPERTY) == digest
            and artifact.properties.get("pushed") == 1
            and artifact.properties.get("pushed_version") != pushed.properties.get("pushed_version")
        ),
        key=lambda artifact: artifact.id,
    )
    if not earlier:
        return None
    return f"version {earlier[0].properties['pushed_version']} by run {mlmd.producer_run(store, earlier[0].id)}"


def settings(record: RunRecord) -> dict[str, Any]:
    """Every execution's parameters as `<node id>.<dotted key>` -> value."""
    return {
        f"{execution.node_id}.{key}": value
        for execution in record.executions
        for key, value in mlmd.flatten(execution.parameters).items()
    }
