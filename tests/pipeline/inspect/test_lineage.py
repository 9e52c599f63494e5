"""Tests for `mnist-pipeline lineage`: runs, artifacts, trace, diff and graph, read from MLMD.

Three pipeline runs on the synthetic data, shared by the tests marked e2e: a first run; an
identical second run, which finds the first one's model served now, checks the candidate
against it and records the same version again (all else cached); and a third with another
learning rate. The tests of stores that hold no run need none.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from google.protobuf import json_format

from components import serving_dir as serving_dir_module
from components.examples_integrity import SHARDS_PROPERTY
from pipeline import node_ids
from pipeline.config import load_config
from pipeline.fingerprint import code_sha256
from pipeline.inspect import lineage, lineage_report
from pipeline.inspect.states import ComponentStatus
from pipeline.pipeline import CODE_MODULES

import mlmd_builder
from conftest import SMALL_RUN, run_cli
from fake_mnist import FILE_NAMES
from system_packages import why_missing

IDX_FILES = {role: f"{name}.gz" for role, name in FILE_NAMES.items()}  # as fake_mnist_dir holds them
RUN_ID = re.compile(r"\d{8}-\d{6}-\d{6}")  # local time to the microsecond
# What the second run re-runs: the served model changed (the first run pushed), so the blessing
# is checked against it and the push recorded again; everything else is cached.
RECHECKED = {node_ids.SERVING_PROBE, node_ids.SERVED_MODEL, node_ids.BLESSING_EVALUATOR, node_ids.PUSHER}


class Runs(NamedTuple):
    output_dir: Path
    first: str
    second: str  # identical to the first: only RECHECKED ran
    third: str  # training.learning_rate=0.01


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, fake_mnist_dir: Path) -> Runs:
    output_dir = tmp_path_factory.mktemp("lineage") / "outputs"
    run = ["run", "--data-dir", fake_mnist_dir, "--output-dir", output_dir, *SMALL_RUN]
    for extra in ([], [], ["--set", "training.learning_rate=0.01"]):
        assert run_cli(*run, *extra) == 0
    newest_first = [run.name for run in lineage.run_contexts(lineage.open_store(output_dir / "metadata.sqlite"))]
    assert len(newest_first) == 3
    return Runs(output_dir, *reversed(newest_first))


def lineage_json(capsys: pytest.CaptureFixture, output_dir: Path, *query: str | Path) -> Any:
    """Runs `mnist-pipeline lineage --json QUERY` and parses what it prints."""
    capsys.readouterr()
    assert run_cli("lineage", *query, "--output-dir", output_dir, "--json") == 0
    return json.loads(capsys.readouterr().out)


def lineage_fails(capsys: pytest.CaptureFixture, output_dir: Path, *query: str | Path) -> str:
    """Runs a query that must fail; returns its one line of error."""
    capsys.readouterr()
    assert run_cli("lineage", *query, "--output-dir", output_dir) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.strip().splitlines()
    assert line.startswith("error: ")
    return line


def summary_of(runs: Runs, run_id: str) -> dict[str, Any]:
    """The run summary the pipeline wrote beside its log."""
    summaries = [json.loads(path.read_text()) for path in (runs.output_dir / "runs").glob("*.json")]
    [summary] = [summary for summary in summaries if summary["run_id"] == run_id]
    return summary


# --- runs -----------------------------------------------------------------------------------


@pytest.mark.e2e
def test_runs_newest_first_and_the_second_run_rechecks_only_the_served_model(runs, capsys):
    listed = lineage_json(capsys, runs.output_dir, "runs")
    assert [run["id"] for run in listed] == [runs.third, runs.second, runs.first]
    assert all(RUN_ID.fullmatch(run["id"]) for run in listed)
    assert all(run["status"] == "complete" for run in listed)
    third, second, first = ({c["node_id"]: c["status"] for c in run["components"]} for run in listed)
    assert len(first) == 13 and set(first.values()) == {"ran"}
    assert {node for node, status in second.items() if status == "ran"} == RECHECKED
    assert {status for node, status in second.items() if node not in RECHECKED} == {"cached"}
    assert third["IdxExampleGen"] == "cached" and third["Trainer"] == "ran" and third["Pusher"] == "ran"
    assert third[node_ids.SERVED_MODEL] == "cached"  # the same model is served as in the second run
    assert listed[2]["seconds"] > listed[1]["seconds"]  # the mostly cached run is the quick one


@pytest.mark.e2e
def test_the_blessing_says_what_it_was_compared_with(runs):
    first, second, third = (summary_of(runs, run_id) for run_id in (runs.first, runs.second, runs.third))
    assert first["blessing"]["reason"] == "passed the Precision@1 threshold; no model was served yet"
    served = int(first["pushed"]["version"])
    for later in (second, third):
        assert (
            later["blessing"]["reason"]
            == f"passed the Precision@1 threshold and the comparison with served version {served}"
        )
    assert second["pushed"]["version"] == first["pushed"]["version"]  # the same model: recorded, not pushed again
    assert int(third["pushed"]["version"]) > served


@pytest.mark.e2e
def test_runs_table(runs, capsys):
    capsys.readouterr()
    assert run_cli("lineage", "runs", "--output-dir", runs.output_dir) == 0
    table = capsys.readouterr().out
    header, *rows = table.splitlines()[:4]
    assert header.split() == ["#", "RUN", "STARTED", "DURATION", "STATUS", "COMPONENTS"]
    assert runs.second in rows[1] and "4 ran, 9 cached" in rows[1]
    assert re.search(r"^Trainer\s+ran\s+cached\s+ran$", table, re.MULTILINE)


# --- artifacts ------------------------------------------------------------------------------


@pytest.mark.e2e
def test_artifacts_of_a_run_by_type(runs, capsys, fake_mnist_dir):
    [examples] = lineage_json(capsys, runs.output_dir, "artifacts", "--type", "examples", "--run", runs.first)
    assert examples["type"] == "Examples" and examples["state"] == "LIVE"
    properties = examples["properties"]
    assert (
        properties["num_examples_train"],
        properties["num_examples_validation"],
        properties["num_examples_test"],
    ) == (500, 100, 200)
    for role, name in IDX_FILES.items():
        assert properties[f"input_sha256_{role}"] == decompressed_sha256(fake_mnist_dir / name)


@pytest.mark.e2e
def test_artifacts_carry_metrics_and_blessing(runs, capsys):
    listed = lineage_json(capsys, runs.output_dir, "artifacts", "--type", "Model")
    assert [model["id"] for model in listed] == sorted((model["id"] for model in listed), reverse=True)  # newest first
    # ServedModel's baselines are Models too; they say whether anything was served.
    baselines = [model for model in listed if "served" in model["properties"]]
    models = [model for model in listed if "served" not in model["properties"]]
    assert len(models) == 2  # the second run trained none
    assert [baseline["properties"]["served"] for baseline in baselines] == [1, 0]  # the third run's was cached
    summary = summary_of(runs, runs.third)
    assert models[0]["metrics"] == summary["trainer_precision_at_1"]
    evaluations = lineage_json(capsys, runs.output_dir, "artifacts", "--type", "ModelEvaluation", "--run", runs.third)
    accuracies = sorted(evaluation["metrics"]["precision_at_1"] for evaluation in evaluations)
    assert accuracies == sorted(split["precision_at_1"] for split in summary["evaluation"].values())
    blessings = lineage_json(capsys, runs.output_dir, "artifacts", "--type", "ModelBlessing", "--run", runs.third)
    assert any(blessing["properties"].get("blessed") == 1 for blessing in blessings)


@pytest.mark.e2e
def test_the_artifacts_table_says_what_an_empty_baseline_means(runs, capsys):
    capsys.readouterr()
    assert run_cli("lineage", "artifacts", "--type", "Model", "--run", runs.first, "--output-dir", runs.output_dir) == 0
    table = capsys.readouterr().out
    assert re.search(
        r"^\s+served\s+0 \(nothing was served yet: no baseline, the threshold alone blesses\)$", table, re.M
    )
    assert "confusion_matrix" not in table  # the Evaluators' figures show as metrics.*, not twice


# --- trace ----------------------------------------------------------------------------------


def decompressed_sha256(path: Path) -> str:
    return hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()


@pytest.mark.e2e
def test_trace_pushed_latest_reaches_the_idx_files(runs, capsys, fake_mnist_dir):
    trace = lineage_json(capsys, runs.output_dir, "trace", "pushed:latest")
    pushed = trace["artifact"]
    assert pushed["type"] == "PushedModel"
    assert pushed["properties"]["pushed_destination"] == summary_of(runs, runs.third)["pushed"]["destination"]
    files = {f["role"]: (f["name"], f["sha256"]) for f in trace["input_files"]}
    assert files == {role: (name, decompressed_sha256(fake_mnist_dir / name)) for role, name in IDX_FILES.items()}

    steps = {step["execution"]["node_id"]: step for step in trace["upstream"]}
    assert {"Pusher", "Evaluator-validation", "Trainer", "IdxExampleGen", "ServedModel"} <= steps.keys()
    # Validation stands on the model's lineage: the Trainer read the schema that DataGate passed on.
    assert {"StatisticsGen", "ExampleValidator", "SplitValidator", "DataGate"} <= steps.keys()
    trainer = trace["upstream"][[s["execution"]["node_id"] for s in trace["upstream"]].index("Trainer")]
    assert trainer["execution"]["run_ids"] == [runs.third]  # the newest Trainer comes first
    assert trainer["parameters"]["learning_rate"] == 0.01  # a parameter of its own: a run may set it
    assert trainer["versions"]["custom_config.code_sha256"] == code_sha256(*CODE_MODULES[node_ids.TRAINER])
    assert trainer["versions"]["component"] == "components.trainer.component.Trainer"
    assert trainer["versions"]["tfx"].startswith("1.16")
    ingest = steps["IdxExampleGen"]["versions"]
    assert ingest["code_sha256"] == code_sha256(*CODE_MODULES[node_ids.INGEST])
    assert steps["DataGate"]["versions"]["code_sha256"] == code_sha256(*CODE_MODULES[node_ids.DATA_GATE])
    assert trace["downstream"] == []  # nothing uses a pushed model


@pytest.mark.e2e
def test_trace_of_a_model_by_uri_lists_its_evaluations_blessing_and_push(runs, capsys):
    by_id = lineage_json(capsys, runs.output_dir, "trace", "pushed:latest")
    [model] = [
        a
        for step in by_id["upstream"]
        if step["execution"]["node_id"] == "Pusher"
        for a in step["execution"]["inputs"]["model"]
    ]
    trace = lineage_json(capsys, runs.output_dir, "trace", model["uri"] + "/")
    assert trace["artifact"]["id"] == model["id"]
    uses = {execution["node_id"] for execution in trace["downstream"]}
    assert {"Evaluator-validation", "Evaluator-test", "Pusher"} <= uses
    made = {
        a["type"] for execution in trace["downstream"] for artifacts in execution["outputs"].values() for a in artifacts
    }
    assert {"ModelEvaluation", "ModelBlessing", "PushedModel"} <= made


@pytest.mark.e2e
def test_trace_table_shows_the_chain(runs, capsys, fake_mnist_dir):
    capsys.readouterr()
    assert run_cli("lineage", "trace", "--output-dir", runs.output_dir, "pushed:latest") == 0
    table = capsys.readouterr().out
    assert table.startswith("PushedModel ")
    assert re.search(r"^Trainer \(execution \d+, ran, run ", table, re.MULTILINE)
    assert re.search(r"parameter\s+learning_rate\s+0\.01$", table, re.MULTILINE)  # a parameter of its own
    for name in IDX_FILES.values():
        assert re.search(rf"{re.escape(name)}\s+{decompressed_sha256(fake_mnist_dir / name)}", table)
    # the served model back to the code's revision, and how its Trainer's run was made
    assert re.search(rf"^  {runs.third}: Made by: local runner, Beam DirectRunner; config ", table, re.MULTILINE)
    assert re.search(r"--set training\.learning_rate=0\.01.*; Data: .*; code: (git |mnist-pipeline )", table)


# --- diff -----------------------------------------------------------------------------------


def rows_of(section: list[dict[str, Any]], changed: bool | None = None) -> dict[str, tuple[Any, Any]]:
    return {row["key"]: (row["a"], row["b"]) for row in section if changed is None or row["changed"] == changed}


@pytest.mark.e2e
def test_diff_shows_the_changed_learning_rate_and_the_new_metrics(runs, capsys):
    diff = lineage_json(capsys, runs.output_dir, "diff", runs.first, runs.third)
    assert (diff["run_a"], diff["run_b"]) == (runs.first, runs.third)
    sections = diff["sections"]
    changed = rows_of(sections["settings"], changed=True)
    default_rate = load_config().training.learning_rate
    assert changed.pop("Trainer.learning_rate") == (default_rate, 0.01)
    # The only other difference: the first run had nothing served to compare with.
    assert (
        list(changed) == ["ServedModel.served_fingerprint"] and changed["ServedModel.served_fingerprint"][0] == "none"
    )
    assert rows_of(sections["inputs"], changed=True) == {}
    assert len(rows_of(sections["inputs"])) == 11  # 4 names, 4 checksums, 3 split sizes
    metrics = rows_of(sections["metrics"])
    for run_id, side in ((runs.first, 0), (runs.third, 1)):
        summary = summary_of(runs, run_id)
        for split, values in summary["trainer_precision_at_1"].items():
            assert metrics[f"trainer.precision_at_1.{split}"][side] == values["precision_at_1"]
        for split, values in summary["evaluation"].items():
            assert metrics[f"evaluator.precision_at_1.{split}"][side] == values["precision_at_1"]
    blessing = rows_of(sections["blessing"])
    assert blessing["blessing.blessed"] == (True, True)
    served_version = int(summary_of(runs, runs.first)["pushed"]["version"])
    assert blessing["blessing.baseline.served_version"] == (None, served_version)
    assert "pushed.version" in rows_of(sections["blessing"], changed=True)


@pytest.mark.e2e
def test_diff_of_a_rerun_shows_only_the_model_it_was_compared_with(runs, capsys):
    diff = lineage_json(capsys, runs.output_dir, "diff", runs.first, runs.second)
    sections = diff["sections"]
    first_push = summary_of(runs, runs.first)["pushed"]
    model_uri = summary_of(runs, runs.second)["blessing"]["baseline"]["model_uri"]
    assert rows_of(sections["settings"], changed=True) == {
        "ServedModel.served_fingerprint": ("none", f"{first_push['version']}:{model_uri}")
    }
    assert rows_of(sections["inputs"], changed=True) == rows_of(sections["metrics"], changed=True) == {}
    blessing_changes = rows_of(sections["blessing"], changed=True)
    assert blessing_changes.pop("pushed.new_version") == (True, False)  # the same version, recorded again
    assert blessing_changes and all(key.startswith("blessing.baseline") for key in blessing_changes)
    capsys.readouterr()
    assert run_cli("lineage", "diff", "--output-dir", runs.output_dir, runs.first, runs.second) == 0
    assert "Settings: 1 of" in capsys.readouterr().out


# --- graph ----------------------------------------------------------------------------------


@pytest.mark.e2e
def test_graph_writes_dot_that_graphviz_parses(runs, capsys, tmp_path):
    dot_file = tmp_path / "lineage.dot"
    capsys.readouterr()
    assert run_cli("lineage", "graph", "--output-dir", runs.output_dir, "--run", runs.third, "--output", dot_file) == 0
    assert str(dot_file) in capsys.readouterr().out
    dot = dot_file.read_text()
    assert dot.startswith(f'digraph "lineage of run {runs.third}"')
    graph = lineage_json(capsys, runs.output_dir, "graph", "--run", runs.third)
    assert dot.count(" -> ") == len(graph["edges"]) > 0
    labels = {node["label"] for node in graph["nodes"]}
    assert "Trainer\nran" in labels and "IdxExampleGen\ncached" in labels
    assert any(label.startswith("Examples ") for label in labels)


@pytest.fixture(scope="session")
def graphviz_installed(pytestconfig: pytest.Config) -> None:
    reason = why_missing(["graphviz"], ["dot"], pytestconfig)
    if reason:
        pytest.skip(reason)


@pytest.mark.e2e
def test_graph_renders_svg_with_graphviz(runs, graphviz_installed, tmp_path):
    dot_file = tmp_path / "lineage.dot"
    assert run_cli("lineage", "graph", "--output-dir", runs.output_dir, "--output", dot_file) == 0
    assert subprocess.run(["dot", "-Tcanon", str(dot_file)], capture_output=True, check=False).returncode == 0
    svg = tmp_path / "lineage.svg"
    assert run_cli("lineage", "graph", "--output-dir", runs.output_dir, "--output", svg) == 0
    assert "<svg" in svg.read_text()


@pytest.mark.e2e
def test_graph_rendering_without_graphviz_says_how_to_get_it(runs, capsys, tmp_path, monkeypatch):
    from pipeline.inspect import lineage_report

    monkeypatch.setattr(lineage_report.shutil, "which", lambda name: None)
    error = lineage_fails(capsys, runs.output_dir, "graph", "--output", tmp_path / "lineage.png")
    assert "apt-get install graphviz" in error
    assert not (tmp_path / "lineage.png").exists()


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, message",
    [
        (["trace", "999999"], "no artifact with id 999999"),
        (["trace", "/no/such/artifact"], "no artifact with URI /no/such/artifact"),
        (["trace", "model:newest"], "is not an artifact id, a URI or pushed:latest"),
        (["diff", "no-such-run", "2"], "run 'no-such-run' not found"),
        (["graph", "--run", "no-such-run"], "run 'no-such-run' not found"),
        (["artifacts", "--type", "Modle"], "unknown artifact type 'Modle' (known: "),
        (["graph", "--output", "graph.pdf"], "must end in .dot, .svg or .png"),
    ],
)
@pytest.mark.e2e
def test_unknown_ids_fail_clearly(runs, capsys, query, message):
    assert message in lineage_fails(capsys, runs.output_dir, *query)


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


# --- the read side on runs written straight into a store (tests/mlmd_builder.py): no pipeline --


@pytest.fixture(scope="module")
def tfx_written(tmp_path_factory) -> mlmd_builder.Written:
    return mlmd_builder.written(tmp_path_factory.mktemp("tfx"), mlmd_builder.TfxLayout)


@pytest.fixture(scope="module")
def kfp_written(tmp_path_factory) -> mlmd_builder.Written:
    return mlmd_builder.written(tmp_path_factory.mktemp("kfp"), mlmd_builder.KfpLayout)


@pytest.fixture(params=["tfx", "kfp"])
def written(request) -> mlmd_builder.Written:
    """The three runs of `runs` above, in TFX's layout and in KFP's."""
    return request.getfixturevalue(f"{request.param}_written")


def by_node(run: lineage.RunInfo) -> dict[str, lineage.ExecutionInfo]:
    return {execution.node_id: execution for execution in run.components}


def test_runs_are_listed_newest_first_with_each_components_status(written):
    third, second, first = lineage.list_runs(written.store)
    assert [run.id for run in (third, second, first)] == [
        r.run_id for r in (written.third, written.second, written.first)
    ]
    assert list(by_node(first)) == list(mlmd_builder.COMPONENTS)  # in the order they started; KFP's root DAG left out
    assert {execution.status for execution in first.components} == {ComponentStatus.RAN}
    assert {node for node, e in by_node(second).items() if e.status == ComponentStatus.RAN} == mlmd_builder.RECHECKED
    assert {node for node, e in by_node(third).items() if e.status == ComponentStatus.RAN} == mlmd_builder.RETRAINED
    assert {e.status for node, e in by_node(third).items() if node not in mlmd_builder.RETRAINED} == {"cached"}
    assert (first.status, first.seconds) == ("complete", 13 + 0.5)  # 13 steps a second apart, the last 1.5 s long
    assert (
        lineage.run_info(written.store, lineage.find_run(written.store), leave_out=node_ids.PUSHER)
        .components[-1]
        .node_id
        == node_ids.BLESSING_EVALUATOR
    )


def test_both_layouts_decode_to_the_same_parameters(tfx_written, kfp_written):
    """TFX keeps parameters as JSON strings and numbers, KFP as one struct of doubles: read back, they are equal."""

    def parameters(written: mlmd_builder.Written) -> dict[str, dict[str, Any]]:
        run = lineage.run_info(written.store, lineage.find_run(written.store))
        decoded = {node: lineage.parameters(execution) for node, execution in by_node(run).items()}
        return json.loads(json.dumps(decoded).replace(str(written.root), "ROOT"))

    decoded = parameters(kfp_written)
    assert decoded == parameters(tfx_written)
    trainer = decoded[node_ids.TRAINER]
    assert trainer["learning_rate"] == 0.01 and trainer["train_steps"] == 60
    assert trainer["custom_config"]["training"] == mlmd_builder.TRAINING
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
        artifacts = lineage.list_artifacts(written.store)
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
    [evaluation] = writer.store.get_artifacts_by_id([evaluation_id])
    decoded = lineage.artifact_info(writer.store, evaluation).properties
    assert (repr(decoded["precision_at_1"]), repr(decoded["example_count"])) == (precision, "20")


def test_artifacts_are_typed_by_tfx_names_in_both_layouts(written):
    [examples] = lineage.list_artifacts(written.store, "examples", written.first.run_id)
    assert examples.type == "Examples" and examples.state == "LIVE"
    assert lineage.split_names(examples.properties) == ["train", "validation", "test"]
    assert examples.properties["shard_sha256"].keys() == {"train", "validation", "test"}  # a struct, unwrapped
    [evaluation, *_] = lineage.list_artifacts(written.store, "ModelEvaluation", written.third.run_id)
    assert evaluation.metrics["precision_at_1"] == 0.91 and evaluation.properties["validation_failures"] == []
    models = [m for m in lineage.list_artifacts(written.store, "Model") if "served" not in m.properties]
    assert [model.metrics["validation"]["precision_at_1"] for model in models] == [0.91, 0.904]  # newest first
    with pytest.raises(lineage.LineageError, match="unknown artifact type 'Modle' \\(known: "):
        lineage.list_artifacts(written.store, "Modle")


def test_a_run_is_found_by_number_prefix_or_as_the_newest(tfx_written):
    store, first, third = tfx_written.store, tfx_written.first.run_id, tfx_written.third.run_id
    assert lineage.find_run(store).name == third
    assert lineage.find_run(store, "#1").name == lineage.find_run(store, "1").name == first
    assert lineage.find_run(store, first[:-1]).name == first
    with pytest.raises(lineage.LineageError, match="run '20261130' is ambiguous"):
        lineage.find_run(store, "20261130")
    with pytest.raises(lineage.LineageError, match="no run of pipeline 'another' yet"):
        lineage.find_run(store, pipeline_name="another")
    assert [run.name for run in lineage.run_contexts(store, "mnist")] == [
        run.name for run in lineage.run_contexts(store)
    ]


def test_trace_of_the_served_model_goes_back_to_the_idx_files(written):
    trace = lineage.trace(written.store, lineage.PUSHED_LATEST, str(written.root / "serving"))
    assert trace.artifact.type == "PushedModel"
    assert trace.artifact.properties["pushed_version"] == written.third.pushed_version
    steps = {step.execution.node_id: step for step in trace.upstream}
    assert set(steps) == set(mlmd_builder.COMPONENTS) - {node_ids.TEST_EVALUATOR}
    trainer = steps[node_ids.TRAINER]
    assert trainer.execution.run_ids == [written.third.run_id] and trainer.parameters["learning_rate"] == 0.01
    # The component's class in TFX's layout; KFP types every task's execution alike.
    kfp = written.root.name.startswith("kfp")
    assert trainer.versions["component"] == (
        "system.ContainerExecution" if kfp else mlmd_builder.COMPONENTS[node_ids.TRAINER]
    )
    assert trainer.versions["custom_config.code_sha256"] == trainer.parameters["custom_config"]["code_sha256"]
    assert {(f.role, f.name) for f in trace.input_files} == {(r, f"{n}.gz") for r, n in FILE_NAMES.items()}
    assert trace.downstream == []


def test_the_served_version_is_credited_by_its_content(tfx_written, tmp_path):
    """pushed:latest is the highest version in the serving dir, found by the model_sha256 its marker holds."""
    serving_dir = tmp_path / "serving"
    store, first = tfx_written.store, tfx_written.first
    version = serving_dir / "1999999999"  # higher than any pushed; the first run's model, its push not recorded
    [model] = store.get_artifacts_by_id(first.outputs[node_ids.TRAINER]["model"])
    manifest = json_format.MessageToDict(model.custom_properties["file_sha256"].struct_value)
    serving_dir_module.write_marker(str(version), model.uri, manifest, None)
    found = lineage.find_artifact(store, lineage.PUSHED_LATEST, str(serving_dir))
    assert (found.type, found.id) == ("Model", model.id)
    assert "push not recorded" in found.properties["served_as"]
    serving_dir_module.write_marker(str(version), model.uri, {"saved_model.pb": "another model"}, None)
    with pytest.raises(lineage.LineageError, match="served, but no model in the metadata store has its content"):
        lineage.find_artifact(store, lineage.PUSHED_LATEST, str(serving_dir))


def test_trace_of_a_model_lists_what_used_it(tfx_written):
    model_id = tfx_written.first.outputs[node_ids.TRAINER]["model"][0]
    trace = lineage.trace(tfx_written.store, str(model_id))
    uses = [(e.node_id, e.status, e.run_ids) for e in trace.downstream]
    assert (node_ids.PUSHER, ComponentStatus.RAN, [tfx_written.second.run_id]) in uses
    assert (node_ids.TRAINER, ComponentStatus.CACHED, [tfx_written.second.run_id]) not in uses  # reused, not used
    assert {a.type for e in trace.downstream for a in lineage.artifacts_of([e], "outputs")} >= {
        "ModelEvaluation",
        "ModelBlessing",
        "PushedModel",
    }
    assert lineage.producer_run(tfx_written.store, model_id) == tfx_written.first.run_id


def test_the_tables_show_the_runs_and_what_each_component_did(tfx_written):
    table = lineage_report.format_runs(lineage.list_runs(tfx_written.store))
    header, third, second, first = table.splitlines()[:4]
    assert header.split() == ["#", "RUN", "STARTED", "DURATION", "STATUS", "COMPONENTS"]
    assert second.split()[:2] == ["2", tfx_written.second.run_id] and second.endswith("4 ran, 9 cached")
    assert first.endswith("13 ran")
    assert re.search(r"^Trainer\s+ran\s+cached\s+ran$", table, re.MULTILINE)
    artifacts = lineage_report.format_artifacts(
        lineage.list_artifacts(tfx_written.store, "Model", tfx_written.first.run_id)
    )
    assert re.search(
        r"^\s+served\s+0 \(nothing was served yet: no baseline, the threshold alone blesses\)$", artifacts, re.M
    )
    trace = lineage_report.format_trace(lineage.trace(tfx_written.store, lineage.PUSHED_LATEST))
    assert re.search(r"parameter\s+learning_rate\s+0\.01$", trace, re.MULTILINE)


def test_the_graph_has_a_node_per_execution_and_artifact_and_an_edge_per_event(tfx_written):
    run = lineage.run_info(tfx_written.store, lineage.find_run(tfx_written.store), with_artifacts=True)
    nodes, edges = lineage_report.graph_elements(run)
    assert sum(node["kind"] == "execution" for node in nodes) == 13
    events = sum(len(a) for e in run.components for side in (e.inputs, e.outputs) for a in side.values())
    assert len(edges) == events and lineage_report.to_dot(run).count(" -> ") == events
    assert "Trainer\nran" in {node["label"] for node in nodes}
