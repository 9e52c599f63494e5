"""Shared fixtures: synthetic MNIST-shaped data, small settings, and runs of the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_mnist import write_fake_mnist

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_MNIST = REPO_ROOT.parent / "shared" / "data" / "mnist"

# Settings that make a pipeline run on the synthetic data take seconds.
SMALL_RUN = [
    "--set", "ingest.validation_size=100",
    "--set", "ingest.records_per_shard=250",
    "--set", "training.train_steps=60",
    "--set", "training.batch_size=20",
    "--set", "training.log_every_steps=20",
    "--set", "training.checkpoint_every_steps=30",
    "--set", "evaluation.accuracy_threshold=0.5",
]


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


def run_cli(*args: str | Path) -> int:
    """Runs `mnist-pipeline ARGS` in this process (imports are paid once per test session)."""
    from pipeline import cli

    return cli.main([str(arg) for arg in args])
