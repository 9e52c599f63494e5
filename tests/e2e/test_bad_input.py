"""Bad input ends `mnist-pipeline run` with one clear line, and publishes no Examples artifact.

Each case corrupts one file of a small synthetic dataset, or gives a setting, a file or a store
that cannot work, and runs the real CLI. What can be checked before the run is refused before
the output dir is made.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from conftest import SMALL_RUN, run_cli
from support.fake_mnist import balanced_labels, fake_images, idx_bytes, write_fake_mnist, write_idx

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
    "wrong image dimensions": (_wrong_dimensions, TRAIN_IMAGES, "holds images of [28, 30]"),
    "payload shorter than header": (
        _short_payload,
        TRAIN_IMAGES,
        "decompresses to 469,632 bytes but its header promises 470,416 (600 records of 784 bytes)",
    ),
}


BEFORE_THE_RUN = ("missing file", "wrong image dimensions", "truncated gzip", "payload shorter than header")


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
    if case in BEFORE_THE_RUN:  # refused by the headers and sizes before the run: nothing left behind
        assert not output.exists()


def _broken_schema(tmp_path: Path) -> list[str]:
    (tmp_path / "schema.pbtxt").write_text('feature {\n  name: "image"\n  type: PIXELS\n}\n')
    return ["--set", f"validation.schema_file={tmp_path / 'schema.pbtxt'}"]


def _yaml_error(tmp_path: Path) -> list[str]:
    (tmp_path / "mine.yaml").write_text("training:\n  learning_rate: 0.01\n   batch_size: 20\n")
    return ["--config", str(tmp_path / "mine.yaml")]


def _config_not_utf8(tmp_path: Path) -> list[str]:
    (tmp_path / "mine.yaml").write_bytes("training:\n  # schön\n  batch_size: 20\n".encode("latin-1"))
    return ["--config", str(tmp_path / "mine.yaml")]


def _config_nested_deeply(tmp_path: Path) -> list[str]:
    (tmp_path / "mine.yaml").write_text("training: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n")
    return ["--config", str(tmp_path / "mine.yaml")]


REFUSED: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    # case: (the arguments that cannot work, given a tmp dir; what the error line says)
    "missing schema file": (
        lambda tmp: ["--set", f"validation.schema_file={tmp / 'none.pbtxt'}"],
        "none.pbtxt: cannot read the schema file set by 'validation.schema_file' (No such file",
    ),
    "broken schema file": (_broken_schema, "schema.pbtxt: not a valid schema (3:9 : "),
    "empty pipeline name": (
        lambda tmp: ["--set", "pipeline_name=''"],
        "'pipeline_name' must be lower-case letters, digits and '-'",
    ),
    "image shape the files do not have": (
        lambda tmp: ["--set", "data.image_shape=[32, 32]"],
        "'data.image_shape' is [32, 32], but",
    ),
    "Beam flag of the wrong type": (
        lambda tmp: ["--beam-arg=--direct_num_workers=abc"],
        "Beam arguments (beam.pipeline_args, --beam-arg): argument --direct_num_workers: invalid int value: 'abc'",
    ),
    "Beam runner without its options": (
        lambda tmp: ["--beam-arg=--runner=DataflowRunner"],
        "Beam arguments (beam.pipeline_args, --beam-arg): --runner=DataflowRunner: "
        "Missing GCS path option: temp_location. ",
    ),
    "YAML error in a config file": (
        _yaml_error,
        "mine.yaml: not valid YAML at line 3, column 14: mapping values are not allowed here",
    ),
    "config file not UTF-8": (_config_not_utf8, "mine.yaml: not UTF-8 text (byte 0xf6 on line 2)"),
    "config file nested 5,000 deep": (
        _config_nested_deeply,
        "mine.yaml: not valid YAML: collections nested too deeply",
    ),
    "data dir not UTF-8": (
        lambda tmp: ["--data-dir", str(tmp / "data\udcff")],  # the byte 0xff, as Python keeps it
        "data\\xff: not UTF-8 text, which every path and value must be",
    ),
    # Found by TFX once the output dir was made, or by the Trainer 35-55 s into the run:
    "train_steps beyond int64": (
        lambda tmp: ["--set", "training.train_steps=99999999999999999999"],
        "'training.train_steps' must be in 1..100000000, got 99999999999999999999",
    ),
    "seed out of range": (
        lambda tmp: ["--set", "training.seed=-1"],
        "'training.seed' must be in 0..4294967295, got -1",
    ),
    "absurd hidden units": (
        lambda tmp: ["--set", "training.hidden_units=[1000000000]"],
        "'training.hidden_units' must be in 1..65536 each, got [1000000000]",
    ),
    # Passed every check, and the run's report grew to 11.6 GB.
    "num_classes 1e23": (
        lambda tmp: ["--set", "data.num_classes=1.0e+23"],
        "'data.num_classes' must be in 2..256, got 99999999999999991611392",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_what_cannot_work_is_refused_before_the_run_in_one_line(case, fake_mnist_dir, tmp_path, capsys):
    arguments, message = REFUSED[case]
    output = tmp_path / "out"

    assert run_cli("run", "--data-dir", fake_mnist_dir, "--output-dir", output, *SMALL_RUN, *arguments(tmp_path)) == 1

    [error] = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert error.startswith("error: ") and message in error, error
    assert not output.exists()


def test_a_file_that_is_no_metadata_store_is_named_before_the_run(fake_mnist_dir, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "metadata.sqlite").write_text("SELECT * FROM nothing;")
    assert run_cli("run", "--data-dir", fake_mnist_dir, "--output-dir", tmp_path / "out", *SMALL_RUN) == 1
    [error] = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert error == (
        f"error: {tmp_path / 'out' / 'metadata.sqlite'}: not an ML Metadata store; move it away "
        "(a new store starts empty) or give another --output-dir"
    )
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["metadata.sqlite"]


def run_without_root_privileges(*args: str | Path) -> subprocess.CompletedProcess:
    """`mnist-pipeline ARGS` as a user would run it; as root (CI), without the capabilities that
    let root read any file (util-linux's setpriv), so that file permissions apply."""
    script = Path(sys.executable).parent / "mnist-pipeline"
    dropped = (
        ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search", "--"]
        if os.geteuid() == 0
        else []
    )
    return subprocess.run([*dropped, str(script), *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "unreadable, message",
    [
        (TRAIN_IMAGES, f"{TRAIN_IMAGES}: cannot read this file (permission denied)"),
        ("", "data: cannot read this folder (permission denied)"),
    ],
)
def test_an_unreadable_file_or_folder_is_named_as_unreadable(unreadable, message, bad_data, tmp_path):
    (bad_data / unreadable).chmod(0)
    try:
        result = run_without_root_privileges(
            "run", "--data-dir", bad_data, "--output-dir", tmp_path / "out", *SMALL_RUN
        )
    finally:
        (bad_data / unreadable).chmod(0o755)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    [error] = [line for line in result.stderr.splitlines() if line.strip()]
    assert error.startswith("error: ") and error.endswith(message) and "--download" not in error
    assert not (tmp_path / "out").exists()


def test_bad_input_prints_no_traceback(bad_data, tmp_path):
    """The installed console script, as a user runs it: exit code 1, no traceback."""
    _label_out_of_range(bad_data)
    script = Path(sys.executable).parent / "mnist-pipeline"
    result = subprocess.run(
        [str(script), "run", "--data-dir", str(bad_data), "--output-dir", str(tmp_path / "out"), *SMALL_RUN],
        capture_output=True,
        text=True,
        timeout=600,
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
    from pipeline.inspect import store as inspect_store

    if not (output / "metadata.sqlite").exists():  # failed before the run started
        return []
    store = inspect_store.open_store(output / "metadata.sqlite")
    return [a.uri for a in store.get_artifacts_by_type("Examples") if a.state == a.LIVE]


def _statuses(output: Path) -> dict[str, str]:
    from pipeline.inspect import store as inspect_store

    store = inspect_store.open_store(output / "metadata.sqlite")
    return {e.node_id: e.status for e in inspect_store.run_executions(store, inspect_store.find_run(store))}
