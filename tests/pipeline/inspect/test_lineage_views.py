"""pipeline/inspect/lineage_views.py: `mnist-pipeline lineage runs|artifacts|trace|diff|graph` as
tables, JSON and Graphviz DOT, through the CLI, on the three runs tests/support/mlmd_builder.py wrote into
a real store (its root is the output dir: metadata.sqlite, the artifacts' files, serving/): a
first run; an identical second, which finds the first one's model served, checks the candidate
against it and records the same version again (all else cached); a third with another learning
rate. What a real pipeline run records is checked against this layout by the smoke tests in
tests/e2e/test_pipeline_e2e.py and the run page's (tests/pipeline/inspect/run_page/test_page_of_a_run.py).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pipeline import node_ids
from pipeline.inspect import lineage_views, run_summary, runs, store
from pipeline.inspect.run_made import RunMade

from conftest import lineage_fails, run_cli
from support import mlmd_builder
from support.fake_mnist import FILE_NAMES
from support.system_packages import why_missing

RUN_ID = re.compile(r"\d{8}-\d{6}-\d{6}")  # local time to the microsecond
MADE = RunMade("DirectRunner", [], None, ["training.learning_rate=0.01"], "/data/mnist", {}, "git 5fa279a-dirty")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> mlmd_builder.Written:
    """The three runs, the third recording how it was made, as the local runner does."""
    root = tmp_path_factory.mktemp("outputs")
    writer = mlmd_builder.TfxLayout(root / "metadata.sqlite")
    first = mlmd_builder.mnist_run(writer, root, "20261130-000100-000001")
    second = mlmd_builder.mnist_run(writer, root, "20261130-000200-000002", previous=first, ran=mlmd_builder.RECHECKED)
    third = mlmd_builder.mnist_run(
        writer, root, "20261130-000300-000003", 0.01, previous=second, ran=mlmd_builder.RETRAINED, made=MADE
    )
    return mlmd_builder.Written(store.open_store(root / "metadata.sqlite"), writer, root, first, second, third)


def lineage_json(capsys: pytest.CaptureFixture, output_dir: Path, *query: str | Path) -> Any:
    """Runs `mnist-pipeline lineage --json QUERY` and parses what it prints."""
    capsys.readouterr()
    assert run_cli("lineage", *query, "--output-dir", output_dir, "--json") == 0
    return json.loads(capsys.readouterr().out)


def lineage_text(capsys: pytest.CaptureFixture, output_dir: Path, *query: str | Path) -> str:
    capsys.readouterr()
    assert run_cli("lineage", *query, "--output-dir", output_dir) == 0
    return capsys.readouterr().out


def summary_of(written: mlmd_builder.Written, run: mlmd_builder.MnistRun) -> dict[str, Any]:
    """The run's summary as the run keeps it (runs/<run id>.json)."""
    record = runs.load(written.store, store.find_run(written.store, run.run_id))
    return json.loads(json.dumps(run_summary.summarize(record).to_json()))


# --- runs -----------------------------------------------------------------------------------


def test_runs_newest_first_and_the_second_run_rechecks_only_the_served_model(written, capsys):
    listed = lineage_json(capsys, written.root, "runs")
    assert [run["id"] for run in listed] == [written.third.run_id, written.second.run_id, written.first.run_id]
    assert all(RUN_ID.fullmatch(run["id"]) for run in listed)
    assert all(run["status"] == "complete" for run in listed)
    # The keys scripts read since before the read model (which names a run's steps `executions`).
    assert list(listed[0])[:5] == ["id", "started_ms", "seconds", "status", "components"]
    third, second, first = ({e["node_id"]: e["status"] for e in run["components"]} for run in listed)
    assert len(first) == 13 and set(first.values()) == {"ran"}
    assert {node for node, status in second.items() if status == "ran"} == mlmd_builder.RECHECKED
    assert {status for node, status in second.items() if node not in mlmd_builder.RECHECKED} == {"cached"}
    assert third["IdxExampleGen"] == "cached" and third["Trainer"] == "ran" and third["Pusher"] == "ran"
    assert listed[0]["made"]["overrides"] == ["training.learning_rate=0.01"] and listed[1]["made"] is None


def test_runs_json_prints_each_component_as_before_the_read_model_without_its_artifacts(written, capsys):
    listed = lineage_json(capsys, written.root, "runs")
    components = [component for run in listed for component in run["components"]]
    assert {"id", "node_id", "type", "status", "started_ms", "seconds", "properties", "run_ids"} <= set(components[0])
    # `lineage artifacts --run RUN` lists the artifacts; `runs` printed its components' as empty.
    assert {(json.dumps(c["inputs"]), json.dumps(c["outputs"])) for c in components} == {("{}", "{}")}


def test_runs_table(written, capsys):
    table = lineage_text(capsys, written.root, "runs")
    header, third, second, first = table.splitlines()[:4]
    assert header.split() == ["#", "RUN", "STARTED", "DURATION", "STATUS", "COMPONENTS"]
    assert second.split()[:2] == ["2", written.second.run_id] and second.endswith("4 ran, 9 cached")
    assert first.endswith("13 ran")
    assert re.search(r"^Trainer\s+ran\s+cached\s+ran$", table, re.MULTILINE)


# --- artifacts ------------------------------------------------------------------------------


def test_artifacts_of_a_run_by_type(written, capsys):
    [examples] = lineage_json(capsys, written.root, "artifacts", "--type", "examples", "--run", written.first.run_id)
    assert examples["type"] == "Examples" and examples["state"] == "LIVE"
    properties = examples["properties"]
    assert {split: properties[f"num_examples_{split}"] for split in mlmd_builder.SPLITS} == mlmd_builder.SPLITS
    for role, name in FILE_NAMES.items():
        assert properties[f"input_sha256_{role}"] == mlmd_builder.INPUT_SHA256[f"{name}.gz"]


def test_artifacts_carry_metrics_and_blessing(written, capsys):
    listed = lineage_json(capsys, written.root, "artifacts", "--type", "Model")
    assert [model["id"] for model in listed] == sorted((model["id"] for model in listed), reverse=True)  # newest first
    # ServedModel's baselines are Models too; they say whether anything was served.
    baselines = [model for model in listed if "served" in model["properties"]]
    models = [model for model in listed if "served" not in model["properties"]]
    assert len(models) == 2  # the second run trained none
    assert [baseline["properties"]["served"] for baseline in baselines] == [1, 0]  # the third run's was cached
    summary = summary_of(written, written.third)
    assert models[0]["metrics"] == summary["trainer_precision_at_1"]
    evaluations = lineage_json(
        capsys, written.root, "artifacts", "--type", "ModelEvaluation", "--run", written.third.run_id
    )
    accuracies = sorted(evaluation["metrics"]["precision_at_1"] for evaluation in evaluations)
    assert accuracies == sorted(split["precision_at_1"] for split in summary["evaluation"].values())
    blessings = lineage_json(
        capsys, written.root, "artifacts", "--type", "ModelBlessing", "--run", written.third.run_id
    )
    assert any(blessing["properties"].get("blessed") == 1 for blessing in blessings)


def test_the_artifacts_table_says_what_an_empty_baseline_means(written, capsys):
    table = lineage_text(capsys, written.root, "artifacts", "--type", "Model", "--run", written.first.run_id)
    assert re.search(
        r"^\s+served\s+0 \(nothing was served yet: no baseline, the threshold alone blesses\)$", table, re.M
    )
    assert "confusion_matrix" not in table  # the Evaluators' figures show as metrics.*, not twice


# --- trace ----------------------------------------------------------------------------------


def test_trace_pushed_latest_reaches_the_idx_files(written, capsys):
    trace = lineage_json(capsys, written.root, "trace", "pushed:latest")
    pushed = trace["artifact"]
    assert pushed["type"] == "PushedModel"
    assert pushed["properties"]["pushed_destination"] == summary_of(written, written.third)["pushed"]["destination"]
    files = {f["role"]: (f["name"], f["sha256"]) for f in trace["input_files"]}
    assert files == {role: (f"{name}.gz", mlmd_builder.INPUT_SHA256[f"{name}.gz"]) for role, name in FILE_NAMES.items()}
    steps = {step["execution"]["node_id"]: step for step in trace["upstream"]}
    # Validation stands on the model's lineage: the Trainer read the schema that DataGate passed on.
    assert set(steps) == set(mlmd_builder.COMPONENTS) - {node_ids.TEST_EVALUATOR}
    trainer = trace["upstream"][[s["execution"]["node_id"] for s in trace["upstream"]].index("Trainer")]
    assert trainer["execution"]["run_ids"] == [written.third.run_id]  # the newest Trainer comes first
    assert trainer["parameters"]["learning_rate"] == 0.01  # a parameter of its own: a run may set it
    assert trainer["versions"]["code_sha256"] == trainer["parameters"]["code_sha256"]
    assert trainer["versions"]["component"] == "components.trainer.component.Trainer"
    assert trainer["versions"]["tfx"].startswith("1.16")
    assert trace["downstream"] == []  # nothing uses a pushed model
    assert list(trace["runs_made"]) == [written.third.run_id]  # the runs that recorded how they were made


def test_trace_of_a_model_by_uri_lists_its_evaluations_blessing_and_push(written, capsys):
    by_id = lineage_json(capsys, written.root, "trace", "pushed:latest")
    [model] = [
        a
        for step in by_id["upstream"]
        if step["execution"]["node_id"] == "Pusher"
        for a in step["execution"]["inputs"]["model"]
    ]
    trace = lineage_json(capsys, written.root, "trace", model["uri"] + "/")
    assert trace["artifact"]["id"] == model["id"]
    uses = {execution["node_id"] for execution in trace["downstream"]}
    assert {"Evaluator-validation", "Evaluator-test", "Pusher"} <= uses
    made = {a["type"] for execution in trace["downstream"] for keyed in execution["outputs"].values() for a in keyed}
    assert {"ModelEvaluation", "ModelBlessing", "PushedModel"} <= made


def test_trace_table_shows_the_chain(written, capsys):
    table = lineage_text(capsys, written.root, "trace", "pushed:latest")
    assert table.startswith("PushedModel ")
    assert re.search(r"^Trainer \(execution \d+, ran, run ", table, re.MULTILINE)
    assert re.search(r"parameter\s+learning_rate\s+0\.01$", table, re.MULTILINE)  # a parameter of its own
    for name, sha256 in mlmd_builder.INPUT_SHA256.items():
        assert re.search(rf"{re.escape(name)}\s+{sha256}", table)
    # the served model back to the code's revision, and how its Trainer's run was made
    assert re.search(rf"^  {written.third.run_id}: Made by: Beam DirectRunner; config ", table, re.M)
    assert re.search(r"--set training\.learning_rate=0\.01.*; Data: /data/mnist; code: git 5fa279a-dirty", table)


# --- diff -----------------------------------------------------------------------------------


def rows_of(section: list[dict[str, Any]], changed: bool | None = None) -> dict[str, tuple[Any, Any]]:
    return {row["key"]: (row["a"], row["b"]) for row in section if changed is None or row["changed"] == changed}


def test_diff_shows_the_changed_learning_rate_and_the_new_metrics(written, capsys):
    first, third = written.first.run_id, written.third.run_id
    diff = lineage_json(capsys, written.root, "diff", first, third)
    assert (diff["run_a"], diff["run_b"]) == (first, third)
    sections = diff["sections"]
    changed = rows_of(sections["settings"], changed=True)
    assert changed.pop("Trainer.learning_rate") == (0.004, 0.01)
    # The only other difference: the first run had nothing served to compare with.
    assert (
        list(changed) == ["ServedModel.served_fingerprint"] and changed["ServedModel.served_fingerprint"][0] == "none"
    )
    assert rows_of(sections["inputs"], changed=True) == {}
    assert len(rows_of(sections["inputs"])) == 11  # 4 names, 4 checksums, 3 split sizes
    metrics = rows_of(sections["metrics"])
    for run, side in ((written.first, 0), (written.third, 1)):
        summary = summary_of(written, run)
        for split, values in summary["trainer_precision_at_1"].items():
            assert metrics[f"trainer.precision_at_1.{split}"][side] == values["precision_at_1"]
        for split, values in summary["evaluation"].items():
            assert metrics[f"evaluator.precision_at_1.{split}"][side] == values["precision_at_1"]
    blessing = rows_of(sections["blessing"])
    assert blessing["blessing.blessed"] == (True, True)
    assert blessing["blessing.baseline.served_version"] == (None, int(written.first.pushed_version))
    assert "pushed.version" in rows_of(sections["blessing"], changed=True)


def test_diff_of_a_rerun_shows_only_the_model_it_was_compared_with(written, capsys):
    diff = lineage_json(capsys, written.root, "diff", written.first.run_id, written.second.run_id)
    sections = diff["sections"]
    first_push = summary_of(written, written.first)["pushed"]
    model_uri = summary_of(written, written.second)["blessing"]["baseline"]["model_uri"]
    assert rows_of(sections["settings"], changed=True) == {
        "ServedModel.served_fingerprint": ("none", f"{first_push['version']}:{model_uri}")
    }
    assert rows_of(sections["inputs"], changed=True) == rows_of(sections["metrics"], changed=True) == {}
    blessing_changes = rows_of(sections["blessing"], changed=True)
    assert blessing_changes.pop("pushed.new_version") == (True, False)  # the same version, recorded again
    assert blessing_changes and all(key.startswith("blessing.baseline") for key in blessing_changes)
    assert "Settings: 1 of" in lineage_text(capsys, written.root, "diff", "1", "2")


# --- graph ----------------------------------------------------------------------------------


def test_graph_writes_dot_that_graphviz_parses(written, capsys, tmp_path):
    dot_file = tmp_path / "lineage.dot"
    third = written.third.run_id
    assert str(dot_file) in lineage_text(capsys, written.root, "graph", "--run", third, "--output", dot_file)
    dot = dot_file.read_text()
    assert dot.startswith(f'digraph "lineage of run {third}"')
    graph = lineage_json(capsys, written.root, "graph", "--run", third)
    assert dot.count(" -> ") == len(graph["edges"]) > 0
    labels = {node["label"] for node in graph["nodes"]}
    assert "Trainer\nran" in labels and "IdxExampleGen\ncached" in labels
    assert any(label.startswith("Examples ") for label in labels)


@pytest.fixture(scope="session")
def graphviz_installed(pytestconfig: pytest.Config) -> None:
    reason = why_missing(["graphviz"], ["dot"], pytestconfig)
    if reason:
        pytest.skip(reason)


def test_graph_renders_svg_with_graphviz(written, graphviz_installed, tmp_path):
    dot_file = tmp_path / "lineage.dot"
    assert run_cli("lineage", "graph", "--output-dir", written.root, "--output", dot_file) == 0
    assert subprocess.run(["dot", "-Tcanon", str(dot_file)], capture_output=True, check=False).returncode == 0
    svg = tmp_path / "lineage.svg"
    assert run_cli("lineage", "graph", "--output-dir", written.root, "--output", svg) == 0
    assert "<svg" in svg.read_text()


def test_graph_rendering_without_graphviz_says_how_to_get_it(written, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(lineage_views.shutil, "which", lambda name: None)
    error = lineage_fails(capsys, written.root, "graph", "--output", tmp_path / "lineage.png")
    assert "apt-get install graphviz" in error
    assert not (tmp_path / "lineage.png").exists()


def test_the_graph_has_a_node_per_execution_and_artifact_and_an_edge_per_event(written):
    run = runs.load(written.store, store.find_run(written.store))
    nodes, edges = lineage_views.graph_elements(run.executions)
    assert sum(node["kind"] == "execution" for node in nodes) == 13
    events = sum(len(a) for e in run.executions for side in (e.inputs, e.outputs) for a in side.values())
    assert len(edges) == events and lineage_views.format_graph(run).count(" -> ") == events
    assert "Trainer\nran" in {node["label"] for node in nodes}


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
def test_unknown_ids_fail_clearly(written, capsys, query, message):
    assert message in lineage_fails(capsys, written.root, *query)
