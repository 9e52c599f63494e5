"""pipeline/inspect/run_summary.py: a run's summary from its record, its console lines, and two runs compared.

MLMD is not needed for most: a RunRecord is built by hand; the rest read runs tests/support/mlmd_builder.py wrote."""

from __future__ import annotations

import itertools
import json

import pytest

from components import serving_dir
from components.evaluator.settings import (
    EXAMPLES_PROPERTY,
    PER_DIGIT_PROPERTY,
    PRECISION_PROPERTY,
    VALIDATION_FAILURES_PROPERTY,
)
from components.pusher.properties import NEW_VERSION_KEY
from components.served_model.properties import SERVED_KEY, SERVED_PATH_KEY, SERVED_VERSION_KEY, SOURCE_MODEL_KEY
from pipeline import node_ids
from pipeline.inspect import run_summary, runs, store
from pipeline.inspect.run_made import RunMade
from pipeline.inspect.run_summary import (
    Blessing,
    ComponentOutcome,
    EvaluatorFigures,
    Push,
    RunSummary,
    TrainerFigures,
    TrainerFit,
)
from pipeline.inspect.runs import RunRecord
from pipeline.inspect.states import ComponentStatus, RunStatus
from pipeline.inspect.store import ArtifactInfo, ExecutionInfo

from support import mlmd_builder

RUN_ID = "20261123-173202-370954"
MADE_IN = "20261122-101010-000001"  # the run whose executions the cached ones reused
TRAINER_METRICS = {
    "train": {"num_examples": 500, "num_correct": 450, "precision_at_1": 0.9},
    "validation": {"num_examples": 100, "num_correct": 88, "precision_at_1": 0.88},
}
FIT = {"steps": 60, "examples": 1200, "seconds": 1.07, "first_interval_seconds": 0.9}
ids = itertools.count(1)


def artifact(kind: str, uri: str = "/a", **properties) -> ArtifactInfo:
    return ArtifactInfo(id=next(ids), type=kind, uri=uri, state="LIVE", created_ms=0, properties=properties)


def execution(
    node_id: str, status: ComponentStatus = ComponentStatus.RAN, inputs=None, outputs=None, **properties
) -> ExecutionInfo:
    return ExecutionInfo(
        id=next(ids),
        node_id=node_id,
        type=f"x.{node_id}",
        status=status,
        started_ms=0,
        seconds=1.26,
        properties=properties,
        inputs=inputs or {},
        outputs=outputs or {},
        run_ids=[RUN_ID],
    )


def served_baseline(version: int | None) -> dict:
    if version is None:
        return {"baseline_model": [artifact("Model", "/baseline", **{SERVED_KEY: 0})]}
    return {
        "baseline_model": [
            artifact(
                "Model",
                "/baseline",
                **{
                    SERVED_KEY: 1,
                    SERVED_VERSION_KEY: version,
                    SERVED_PATH_KEY: f"/serving/{version}",
                    SOURCE_MODEL_KEY: "/root/Trainer/model/3",
                },
            )
        ]
    }


@pytest.fixture
def summarize(monkeypatch, tmp_path):
    """Summarizes a run made of the given executions, with the Evaluators' files replaced."""
    model_run = tmp_path / "model_run"
    model_run.mkdir()
    (model_run / "precision_at_1.json").write_text(json.dumps(TRAINER_METRICS))
    (model_run / "fit.json").write_text(json.dumps(FIT))
    monkeypatch.setattr(serving_dir, "is_complete", lambda path: True)

    def summarize_executions(
        *executions: ExecutionInfo, status: RunStatus = RunStatus.COMPLETE, made: RunMade | None = None
    ) -> RunSummary:
        record = RunRecord(
            id=RUN_ID,
            started_ms=0,
            seconds=12.34,
            status=status,
            executions=list(executions),
            made=made,
            made_in={e.id: MADE_IN for e in executions if e.status is ComponentStatus.CACHED},
            first_served=None,
        )
        return run_summary.summarize(record)

    summarize_executions.model_run_uri = str(model_run)
    summarize_executions.precision_at_1 = {"validation": 0.87, "test": 0.86}  # 0.01 apart
    return summarize_executions


def evaluation(precision_at_1: float, blessed: int = 1) -> ArtifactInfo:
    """A ModelEvaluation with the figures the Evaluator records (components/evaluator/figures.py)."""
    return artifact(
        "ModelEvaluation",
        "/eval",
        **{
            PRECISION_PROPERTY: precision_at_1,
            EXAMPLES_PROPERTY: 100,
            PER_DIGIT_PROPERTY: {"0": 1.0},
            VALIDATION_FAILURES_PROPERTY: [] if blessed else ["precision_at_1 0.4000 below 0.95"],
        },
    )


def full_run(
    summarize,
    blessed: int = 1,
    served_version: int | None = None,
    evaluator_status: ComponentStatus = ComponentStatus.RAN,
    pusher: ExecutionInfo | None = None,
    no_push: bool = False,
) -> RunSummary:
    """A complete run; `pusher` replaces the default (a push of a new version); no_push leaves it out."""
    return summarize(
        execution(
            node_ids.INGEST,
            outputs={
                "examples": [
                    artifact(
                        "Examples",
                        split_names='["train", "validation", "test"]',
                        num_examples_train=500,
                        num_examples_validation=100,
                        num_examples_test=200,
                    )
                ]
            },
        ),
        execution(node_ids.TRAINER, outputs={"model_run": [artifact("ModelRun", summarize.model_run_uri)]}),
        execution(
            node_ids.BLESSING_EVALUATOR,
            evaluator_status,
            inputs=served_baseline(served_version),
            outputs={
                "evaluation": [evaluation(summarize.precision_at_1["validation"], blessed)],
                "blessing": [artifact("ModelBlessing", blessed=blessed)],
            },
        ),
        execution(
            node_ids.TEST_EVALUATOR,
            outputs={"evaluation": [evaluation(summarize.precision_at_1["test"])]},
            max_test_gap=0.03,
        ),
        *([] if no_push else [pusher or pushed(blessed)]),
    )


def pushed(blessed: int = 1, status: ComponentStatus = ComponentStatus.RAN, new_version: int = 1) -> ExecutionInfo:
    outputs = {
        "pushed_model": [
            artifact(
                "PushedModel",
                pushed=blessed,
                pushed_destination="/serving/1700000000",
                pushed_version="1700000000",
                **{NEW_VERSION_KEY: new_version},
            )
        ]
    }
    return execution(node_ids.PUSHER, status, outputs=outputs)


def test_the_summary_holds_statuses_sizes_and_metrics(summarize):
    summary = full_run(summarize)
    assert (summary.run_id, summary.status, summary.seconds) == (RUN_ID, RunStatus.COMPLETE, 12.34)
    assert summary.components[0] == ComponentOutcome(node_ids.INGEST, ComponentStatus.RAN, 1.3)
    assert summary.examples == {"train": 500, "validation": 100, "test": 200}
    assert summary.trainer_precision_at_1 == {split: TrainerFigures(**f) for split, f in TRAINER_METRICS.items()}
    assert summary.training == TrainerFit(**FIT)
    assert summary.evaluation == {
        "validation": EvaluatorFigures(0.87, 100, {"0": 1.0}),
        "test": EvaluatorFigures(0.86, 100, {"0": 1.0}),
    }
    assert summary.pushed == Push(
        pushed=True, destination="/serving/1700000000", version="1700000000", served=True, new_version=True
    )
    assert summary.warnings == []  # test and validation 0.01 apart, within 0.03


def test_the_summary_reads_back_from_its_json(summarize):
    summary = full_run(summarize, served_version=7)
    assert RunSummary.from_json(json.loads(json.dumps(summary.to_json()))) == summary
    assert json.loads(json.dumps(summary.to_json()))["components"][0] == {
        "component": node_ids.INGEST,
        "status": "ran",
        "seconds": 1.3,
    }


def test_blessed_with_nothing_served_yet(summarize):
    blessing = full_run(summarize, served_version=None).blessing
    assert blessing == Blessing(True, "passed the Precision@1 threshold; no model was served yet", None)


def test_blessed_against_a_served_version_names_it(summarize):
    blessing = full_run(summarize, served_version=1699999999).blessing
    assert blessing.reason == "passed the Precision@1 threshold and the comparison with served version 1699999999"
    assert blessing.baseline.served_version == 1699999999
    assert blessing.baseline.model_uri == "/root/Trainer/model/3"


def test_not_blessed_gives_the_failed_thresholds(summarize):
    summary = full_run(summarize, blessed=0)
    assert summary.blessing.reason == "precision_at_1 0.4000 below 0.95"
    assert summary.pushed.pushed is False


def test_a_cached_blessing_names_the_run_that_decided_it(summarize):
    reason = full_run(summarize, evaluator_status=ComponentStatus.CACHED).blessing.reason
    assert reason.endswith("; cached: decided in run 20261122-101010-000001")


def test_a_run_that_stopped_early_has_empty_sections(summarize):
    summary = summarize(execution(node_ids.INGEST, ComponentStatus.FAILED), status=RunStatus.FAILED)
    assert summary.examples == {} and summary.trainer_precision_at_1 == {} and summary.evaluation == {}
    assert summary.blessing is None and summary.pushed is None


def test_format_summary_gives_one_line_per_component_then_the_results(summarize):
    text = run_summary.format_summary(full_run(summarize, served_version=7))
    lines = text.splitlines()
    assert lines[0] == f"Run {RUN_ID}: complete, 12.3 s"
    assert lines[1].split() == [node_ids.INGEST, "ran", "1.3", "s"]
    assert "Examples: train 500, validation 100, test 200" in lines
    assert "Precision@1 (Trainer):   train 0.9000  validation 0.8800" in lines
    assert "Precision@1 (Evaluator): validation 0.8700 on 100 examples" in lines
    assert "Blessed: yes (passed the Precision@1 threshold and the comparison with served version 7)" in lines
    assert lines[-1] == "Pushed: version 1700000000, to /serving/1700000000"


def test_a_pushed_version_the_serving_dir_no_longer_holds_is_not_called_pushed(summarize, monkeypatch):
    monkeypatch.setattr(serving_dir, "is_complete", lambda path: False)
    summary = full_run(summarize)
    assert summary.pushed.served is False
    assert (
        run_summary.format_summary(summary).splitlines()[-1]
        == "Pushed: version 1700000000, to /serving/1700000000; removed since: not served"
    )


@pytest.mark.parametrize(
    "pusher", [pushed(new_version=0), pushed(status=ComponentStatus.CACHED)], ids=["version-held-it", "cached"]
)
def test_a_rerun_that_published_nothing_says_so(summarize, pusher):
    summary = full_run(summarize, pusher=pusher)
    assert summary.pushed.new_version is False
    assert run_summary.format_summary(summary).splitlines()[-1] == (
        "Pushed: nothing new: version 1700000000 already serves this model (/serving/1700000000)"
    )


def test_a_run_without_its_push_says_how_to_publish_it(summarize):
    summary = full_run(summarize, no_push=True)
    assert summary.pushed is None and summary.push_held_back
    assert run_summary.format_summary(summary).splitlines()[-1] == (
        f"Pushed: no: run with --no-push; `mnist-pipeline push {RUN_ID}` publishes its model if blessed"
    )


def test_a_test_split_far_from_validation_gives_a_warning(summarize):
    summarize.precision_at_1["test"] = 0.0985
    summary = full_run(summarize)
    assert summary.warnings == [
        "test Precision@1 0.0985 is 0.7715 from validation's 0.8700, more than evaluation.max_test_gap 0.03: "
        "are the test files what they should be?"
    ]
    assert run_summary.format_summary(summary).splitlines()[-1] == f"Warning: {summary.warnings[0]}"


def test_format_summary_of_a_model_not_blessed(summarize):
    assert (
        run_summary.format_summary(full_run(summarize, blessed=0)).splitlines()[-1] == "Pushed: no (model not blessed)"
    )


def test_format_summary_of_a_failed_run_without_results():
    summary = RunSummary(
        RUN_ID,
        RunStatus.FAILED,
        3.0,
        [ComponentOutcome("IdxExampleGen", ComponentStatus.FAILED, 3.0)],
        examples={},
        trainer_precision_at_1={},
        training=None,
        evaluation={},
        blessing=None,
        pushed=None,
        warnings=[],
    )
    assert run_summary.format_summary(summary).splitlines() == [
        f"Run {RUN_ID}: failed, 3.0 s",
        "  IdxExampleGen   failed     3.0 s",
    ]


MADE = RunMade(
    beam_runner="DirectRunner",
    beam_args=["--direct_num_workers=1"],
    config_file="mine.yaml",
    overrides=["training.learning_rate=0.01"],
    data_dir="/data/mnist",
    settings={"training.learning_rate": 0.01, "evaluation.min_precision_at_1": 0.95},
    source_revision="git 5fa279a-dirty",
)


def test_how_the_run_was_made_is_on_the_console_and_in_the_json(summarize):
    summary = summarize(execution(node_ids.INGEST), made=MADE)
    assert summary.made == MADE
    assert run_summary.format_summary(summary).splitlines()[1:3] == [
        "Made by: Beam DirectRunner; config mine.yaml + --set training.learning_rate=0.01",
        "Data: /data/mnist; code: git 5fa279a-dirty",
    ]
    assert RunSummary.from_json(json.loads(json.dumps(summary.to_json()))) == summary
    assert summarize(execution(node_ids.INGEST)).made is None  # a Kubeflow run records none


# --- on runs written into a real ML Metadata store (tests/support/mlmd_builder.py) -------------------


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> mlmd_builder.Written:
    return mlmd_builder.written(tmp_path_factory.mktemp("tfx"), mlmd_builder.TfxLayout)


def record_of(written: mlmd_builder.Written, run: str) -> RunRecord:
    return runs.load(written.store, store.find_run(written.store, run))


def summary_of(written: mlmd_builder.Written, run: mlmd_builder.MnistRun) -> RunSummary:
    return run_summary.summarize(record_of(written, run.run_id))


def test_a_summary_read_from_the_store(written):
    first = summary_of(written, written.first)
    assert (first.run_id, first.status, len(first.components)) == (written.first.run_id, RunStatus.COMPLETE, 13)
    assert first.examples == mlmd_builder.SPLITS
    assert first.trainer_precision_at_1["validation"].precision_at_1 == 0.904  # from the ModelRun's file
    assert first.training == TrainerFit(steps=60, examples=1200, seconds=1.2, first_interval_seconds=0.9)
    assert set(first.evaluation) == {"validation", "test"} and first.evaluation["test"].examples == 20
    assert first.blessing == Blessing(True, "passed the Precision@1 threshold; no model was served yet", None)
    assert first.pushed == Push(
        True, f"{written.root}/serving/{written.first.pushed_version}", written.first.pushed_version, True
    )
    assert first.made is None and first.warnings == []


def test_a_kfp_store_gives_the_same_console_lines(written, kfp_written):
    """KFP stores every number of an artifact as a double: the lines show TFX's ints all the same."""

    def lines(store_written: mlmd_builder.Written) -> list[str]:
        text = run_summary.format_summary(summary_of(store_written, store_written.second))
        return text.replace(str(store_written.root), "ROOT").splitlines()

    kfp = lines(kfp_written)
    assert kfp == lines(written)
    assert "Examples: train 50, validation 10, test 20" in kfp
    assert "Precision@1 (Evaluator): test 0.9040 on 20 examples" in kfp
    served = f"the comparison with served version {kfp_written.first.pushed_version})"
    assert any(line.startswith("Blessed: yes") and line.endswith(served) for line in kfp)


def test_a_rerun_names_the_served_version_and_records_it_again(written):
    second = summary_of(written, written.second)
    served = int(written.first.pushed_version)
    assert second.blessing.reason == f"passed the Precision@1 threshold and the comparison with served version {served}"
    assert second.blessing.baseline.served_version == served
    assert second.pushed.version == written.first.pushed_version and second.pushed.new_version is False
    assert second.status_of(node_ids.TRAINER) == ComponentStatus.CACHED


@pytest.mark.parametrize("layout", ["written", "kfp_written"])
def test_a_push_of_a_model_served_before_under_another_version_names_it(layout, request):
    """Back to the first run's settings: the same model (by model_sha256) is pushed as a new version."""
    written = request.getfixturevalue(layout)
    fourth = mlmd_builder.mnist_run(written.layout, written.root, "20261130-000400-000004", previous=written.third)
    summary = run_summary.summarize(record_of(written, fourth.run_id))
    assert fourth.model_sha256 == written.first.model_sha256
    assert summary.pushed.first_served == f"version {written.first.pushed_version} by run {written.first.run_id}"
    assert run_summary.push_line(summary) == (
        f"version {fourth.pushed_version}, to {written.root}/serving/{fourth.pushed_version}; this model was first "
        f"served as version {written.first.pushed_version} by run {written.first.run_id}"
    )
    assert summary_of(written, written.third).pushed.first_served is None  # a model not served before


def test_diff_of_two_runs_shows_the_changed_setting_and_metrics(written):
    diff = run_summary.diff_runs(record_of(written, written.first.run_id), record_of(written, written.third.run_id))
    changed = {s: {r.key: (r.a, r.b) for r in rows if r.changed} for s, rows in diff.sections.items()}
    assert changed["settings"].pop("Trainer.learning_rate") == (0.004, 0.01)
    assert list(changed["settings"]) == ["ServedModel.served_fingerprint"]
    assert changed["inputs"] == {}
    assert changed["metrics"]["trainer.precision_at_1.validation"] == (0.904, 0.91)
    assert changed["blessing"]["pushed.version"] == (written.first.pushed_version, written.third.pushed_version)
    assert len(diff.sections["inputs"]) == 11  # 4 names, 4 checksums, 3 split sizes


def test_diff_of_a_rerun_shows_only_the_model_it_was_compared_with(written):
    diff = run_summary.diff_runs(record_of(written, "#1"), record_of(written, "#2"))
    changed = {s: {r.key: (r.a, r.b) for r in rows if r.changed} for s, rows in diff.sections.items()}
    assert list(changed["settings"]) == ["ServedModel.served_fingerprint"]
    assert changed["metrics"] == changed["inputs"] == {}
    assert changed["blessing"].pop("pushed.new_version") == (True, False)
    assert all(key.startswith("blessing.baseline") for key in changed["blessing"])
