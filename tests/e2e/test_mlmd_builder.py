"""tests/support/mlmd_builder.py writes what a real run writes: the read side's unit tests stand
on its stores, so each node's execution (type, state, parameter names) and outputs (key, artifact
type, property names) are compared with those of a real run's store, run by run: a first run,
and an identical rerun, which caches all but the check of the served model and what follows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

from conftest import ReportedRun
from support import mlmd_builder

pytestmark = pytest.mark.e2e


def node_shapes(path: Path, run_id: str) -> dict[str, dict[str, Any]]:
    """Each node's execution in the run as its shape: type, state, parameter names, outputs by key."""
    store = mlmd_builder.sqlite_store(path)
    execution_types = {t.id: t.name for t in store.get_execution_types()}
    artifact_types = {t.id: t.name for t in store.get_artifact_types()}
    run = store.get_context_by_type_and_name("pipeline_run", run_id)
    shapes: dict[str, dict[str, Any]] = {}
    for execution in store.get_executions_by_context(run.id):
        [node] = [c.name.rsplit(".", 1)[-1] for c in store.get_contexts_by_execution(execution.id) if c.type == "node"]
        shapes[node] = {
            "type": execution_types[execution.type_id],
            "state": mlmd.Execution.State.Name(execution.last_known_state),
            "parameters": sorted({*execution.properties, *execution.custom_properties}),
            "outputs": _outputs(store, execution.id, artifact_types),
        }
    return shapes


def _outputs(store: metadata_store.MetadataStore, execution_id: int, types: dict[int, str]) -> dict[str, Any]:
    events = [e for e in store.get_events_by_execution_ids([execution_id]) if e.type == mlmd.Event.OUTPUT]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    return {
        event.path.steps[0].key: (
            types[artifacts[event.artifact_id].type_id],
            sorted({*artifacts[event.artifact_id].properties, *artifacts[event.artifact_id].custom_properties}),
        )
        for event in events
    }


def test_the_builder_writes_each_node_as_a_real_run_does(
    reported_run: ReportedRun, reported_rerun: str, tmp_path: Path
):
    built_store = tmp_path / "metadata.sqlite"
    layout = mlmd_builder.TfxLayout(built_store)
    first = mlmd_builder.mnist_run(layout, tmp_path, "20261130-000100-000001")
    rerun = mlmd_builder.mnist_run(
        layout, tmp_path, "20261130-000200-000002", previous=first, ran=mlmd_builder.RECHECKED
    )
    real_store = reported_run.output_dir / "metadata.sqlite"

    for real_run, built_run in ((reported_run.run_id, first.run_id), (reported_rerun, rerun.run_id)):
        real, built = node_shapes(real_store, real_run), node_shapes(built_store, built_run)
        assert real.keys() == built.keys()
        differing = {node: {"real": real[node], "built": built[node]} for node in real if real[node] != built[node]}
        assert differing == {}, f"run {real_run}"
