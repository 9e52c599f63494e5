"""The run page (`mnist-pipeline report`, and the end of every run): each section holds the
numbers of the run it reports, the page needs nothing outside itself, and a failed run's report
says what failed and what finished before.

The complete run is conftest's reported_run (every 10th test image drawn as the next digit, so
the model has mistakes to show); this module adds a cached rerun of it and a run that DataGate
stops (a test split of digits 0-4 only).
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

import pytest

from pipeline.inspect import runs, store
from pipeline.inspect.run_page import data, page
from pipeline.output_dir import OutputLayout

from conftest import MISDRAWN_EVERY, SMALL_RUN, ReportedRun, run_cli
from support.fake_mnist import balanced_labels, write_fake_mnist
from support.report_page import Page

pytestmark = pytest.mark.e2e


class Reported(NamedTuple):
    run: ReportedRun
    page: Page
    gathered: data.RunPage  # what the page was made from, gathered again
    summary: dict[str, Any]  # the run summary the run wrote


@pytest.fixture(scope="module")
def complete(reported_run: ReportedRun) -> Reported:
    layout = OutputLayout(reported_run.output_dir)
    metadata = store.open_store(layout.metadata_path)
    record = runs.load(metadata, store.find_run(metadata, reported_run.run_id))
    gathered = data.gather(record, layout.run_file(reported_run.run_id, ".log"))
    summary = json.loads(layout.run_file(reported_run.run_id, ".json").read_text())
    return Reported(reported_run, Page.read(layout.run_file(reported_run.run_id, ".html")), gathered, summary)


@pytest.fixture(scope="module")
def failed_page(tmp_path_factory: pytest.TempPathFactory) -> Page:
    """The report of a run whose test split holds digits 0-4 only: DataGate stops it."""
    data = tmp_path_factory.mktemp("skewed_mnist")
    write_fake_mnist(data, test_labels=balanced_labels(200, 2, num_classes=5))
    output_dir = tmp_path_factory.mktemp("failed_run") / "outputs"
    assert run_cli("run", "--data-dir", data, "--output-dir", output_dir, *SMALL_RUN) == 1
    [page] = (output_dir / "runs").glob("*.html")
    return Page.read(page)


# --- a complete run -------------------------------------------------------------------------


def test_every_run_writes_its_report_and_logs_where(complete):
    layout = OutputLayout(complete.run.output_dir)
    path = layout.run_file(complete.run.run_id, ".html")
    assert f"Report: {path}" in layout.run_file(complete.run.run_id, ".log").read_text()
    assert list(complete.page.section_text) == ["made", "data", "training", "evaluation", "lineage"]  # no failure
    made = complete.page.section_text["made"]  # how the run was made, every setting that decides the result
    assert "Beam runner DirectRunner" in made and "code git " in made
    assert "evaluation.min_precision_at_1 0.5" in made and "ingest.validation_size" in made  # the small run's


def test_data_shows_the_examples_and_label_mix_of_each_split(complete):
    rows = complete.page.table("Examples per split")
    assert {row["split"]: int(row["examples"].replace(",", "")) for row in rows} == complete.summary["examples"]
    for row in rows:
        per_digit = [int(row[str(digit)]) for digit in range(10)]
        assert per_digit == [complete.summary["examples"][row["split"]] // 10] * 10  # balanced labels
        assert per_digit == list(complete.gathered.label_counts[row["split"]].values())
    assert any(image["alt"] == "label mix per split" for image in complete.page.images)


def test_data_shows_eight_sample_digits_of_each_class_statistics_and_no_anomaly(complete):
    alts = [image["alt"] for image in complete.page.images]
    assert all(alts.count(f"a {digit}") == data.SAMPLES_PER_DIGIT for digit in range(10))
    statistics = complete.page.table("Statistics")
    assert {(row["split"], row["feature"]) for row in statistics} == {
        (split, feature) for split in complete.summary["examples"] for feature in ("image", "label")
    }
    for row in statistics:
        assert int(row["examples"].replace(",", "")) == complete.summary["examples"][row["split"]]
    assert complete.gathered.anomalies == []
    assert "Anomalies None: every split matches the schema" in complete.page.text("data")


def test_training_shows_the_curves_settings_and_time_of_the_run(complete):
    curves = complete.gathered.curves
    assert set(curves.scalars) == set(curves.validation) == {"loss", "accuracy"}
    assert [step for step, _ in curves.scalars["loss"]] == [20, 40, 60]  # SMALL_RUN logs every 20 of 60 steps
    assert [step for step, _ in curves.validation["accuracy"]] == [20, 40, 60]  # and validates every 20
    final_accuracy = curves.validation["accuracy"][-1][1]  # of the trained model: the Trainer's figure
    assert final_accuracy == pytest.approx(complete.summary["trainer_precision_at_1"]["validation"]["precision_at_1"])
    assert any(image["alt"] == page.TRAINING_CHART_ALT for image in complete.page.images)
    settings = {row["setting"]: row["value"] for row in complete.page.table("Settings")}
    assert settings["train_steps"] == "60" and settings["batch_size"] == "20"
    trainer_seconds = next(c["seconds"] for c in complete.summary["components"] if c["component"] == "Trainer")
    assert f"The Trainer took {trainer_seconds:.1f} s" in complete.page.text("training")
    fit_seconds = complete.summary["training"]["seconds"]  # the console's "Trained 60 steps in ..."
    training_text = complete.page.text("training")
    assert f'the fit (the console\'s "Trained 60 steps in ...") took {fit_seconds:.2f} s' in training_text
    figures = {row["split"]: row for row in complete.page.table("Precision@1 as the Trainer")}
    for split, expected in complete.summary["trainer_precision_at_1"].items():
        assert figures[split]["correct"] == f"{expected['num_correct']:,}"


def test_evaluation_shows_precision_per_split_and_per_digit(complete):
    per_split = {row["split"]: row for row in complete.page.table("Precision@1 per split")}
    per_digit = complete.page.table("Precision@1 per true digit")
    for split, expected in complete.summary["evaluation"].items():
        assert per_split[split]["Precision@1"] == f"{expected['precision_at_1']:.4f}"
        expected_per_digit = [f"{value:.4f}" for value in expected["precision_at_1_per_digit"].values()]
        assert [row[split] for row in per_digit] == expected_per_digit


def test_the_confusion_matrix_is_the_test_evaluators(complete):
    matrix = complete.gathered.confusion_matrix
    test = complete.summary["evaluation"]["test"]
    diagonal = sum(matrix[digit][digit] for digit in range(10))
    assert sum(map(sum, matrix)) == complete.summary["examples"]["test"] == test["examples"]
    assert diagonal == round(test["precision_at_1"] * test["examples"])
    assert diagonal < test["examples"]  # the misdrawn digits
    assert f"{diagonal} of {test['examples']} test digits on the diagonal" in complete.page.text("evaluation")
    assert any(image["alt"] == "test confusion matrix" for image in complete.page.images)


def test_the_misclassified_digits_are_the_ones_the_trainer_got_wrong(complete):
    test = complete.summary["trainer_precision_at_1"]["test"]
    wrong = test["num_examples"] - test["num_correct"]
    shown = complete.gathered.misclassified
    assert len(shown) == min(wrong, 50)
    misdrawn = [m for m in shown if m.index % MISDRAWN_EVERY == 0]
    assert [m.index for m in misdrawn] == list(range(0, test["num_examples"], MISDRAWN_EVERY))
    assert all(m.predicted == (m.label + 1) % 10 for m in misdrawn)  # drawn as the next digit
    assert [image["alt"] for image in complete.page.images if image["alt"].startswith("test digit")] == [
        f"test digit {m.index}" for m in shown
    ]
    assert f"{shown[0].label} → {shown[0].predicted} #{shown[0].index}" in complete.page.text("evaluation")
    assert f"the first {len(shown)} of {wrong}" in complete.page.text("evaluation")


def test_evaluation_shows_the_blessing_its_reason_rule_and_baseline(complete):
    blessing = complete.summary["blessing"]
    text = complete.page.text("evaluation")
    assert f"Blessing: {'yes' if blessing['blessed'] else 'no'}" in text
    assert blessing["reason"] in text
    assert "Rule: validation Precision@1 at least 0.5, and at most 0.01 below" in text
    assert "Baseline: none (nothing was served yet)" in text  # the first run of its output dir


def test_lineage_shows_the_input_files_components_and_push(complete):
    metadata = store.open_store(OutputLayout(complete.run.output_dir).metadata_path)
    examples = runs.load(metadata, store.find_run(metadata, complete.run.run_id)).output("IdxExampleGen", "examples")
    files = {row["role"]: row for row in complete.page.table("Input files")}
    assert len(files) == 4
    for role, row in files.items():
        assert row["file"] == examples.properties[f"input_file_{role}"]
        assert row["SHA-256"] == examples.properties[f"input_sha256_{role}"]
    components = complete.page.table("Components")
    assert [(row["component"], row["status"]) for row in components] == [
        (component["component"], component["status"]) for component in complete.summary["components"]
    ]
    assert f"Version {complete.summary['pushed']['version']}, to" in complete.page.text("lineage")


def test_the_page_needs_nothing_outside_itself(complete):
    path = OutputLayout(complete.run.output_dir).run_file(complete.run.run_id, ".html")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", path.read_text(), re.IGNORECASE)
    assert all(image["src"].startswith("data:image/png;base64,") for image in complete.page.images)
    assert all(link.startswith(("data:image/png;base64,", "#")) for link in complete.page.links)


# --- the command, a cached rerun, a report that fails ---------------------------------------


def test_report_command_writes_the_run_it_is_given(reported_run, tmp_path, capsys):
    output = tmp_path / "first.html"
    assert run_cli("report", "1", "--output-dir", reported_run.output_dir, "--output", output) == 0
    assert capsys.readouterr().out.strip() == f"Report: {output}"
    assert f"<title>Run {reported_run.run_id}: complete</title>" in output.read_text()
    assert run_cli("report", "no-such-run", "--output-dir", reported_run.output_dir) == 1
    assert "run 'no-such-run' not found" in capsys.readouterr().err


def test_a_cached_rerun_names_the_run_that_made_what_it_reused(reported_run, reported_rerun):
    page = Page.read(OutputLayout(reported_run.output_dir).run_file(reported_rerun, ".html"))
    statuses = {row["component"]: row["status"] for row in page.table("Components")}
    for component in ("IdxExampleGen", "StatisticsGen", "Trainer"):
        assert statuses[component] == f"cached (made in run {reported_run.run_id})"
    assert f"The Trainer was cached: its model was trained in run {reported_run.run_id};" in page.text("training")


# --- a failed run ---------------------------------------------------------------------------


def test_a_failed_run_reports_what_failed_why_and_what_finished(failed_page):
    failure = failed_page.text("failure")
    assert failure.startswith("DataGate failed.")
    assert "DataValidationError: data validation failed, training not started: split 'test', feature 'label'" in failure
    finished = re.search(r"Finished before it: (.*?)\. ", failure)[1].split(", ")
    assert sorted(finished) == sorted(
        [
            "DataProbe",
            "IdxExampleGen",
            "ImportSchemaGen",
            "ServingProbe",
            "ServedModel",
            "StatisticsGen",
            "ExampleValidator",
            "SplitValidator",
        ]
    )
    test_row = next(row for row in failed_page.table("Examples per split") if row["split"] == "test")
    assert [int(test_row[str(digit)]) for digit in range(10)] == [40] * 5 + [0] * 5
    assert "split 'test', feature 'label' (label mix)" in failed_page.text("data")
    assert "The Trainer did not finish in this run." in failed_page.text("training")
    assert "No Evaluator finished in this run." in failed_page.text("evaluation")
    assert "DataGate failed" in failed_page.text("lineage")
