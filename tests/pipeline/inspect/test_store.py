"""pipeline/inspect/store.py: opening a store (one line for each way it cannot be read) and
decoding both layouts, TFX's local runners' and KFP's launcher's, to the same plain records."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from typing import Any

import pytest
from ml_metadata.proto import metadata_store_pb2

from components.examples_integrity import SHARDS_PROPERTY
from components.parameters import settings
from components.trainer.settings import TrainerSettings
from pipeline import node_ids
from pipeline.config import load_config
from pipeline.inspect import store
from pipeline.inspect.states import ComponentStatus

from conftest import lineage_fails, run_cli
from support import mlmd_builder

# --- opening ----------------------------------------------------------------------------------


def test_missing_store(capsys, tmp_path):
    error = lineage_fails(capsys, tmp_path / "nothing", "runs")
    assert "metadata.sqlite: no metadata store here (run the pipeline first)" in error


@pytest.mark.parametrize("query", [["runs"], ["artifacts"], ["trace", "pushed:latest"], ["graph"]])
def test_store_without_runs(capsys, tmp_path, query):
    mlmd_builder.empty_store(tmp_path / "metadata.sqlite")
    assert "yet (run the pipeline first)" in lineage_fails(capsys, tmp_path, *query)


def test_runs_of_another_pipeline_in_the_store_are_not_ours(capsys, tmp_path):
    """KFP's metadata service holds every pipeline's runs, each a child of its pipeline's context
    (backend/src/v2/metadata/client.go GetPipeline): `lineage` and `report` read this pipeline's."""
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as mlmd

    config = mlmd.ConnectionConfig()
    config.sqlite.filename_uri = str(mlmd_builder.empty_store(tmp_path / "metadata.sqlite"))
    store = metadata_store.MetadataStore(config)
    pipeline_type = store.put_context_type(mlmd.ContextType(name="system.Pipeline"))
    run_type = store.put_context_type(mlmd.ContextType(name="system.PipelineRun"))
    pipeline_id, run_id = store.put_contexts(
        [mlmd.Context(type_id=pipeline_type, name="another-pipeline"), mlmd.Context(type_id=run_type, name="run-1")]
    )
    store.put_parent_contexts([mlmd.ParentContext(child_id=run_id, parent_id=pipeline_id)])

    for query in (["runs"], ["diff", "run-1", "run-1"]):
        assert "no run of pipeline 'mnist' yet" in lineage_fails(capsys, tmp_path, *query)
    assert run_cli("report", "run-1", "--output-dir", tmp_path) == 1
    assert "no run of pipeline 'mnist' yet" in capsys.readouterr().err


def test_empty_file_is_not_a_store(capsys, tmp_path):
    (tmp_path / "metadata.sqlite").write_bytes(b"")
    assert "not a metadata store (an empty file)" in lineage_fails(capsys, tmp_path, "runs")


def test_a_store_another_process_holds_locked_is_said_to_be_in_use(capsys, tmp_path):
    """Not "not a metadata store": a reader told that would move the lineage away (issue 27)."""
    path = mlmd_builder.empty_store(tmp_path / "metadata.sqlite")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCKED, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert lineage_fails(capsys, tmp_path, "runs") == (
            f"error: {path}: the metadata store is locked by another process (a write under way); "
            "wait for it to end and run the command again"
        )
    finally:
        holder.kill()
        holder.wait()


HOLD_LOCKED = """
import sqlite3, sys, time
database = sqlite3.connect(sys.argv[1], isolation_level=None)
database.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("version", [99, 1])
def test_store_of_another_schema_version(capsys, tmp_path, version):
    path = mlmd_builder.empty_store(tmp_path / "metadata.sqlite")
    with closing(sqlite3.connect(path)) as database, database:
        database.execute("UPDATE MLMDEnv SET schema_version = ?", (version,))
    error = lineage_fails(capsys, tmp_path, "runs")
    assert f"written with MLMD schema version {version}, but ml-metadata" in error
    assert "read it with the ml-metadata release that wrote it" in error


# --- decoding ---------------------------------------------------------------------------------


def parameters_by_node(written: mlmd_builder.Written, run: str | None = None) -> dict[str, dict[str, Any]]:
    executions = store.run_executions(written.store, store.find_run(written.store, run))
    return {execution.node_id: execution.parameters for execution in executions}


def test_both_layouts_decode_to_the_same_parameters(tfx_written, kfp_written):
    """TFX keeps parameters as JSON strings and numbers, KFP as one struct of doubles: read back, they are equal."""

    def parameters(written: mlmd_builder.Written) -> dict[str, dict[str, Any]]:
        return json.loads(json.dumps(parameters_by_node(written)).replace(str(written.root), "ROOT"))

    decoded = parameters(kfp_written)
    assert decoded == parameters(tfx_written)
    trainer = decoded[node_ids.TRAINER]
    assert settings(TrainerSettings, trainer, "training.") == replace(mlmd_builder.TRAINING, learning_rate=0.01)
    assert trainer["custom_config"] == {"data": mlmd_builder.DATA}
    assert "seen" not in decoded[node_ids.DATA_PROBE]  # a driver's record of the input, no setting


def test_both_layouts_decode_to_the_same_artifact_properties(tfx_written, kfp_written):
    """KFP stores every number of an artifact as a double: read back, TFX's ints are ints again
    (compared as JSON, where 50 and 50.0 differ)."""
    differ = {
        "display_name",  # KFP's RecordArtifact adds it and store_session_info
        "store_session_info",
        "tfx_version",  # TFX's own, which KFP's launcher does not record, with is_external
        "is_external",
        SHARDS_PROPERTY,  # the shards' digests: gzip stamps them with the second it wrote them
    }

    def properties(written: mlmd_builder.Written) -> list[str]:
        artifacts = store.artifacts(written.store)
        decoded = [{k: v for k, v in a.properties.items() if k not in differ} for a in artifacts]
        return [json.dumps(p, sort_keys=True).replace(str(written.root), "ROOT") for p in decoded]

    decoded = properties(kfp_written)
    assert decoded == properties(tfx_written)
    assert any('"num_examples_train": 50,' in p for p in decoded)
    assert any(f'"pushed_version": "{kfp_written.third.pushed_version}"' in p for p in decoded)


@pytest.mark.parametrize(("layout", "precision"), [(mlmd_builder.TfxLayout, "1.0"), (mlmd_builder.KfpLayout, "1")])
def test_a_whole_double_stays_a_float_in_tfxs_layout_only(tmp_path, layout, precision):
    """TFX keeps a float's type; KFP's double no longer tells a whole float from an int."""
    writer = layout(tmp_path / "metadata.sqlite")
    writer.new_run("20261130-000100-000001")
    figures = {"precision_at_1": 1.0, "example_count": 20}
    outputs = {"evaluation": [mlmd_builder.NewArtifact("ModelEvaluation", str(tmp_path / "e"), figures)]}
    [evaluation_id] = writer.execute("20261130-000100-000001", node_ids.TEST_EVALUATOR, "COMPLETE", {}, {}, outputs)[
        "evaluation"
    ]
    [evaluation] = store.artifacts(writer.store, ids=[evaluation_id])
    decoded = evaluation.properties
    assert (repr(decoded["precision_at_1"]), repr(decoded["example_count"])) == (precision, "20")


def test_executions_carry_their_node_id_status_and_artifacts_in_both_layouts(written):
    executions = store.run_executions(written.store, store.find_run(written.store, written.second.run_id))
    assert [e.node_id for e in executions] == list(mlmd_builder.COMPONENTS)  # KFP's root DAG left out
    trainer = next(e for e in executions if e.node_id == node_ids.TRAINER)
    assert trainer.status == ComponentStatus.CACHED and trainer.run_ids == [written.second.run_id]
    assert [a.id for a in trainer.outputs["model"]] == written.first.outputs[node_ids.TRAINER]["model"]
    [examples] = trainer.inputs["examples"]
    assert examples.type == "Examples" and store.split_names(examples.properties) == ["train", "validation", "test"]
    assert store.producer_run(written.store, examples.id) == written.first.run_id


def test_a_run_is_found_by_number_prefix_or_as_the_newest(tfx_written):
    metadata, first, third = tfx_written.store, tfx_written.first.run_id, tfx_written.third.run_id
    assert store.find_run(metadata).name == third
    assert store.find_run(metadata, "#1").name == store.find_run(metadata, "1").name == first
    assert store.find_run(metadata, first[:-1]).name == first
    with pytest.raises(store.StoreError, match="run '20261130' is ambiguous"):
        store.find_run(metadata, "20261130")
    with pytest.raises(store.StoreError, match="no run of pipeline 'another' yet"):
        store.find_run(metadata, pipeline_name="another")
    assert [run.name for run in store.run_contexts(metadata, "mnist")] == [
        run.name for run in store.run_contexts(metadata)
    ]


def test_the_configured_store_is_read_as_it_is_even_in_an_idle_output_dir(tmp_path):
    mlmd, running = mlmd_builder.left_running(tmp_path / "metadata.sqlite")
    reader = store.open_configured(tmp_path, load_config().metadata)
    [execution] = reader.get_executions_by_id([running])
    assert execution.last_known_state == metadata_store_pb2.Execution.RUNNING  # recording it is the local side's
