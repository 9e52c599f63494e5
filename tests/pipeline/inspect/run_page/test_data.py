"""pipeline/inspect/run_page/data.py: what the run page shows, gathered from runs written into a real
ML Metadata store with their artifacts' files (tests/support/mlmd_builder.py), no pipeline run.
test_page_of_a_run.py checks the page of a real run end to end."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.settings import to_dict
from pipeline import node_ids
from pipeline.inspect import runs, store
from pipeline.inspect.run_page import data
from pipeline.inspect.states import ComponentStatus

from support import mlmd_builder


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> mlmd_builder.Written:
    return mlmd_builder.written(tmp_path_factory.mktemp("tfx"), mlmd_builder.TfxLayout)


def gather(written: mlmd_builder.Written, run: mlmd_builder.MnistRun, log_path=None) -> data.RunPage:
    return data.gather(runs.load(written.store, store.find_run(written.store, run.run_id)), log_path)


def test_the_data_sections_hold_the_splits_digits_statistics_and_anomalies(written):
    gathered = gather(written, written.first)
    assert gathered.label_counts["train"] == {digit: 5 for digit in range(10)}
    assert {digit: len(images) for digit, images in gathered.samples.items()} == {digit: 5 for digit in range(10)}
    assert gathered.samples[0][0].shape == (28, 28)
    assert {(row.split, row.feature) for row in gathered.statistics} == {
        (split, feature) for split in mlmd_builder.SPLITS for feature in ("image", "label")
    }
    assert gathered.anomalies == [] and gathered.failure is None
    assert [f.role for f in gathered.input_files] == list(mlmd_builder.FILE_NAMES)


def test_the_training_and_evaluation_sections_hold_the_runs_own_settings_and_figures(written):
    gathered = gather(written, written.third)
    # Every setting, each a parameter of the Trainer, in TrainerSettings' order and as the config says it.
    assert gathered.training_settings == to_dict(replace(mlmd_builder.TRAINING, learning_rate=0.01))
    assert list(gathered.training_settings)[:2] == ["hidden_units", "optimizer"]
    assert gathered.curves.scalars["loss"] == [(20, 1.0), (40, 0.5), (60, 0.25)]
    assert [step for step, _ in gathered.curves.validation["loss"]] == [20, 40, 60]
    assert gathered.blessing_rule == (
        "validation Precision@1 at least 0.5, and at most 0.01 below the served model's when one is served"
    )
    assert gathered.confusion_matrix[3] == [0, 0, 0, 2, 0, 0, 0, 0, 0, 0]
    [wrong] = gathered.misclassified
    assert (wrong.index, wrong.label, wrong.predicted) == tuple(mlmd_builder.MISCLASSIFIED[0].values())
    assert wrong.image.shape == (28, 28)


def test_a_cached_component_names_the_run_that_made_its_outputs(written):
    components = {c.node_id: c for c in gather(written, written.third).components}
    assert components[node_ids.INGEST].made_in_run == written.first.run_id
    assert components[node_ids.SERVED_MODEL].made_in_run == written.second.run_id
    assert components[node_ids.TRAINER].made_in_run is None  # it ran


def test_a_failed_run_says_what_failed_why_and_what_finished(written, tmp_path):
    log = tmp_path / "run.log"
    log.write_text("Trainer ...\nTraceback (most recent call last):\n  File x\nValueError: out of memory\n")
    failed = mlmd_builder.mnist_run(
        written.layout, written.root, "20261130-000500-000005", previous=written.third, failed=node_ids.TRAINER
    )
    gathered = gather(written, failed, log)
    assert gathered.failure == data.Failure(
        node_ids.TRAINER, "ValueError: out of memory", list(mlmd_builder.COMPONENTS)[:9]
    )
    assert gathered.component(node_ids.TRAINER).status == ComponentStatus.FAILED
    assert gathered.curves is None and gathered.misclassified == [] and gathered.training_settings == {}
