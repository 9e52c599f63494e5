"""run_page.page.render on a RunPage built by hand: what a run records reaches the page as text
(escaped, never markup), and the sections of components that did not run say so."""

from __future__ import annotations

import dataclasses

from pipeline import node_ids
from pipeline.inspect.run_made import RunMade
from pipeline.inspect.run_page import page as run_page

from support.report_data_builder import stopped_at_the_data_gate
from support.report_page import Page

HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


def test_recorded_text_is_escaped_never_markup():
    html = run_page.render(stopped_at_the_data_gate(reason=HOSTILE, file_name=HOSTILE, anomaly=HOSTILE))
    assert "<script" not in html
    assert "<b>bold</b>" not in html
    page = Page(html)
    assert HOSTILE in page.text("failure")
    assert HOSTILE in page.text("data")
    [input_file] = page.table("Input files")
    assert input_file["file"] == " ".join(HOSTILE.split())


def test_a_run_stopped_at_the_data_gate_shows_its_data_and_says_what_did_not_run():
    page = Page(run_page.render(stopped_at_the_data_gate("DataValidationError: label mix", "train-images", "drift")))
    assert page.text("failure").startswith("DataGate failed. DataValidationError: label mix")
    assert "Finished before it: IdxExampleGen, StatisticsGen, ExampleValidator, SplitValidator." in page.text("failure")
    splits = {row["split"]: row for row in page.table("Examples per split")}
    assert splits["train"] == {"split": "train", "examples": "55,000", "0": "5,500", "1": "49,500"}
    assert splits["test"]["0"] == "0"  # a digit a split lacks is a zero, not a gap
    assert "The Trainer did not finish in this run." in page.text("training")
    assert "No Evaluator finished in this run." in page.text("evaluation")
    assert "The Pusher did not run." in page.text("lineage")
    statuses = {row["component"]: row["status"] for row in page.table("Components")}
    assert statuses[node_ids.DATA_GATE] == "failed"
    assert len(page.images) == 3  # the label-mix chart and one sample of each digit


def test_how_the_run_was_made_names_the_beam_runner():
    made = RunMade("FlinkRunner", ["--runner=FlinkRunner"], None, [], "/data/mnist", {}, "git 5fa279a")
    report = stopped_at_the_data_gate("DataValidationError: label mix", "train-images", "drift")
    page = Page(run_page.render(dataclasses.replace(report, summary=dataclasses.replace(report.summary, made=made))))
    assert "Beam runner FlinkRunner" in page.section_text["made"]
