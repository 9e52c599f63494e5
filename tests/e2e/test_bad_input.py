"""Bad input ends `mnist-pipeline run` with one clear line, and publishes no Examples artifact.

Each case corrupts one file of a small synthetic dataset and runs the real CLI in-process.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import SMALL_RUN, run_cli
from fake_mnist import balanced_labels, fake_images, idx_bytes, write_fake_mnist, write_idx

pytestmark = pytest.mark.e2e

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"


def _missing(data: Path) -> None:
    (data / TEST_LABELS).unlink()


def _wrong_magic(data: Path) -> None:
    write_idx(data / TRAIN_IMAGES, fake_images(balanced_labels(600, 1), 3), magic=b"\x00\x00\x0d\x03")


def _truncated_gzip(data: Path) -> None:
    content = (data / TRAIN_IMAGES).read_bytes()
    (data / TRAIN_IMAGES).write_bytes(content[: len(content) // 2])


def _not_gzip(data: Path) -> None:
    (data / TRAIN_LABELS).write_bytes(gzip.decompress((data / TRAIN_LABELS).read_bytes()))


def _count_mismatch(data: Path) -> None:
    write_idx(data / TRAIN_LABELS, balanced_labels(599, 1))


def _label_out_of_range(data: Path) -> None:
    labels = balanced_labels(200, 2)
    labels[123] = 10
    write_idx(data / TEST_LABELS, labels)


def _wrong_dimensions(data: Path) -> None:
    write_idx(data / TRAIN_IMAGES, np.zeros((600, 28, 30), dtype=np.uint8))


def _short_payload(data: Path) -> None:
    content = idx_bytes(fake_images(balanced_labels(600, 1), 3))
    (data / TRAIN_IMAGES).write_bytes(gzip.compress(content[:-784]))


BAD_INPUTS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # case: (how to break the data, the file named, the problem named)
    "missing file": (_missing, "t10k-labels-idx1-ubyte", "missing"),
    "wrong magic number": (_wrong_magic, TRAIN_IMAGES, "bad magic number 0x00000d03"),
    "truncated gzip": (_truncated_gzip, TRAIN_IMAGES, "corrupt or truncated gzip data"),
    "gz that is not gzip": (_not_gzip, TRAIN_LABELS, "not a gzip file"),
    "mismatched counts": (_count_mismatch, TRAIN_LABELS, "599 labels but"),
    "label outside 0..9": (_label_out_of_range, TEST_LABELS, "value 10 found, values must be in 0..9"),
    "wrong image dimensions": (_wrong_dimensions, TRAIN_IMAGES, "records are 28x30, expected 28x28"),
    "payload shorter than header": (_short_payload, TRAIN_IMAGES, "payload is 469616 bytes but the header promises 470400"),
}


@pytest.fixture
def bad_data(tmp_path: Path, fake_mnist_dir: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(fake_mnist_dir, data)
    return data


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_fails_with_one_line_and_no_examples(case, bad_data, tmp_path, capsys):
    break_data, file_named, problem = BAD_INPUTS[case]
    break_data(bad_data)
    output = tmp_path / "out"

    assert run_cli("run", "--data-dir", bad_data, "--output-dir", output, *SMALL_RUN) == 1

    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, errors
    assert file_named in errors[0] and problem in errors[0]
    assert _live_examples(output) == []
    if case == "missing file":  # refused before the run: nothing left behind
        assert not output.exists()


def test_bad_input_prints_no_traceback(bad_data, tmp_path):
    """The installed console script, as a user runs it: exit code 1, no traceback."""
    _label_out_of_range(bad_data)
    script = Path(sys.executable).parent / "mnist-pipeline"
    result = subprocess.run(
        [str(script), "run", "--data-dir", str(bad_data), "--output-dir", str(tmp_path / "out"), *SMALL_RUN],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {bad_data / TEST_LABELS}: value 10 found")


def test_skewed_label_mix_stops_the_run_before_training(tmp_path, capsys):
    """A test split of digits 0-4 only is an anomaly: the run stops before the Trainer."""
    data = tmp_path / "data"
    write_fake_mnist(data, train_count=600, test_count=200, test_labels=balanced_labels(200, 2, num_classes=5))
    output = tmp_path / "out"

    assert run_cli("run", "--data-dir", data, "--output-dir", output, *SMALL_RUN) == 1

    [error] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "split 'test', feature 'label' (label mix)" in error
    assert "split 'validation'" not in error
    statuses = _statuses(output)
    assert statuses["SplitValidator"] == "ran" and statuses["DataGate"] == "failed"
    assert "Trainer" not in statuses
    reports = list((output / "pipeline" / "SplitValidator").glob("anomalies/*/Split-test/SchemaDiff.pb"))
    assert len(reports) == 1  # the report stays on disk


def _live_examples(output: Path) -> list[str]:
    from pipeline import lineage

    if not (output / "metadata.sqlite").exists():  # failed before the run started
        return []
    store = lineage.open_store(output / "metadata.sqlite")
    return [a.uri for a in store.get_artifacts_by_type("Examples") if a.state == a.LIVE]


def _statuses(output: Path) -> dict[str, str]:
    from pipeline import lineage

    store = lineage.open_store(output / "metadata.sqlite")
    return {e.node_id: e.status for e in lineage.run_executions(store, lineage.find_run(store))}
