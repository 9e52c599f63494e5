"""Shared fixtures: synthetic MNIST-shaped data, small settings, runs of the real CLI, and a
copy of the project's code to edit.

tests/support/unit_test_guard.py (registered here) fails any test not marked e2e that starts a pipeline.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path
from typing import NamedTuple
from unittest import mock

import pytest

from support.fake_mnist import balanced_labels, fake_images, write_fake_mnist, write_idx

pytest_plugins = ["support.unit_test_guard", "pytester"]

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = REPO_ROOT / "tests"
# What a copy of the project needs to run: its code and its configs (not tests/, not .venv).
PROJECT_DIRS = ("components", "pipeline", "configs")
REAL_MNIST = REPO_ROOT.parent / "shared" / "data" / "mnist"

# Settings that make a pipeline run on the synthetic data take seconds.
SMALL_RUN = [
    "--set",
    "ingest.validation_size=100",
    "--set",
    "ingest.records_per_shard=250",
    "--set",
    "training.train_steps=60",
    "--set",
    "training.batch_size=20",
    "--set",
    "training.log_every_steps=20",
    "--set",
    "training.checkpoint_every_steps=30",
    "--set",
    "training.validation_every_steps=20",
    "--set",
    "evaluation.min_precision_at_1=0.5",
]
MISDRAWN_EVERY = 10  # in reported_run's test split, every 10th image shows the next digit


@pytest.fixture(scope="session")
def fake_mnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 training and 200 test images, learnable, labels balanced."""
    directory = tmp_path_factory.mktemp("fake_mnist")
    write_fake_mnist(directory, train_count=600, test_count=200)
    return directory


@pytest.fixture(scope="session")
def real_mnist_dir() -> Path:
    if not (REAL_MNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {REAL_MNIST}")
    return REAL_MNIST


class ReportedRun(NamedTuple):
    data_dir: Path
    output_dir: Path
    run_id: str


@pytest.fixture(scope="session")
def reported_run(tmp_path_factory: pytest.TempPathFactory) -> ReportedRun:
    """A complete pipeline run (e2e tests only) whose report has mistakes to show: every
    MISDRAWN_EVERY-th of the 200 test images is drawn as the next digit, so a model trained on
    the clean train split gets those wrong."""
    data = tmp_path_factory.mktemp("misdrawn_mnist")
    labels = balanced_labels(200, seed=2)
    drawn = labels.copy()
    drawn[::MISDRAWN_EVERY] = (drawn[::MISDRAWN_EVERY] + 1) % 10
    files = write_fake_mnist(data, test_labels=labels)
    write_idx(files["test_images"], fake_images(drawn, seed=4))
    output_dir = tmp_path_factory.mktemp("reported_run") / "outputs"
    assert run_cli("run", "--data-dir", data, "--output-dir", output_dir, *SMALL_RUN) == 0
    [log] = (output_dir / "runs").glob("*.log")
    return ReportedRun(data, output_dir, log.stem)


@pytest.fixture(scope="session")
def reported_rerun(reported_run: ReportedRun) -> str:
    """reported_run run again as it was, in its output dir (e2e tests only): the served model is
    looked up again and compared with, all else cached; the rerun's id."""
    assert run_cli("run", "--data-dir", reported_run.data_dir, "--output-dir", reported_run.output_dir, *SMALL_RUN) == 0
    return max((reported_run.output_dir / "runs").glob("*.log")).stem


def newest_summary(output_dir: Path) -> dict:
    """The summary JSON of the newest run in an output dir (run ids sort by time)."""
    return json.loads(max((output_dir / "runs").glob("*.json")).read_text())


def lineage_fails(capsys: pytest.CaptureFixture, output_dir: Path, *query: str | Path) -> str:
    """Runs a `lineage` query that must fail; returns its one line of error."""
    capsys.readouterr()
    assert run_cli("lineage", *query, "--output-dir", output_dir) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.strip().splitlines()
    assert line.startswith("error: ")
    return line


def run_cli(*args: str | Path) -> int:
    """Runs `mnist-pipeline ARGS` in this process (imports are paid once per test session).

    `sys.argv` is what the console script would have: TFX's Beam executors parse it with absl
    (`base_beam_executor.__init__`), so pytest's own `-v` must not reach them.
    """
    from pipeline import cli

    argv = ["mnist-pipeline", *(str(arg) for arg in args)]
    with mock.patch.object(sys, "argv", argv):
        return cli.main(argv[1:])


def copy_project(destination: Path) -> Path:
    """Copies the project's code and configs to `destination` (which it creates); returns it."""
    for name in PROJECT_DIRS:
        shutil.copytree(REPO_ROOT / name, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A copy of components/, pipeline/ and configs/ under tmp_path, free to edit."""
    return copy_project(tmp_path / "project")


@pytest.fixture
def root_logging_restored():
    """Puts back the root logger's handlers and level that the CLI replaces (cli.quiet_libraries)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
