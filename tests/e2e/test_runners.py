"""The local runner (LocalDagRunner, concurrent) and BeamDagRunner run the same pipeline into the same kind of store."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SMALL_RUN, newest_summary, run_cli

pytestmark = pytest.mark.e2e


def _run(runner: str, data: Path, output: Path) -> dict:
    assert run_cli("run", "--runner", runner, "--data-dir", data, "--output-dir", output, *SMALL_RUN) == 0
    return newest_summary(output)


def test_beam_and_local_runners_make_the_same_artifacts(fake_mnist_dir, tmp_path):
    beam = _run("beam", fake_mnist_dir, tmp_path / "beam")
    local = _run("local", fake_mnist_dir, tmp_path / "local")

    for summary in (beam, local):
        statuses = {c["component"]: c["status"] for c in summary["components"]}
        assert set(statuses.values()) == {"ran"}, statuses
        assert summary["pushed"]["pushed"] is True
    # Training is seeded: both runners give the same model, hence the same figures.
    assert beam["trainer_precision_at_1"] == local["trainer_precision_at_1"]
    assert beam["evaluation"] == local["evaluation"]
    assert beam["run_id"] != local["run_id"]


def test_runners_share_the_store_and_its_cache(fake_mnist_dir, tmp_path):
    output = tmp_path / "shared"
    _run("beam", fake_mnist_dir, output)
    local = _run("local", fake_mnist_dir, output)
    statuses = {c["component"]: c["status"] for c in local["components"]}
    # What the Beam run pushed is served now: the blessing is checked against it, all else is reused.
    assert {node for node, status in statuses.items() if status != "cached"} == {
        "ServingProbe",
        "ServedModel",
        "Evaluator-validation",
        "Pusher",
    }, statuses
    assert local["pushed"]["version"] is not None
