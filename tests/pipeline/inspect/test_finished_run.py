"""pipeline/inspect/finished_run.py: what the local runner's one call writes for a finished run,
from a store the run wrote (here written by tests/support/mlmd_builder.py)."""

from __future__ import annotations

import json
import logging

from pipeline import node_ids
from pipeline.inspect import finished_run
from pipeline.inspect.run_page import page
from pipeline.output_dir import OutputLayout

from support import mlmd_builder


def test_a_run_gets_its_summary_report_and_tensorboard_link(tmp_path, caplog):
    layout = OutputLayout(tmp_path / "out")
    layout.output_dir.mkdir()
    store = mlmd_builder.TfxLayout(layout.metadata_path)
    first = mlmd_builder.mnist_run(store, tmp_path / "artifacts", "20261130-000100-000001")
    second = mlmd_builder.mnist_run(store, tmp_path / "artifacts", "20261130-000200-000002", previous=first, ran=[])

    with caplog.at_level(logging.INFO, logger=finished_run.__name__):
        summary = finished_run.write_results(layout, first.run_id)

    assert summary is not None and summary.run_id == first.run_id
    assert json.loads(layout.run_file(first.run_id, ".json").read_text())["run_id"] == first.run_id
    assert layout.run_file(first.run_id, ".html").is_file()
    lines = [record.getMessage() for record in caplog.records]
    assert any(line.startswith("Report: ") for line in lines), lines
    trained = store.store.get_artifacts_by_id(first.outputs[node_ids.TRAINER]["model_run"])[0].uri
    assert (layout.tensorboard_dir / first.run_id).resolve() == (tmp_path / "artifacts").resolve() / trained
    # A run whose Trainer was cached trained nothing: no link (its curves are under the first run).
    assert finished_run.write_results(layout, second.run_id) is not None
    assert not (layout.tensorboard_dir / second.run_id).exists()


def test_a_report_that_fails_costs_one_line_not_the_run(tmp_path, caplog, monkeypatch):
    layout = OutputLayout(tmp_path / "out")
    layout.output_dir.mkdir()
    run = mlmd_builder.mnist_run(mlmd_builder.TfxLayout(layout.metadata_path), tmp_path / "a", "20261130-000100-000001")

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(page, "write_report", broken)
    with caplog.at_level(logging.INFO, logger=finished_run.__name__):
        summary = finished_run.write_results(layout, run.run_id)
    assert summary is not None and layout.run_file(run.run_id, ".json").is_file()
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "Report not written: RuntimeError: disk on fire"
    ]


def test_a_run_that_never_reached_the_store_gets_nothing(tmp_path):
    layout = OutputLayout(tmp_path / "out")
    assert finished_run.write_results(layout, "20261130-000100-000001") is None  # no store at all
    layout.output_dir.mkdir()
    mlmd_builder.mnist_run(mlmd_builder.TfxLayout(layout.metadata_path), tmp_path / "a", "20261130-000100-000001")
    assert finished_run.write_results(layout, "20261130-000200-000002") is None
    assert not layout.run_file("20261130-000200-000002", ".json").exists()
