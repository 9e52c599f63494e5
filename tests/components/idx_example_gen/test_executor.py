"""IdxExampleGen's executor run directly on small synthetic files.

The executor runs without a pipeline or MLMD: the component is built only for its
exec_properties, and Executor().Do() writes into a plain Examples artifact.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from support.fake_mnist import FILE_NAMES, balanced_labels, fake_images, idx_bytes, write_fake_mnist, write_idx

tf = pytest.importorskip("tensorflow")

from tfx import types as tfx_types
from tfx.types import artifact_utils, standard_artifacts

from components.example_format import ExampleFormat
from components.idx_example_gen import executor
from components.idx_example_gen.component import IdxExampleGen
from components.idx_example_gen.idx import IdxFormatError
from components.idx_example_gen.layout import SplitSizeError
from components.idx_example_gen.probe import DataProbe, fingerprint
from components.idx_example_gen.settings import IDX_ROLES, IngestSettings
from pipeline.cli import describe_fault

TRAIN_COUNT, TEST_COUNT, VALIDATION_SIZE, RECORDS_PER_SHARD = 600, 200, 100, 150
SETTINGS = IngestSettings(
    **FILE_NAMES,
    validation_size=VALIDATION_SIZE,
    train_size=None,
    test_size=None,
    records_per_shard=RECORDS_PER_SHARD,
    gzip_level=1,
)
EXAMPLE_FORMAT = ExampleFormat(image_shape=(28, 28), num_classes=10)
# Shard files each split should have: 500 train, 100 validation and 200 test records.
EXPECTED_FILES = {
    "train": [f"data_tfrecord-{index:05d}-of-00004.gz" for index in range(4)],
    "validation": ["data_tfrecord-00000-of-00001.gz"],
    "test": ["data_tfrecord-00000-of-00002.gz", "data_tfrecord-00001-of-00002.gz"],
}
FEATURES = {
    "image": tf.io.FixedLenFeature([28 * 28], tf.int64),
    "label": tf.io.FixedLenFeature([1], tf.int64),
}


def fake_arrays() -> dict[str, np.ndarray]:
    """The arrays write_fake_mnist writes (same seeds), by role."""
    train_labels = balanced_labels(TRAIN_COUNT, seed=1)
    test_labels = balanced_labels(TEST_COUNT, seed=2)
    return {
        "train_images": fake_images(train_labels, seed=3),
        "train_labels": train_labels,
        "test_images": fake_images(test_labels, seed=4),
        "test_labels": test_labels,
    }


def run_executor(
    input_dir: Path, output_dir: Path, image_shape=(28, 28), num_classes=10, **settings: Any
) -> tfx_types.Artifact:
    """The executor run as in a pipeline: on the files as DataProbe saw them just before."""
    ingest_settings = dataclasses.replace(SETTINGS, **settings)
    seen = DataProbe(input_base=str(input_dir), settings=ingest_settings, code_sha256="x").exec_properties
    component = IdxExampleGen(
        input_base=str(input_dir),
        settings=ingest_settings,
        example_format=ExampleFormat(tuple(image_shape), num_classes),
        data_fingerprint=fingerprint(seen),
        code_sha256="x",
    )
    artifact = standard_artifacts.Examples()
    artifact.uri = str(output_dir)
    executor.Executor().Do({}, {"examples": [artifact]}, component.exec_properties)
    return artifact


def read_split(uri: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """All records of a split, shards in file-name order: images [N, 784] and labels [N]."""
    files = sorted(str(path) for path in Path(uri, f"Split-{split}").iterdir())
    images, labels = [], []
    for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(1000):
        parsed = tf.io.parse_example(batch, FEATURES)
        images.append(parsed["image"].numpy())
        labels.append(parsed["label"].numpy()[:, 0])
    return np.concatenate(images), np.concatenate(labels)


def output_files(output_dir: Path) -> list[Path]:
    return sorted(path for path in output_dir.rglob("*") if path.is_file()) if output_dir.exists() else []


@pytest.fixture(scope="module")
def gzip_run(tmp_path_factory) -> tuple[tfx_types.Artifact, dict[str, Path]]:
    root = tmp_path_factory.mktemp("gzip_run")
    files = write_fake_mnist(root / "data", train_count=TRAIN_COUNT, test_count=TEST_COUNT)
    return run_executor(root / "data", root / "out"), files


@pytest.fixture(scope="module")
def raw_run(tmp_path_factory) -> tuple[tfx_types.Artifact, dict[str, Path]]:
    root = tmp_path_factory.mktemp("raw_run")
    files = write_fake_mnist(root / "data", train_count=TRAIN_COUNT, test_count=TEST_COUNT, compress=False)
    return run_executor(root / "data", root / "out"), files


def test_the_plain_name_is_read_before_the_gz_one(tmp_path):
    write_fake_mnist(tmp_path / "data", train_count=TRAIN_COUNT, test_count=TEST_COUNT)  # all .gz
    write_idx(tmp_path / "data" / FILE_NAMES["test_labels"], balanced_labels(TEST_COUNT, seed=2), compress=False)
    artifact = run_executor(tmp_path / "data", tmp_path / "out")
    assert {role: artifact.get_string_custom_property(f"input_file_{role}") for role in IDX_ROLES} == {
        "train_images": "train-images-idx3-ubyte.gz",
        "train_labels": "train-labels-idx1-ubyte.gz",
        "test_images": "t10k-images-idx3-ubyte.gz",
        "test_labels": "t10k-labels-idx1-ubyte",
    }


def test_split_names(gzip_run):
    artifact, _ = gzip_run
    assert artifact_utils.decode_split_names(artifact.split_names) == ["train", "validation", "test"]


def test_shard_files_and_no_leftovers(gzip_run):
    artifact, _ = gzip_run
    out = Path(artifact.uri)
    assert sorted(path.name for path in out.iterdir()) == ["Split-test", "Split-train", "Split-validation"]
    for split, names in EXPECTED_FILES.items():
        assert sorted(path.name for path in (out / f"Split-{split}").iterdir()) == names
    assert not [path for path in out.rglob("*") if path.name.endswith(".tmp")]


def test_shards_are_gzip_tfrecords_of_the_planned_sizes(gzip_run):
    artifact, _ = gzip_run
    expected_counts = {"train": [150, 150, 150, 50], "validation": [100], "test": [150, 50]}
    for split, names in EXPECTED_FILES.items():
        counts = []
        for name in names:
            path = Path(artifact.uri, f"Split-{split}", name)
            assert path.read_bytes()[:2] == b"\x1f\x8b", f"{path} is not gzip"
            gzip.decompress(path.read_bytes())  # a whole, valid gzip stream
            counts.append(sum(1 for _ in tf.data.TFRecordDataset(str(path), compression_type="GZIP")))
        assert counts == expected_counts[split]


def test_examples_have_exactly_image_and_label_int64_features(gzip_run):
    artifact, _ = gzip_run
    path = Path(artifact.uri, "Split-validation", EXPECTED_FILES["validation"][0])
    record = next(iter(tf.data.TFRecordDataset(str(path), compression_type="GZIP"))).numpy()
    example = tf.train.Example.FromString(record)
    assert sorted(example.features.feature) == ["image", "label"]
    assert len(example.features.feature["image"].int64_list.value) == 784
    assert len(example.features.feature["label"].int64_list.value) == 1


def assert_splits_hold_the_synthetic_records(artifact: tfx_types.Artifact):
    arrays = fake_arrays()
    train_images = arrays["train_images"].reshape(TRAIN_COUNT, -1).astype(np.int64)
    test_images = arrays["test_images"].reshape(TEST_COUNT, -1).astype(np.int64)
    expected = {
        "validation": (train_images[:VALIDATION_SIZE], arrays["train_labels"][:VALIDATION_SIZE]),
        "train": (train_images[VALIDATION_SIZE:], arrays["train_labels"][VALIDATION_SIZE:]),
        "test": (test_images, arrays["test_labels"]),
    }
    for split, (images, labels) in expected.items():
        got_images, got_labels = read_split(artifact.uri, split)
        assert got_images.shape == images.shape, split
        np.testing.assert_array_equal(got_images, images, err_msg=split)
        np.testing.assert_array_equal(got_labels, labels.astype(np.int64), err_msg=split)


def test_records_equal_the_synthetic_pixels_and_labels_in_order(gzip_run):
    artifact, _ = gzip_run
    assert_splits_hold_the_synthetic_records(artifact)


def test_fake_arrays_match_the_written_files(gzip_run):
    # Guards the test itself: fake_arrays() must rebuild what write_fake_mnist wrote.
    _, files = gzip_run
    for role, array in fake_arrays().items():
        assert gzip.decompress(files[role].read_bytes()) == idx_bytes(array), role


def test_image_row_major_order(gzip_run):
    artifact, _ = gzip_run
    images, labels = read_split(artifact.uri, "test")
    # fake_images sets row 2*label+4 to 255: in a row-major flattening, that is 28 consecutive values.
    first = images[0].reshape(28, 28)
    assert (first[2 * labels[0] + 4] == 255).all()
    np.testing.assert_array_equal(images[0][28 * (2 * labels[0] + 4) :][:28], np.full(28, 255))


def test_custom_properties(gzip_run):
    artifact, files = gzip_run
    assert artifact.get_int_custom_property("num_examples_train") == TRAIN_COUNT - VALIDATION_SIZE
    assert artifact.get_int_custom_property("num_examples_validation") == VALIDATION_SIZE
    assert artifact.get_int_custom_property("num_examples_test") == TEST_COUNT
    arrays = fake_arrays()
    for role in IDX_ROLES:
        assert artifact.get_string_custom_property(f"input_file_{role}") == files[role].name
        assert files[role].name == FILE_NAMES[role] + ".gz"
        assert (
            artifact.get_string_custom_property(f"input_sha256_{role}")
            == hashlib.sha256(idx_bytes(arrays[role])).hexdigest()
        )


def test_payload_and_file_format(gzip_run):
    from tfx.components.util import examples_utils
    from tfx.proto import example_gen_pb2

    artifact, _ = gzip_run
    assert examples_utils.get_payload_format(artifact) == example_gen_pb2.FORMAT_TF_EXAMPLE
    assert examples_utils.get_file_format(artifact) == "tfrecords_gzip"


def test_raw_files_give_the_same_records_and_hashes(raw_run, gzip_run):
    artifact, files = raw_run
    assert artifact_utils.decode_split_names(artifact.split_names) == ["train", "validation", "test"]
    out = Path(artifact.uri)
    for split, names in EXPECTED_FILES.items():
        assert sorted(path.name for path in (out / f"Split-{split}").iterdir()) == names
    assert_splits_hold_the_synthetic_records(artifact)
    gzip_artifact, _ = gzip_run
    for role in IDX_ROLES:
        assert artifact.get_string_custom_property(f"input_file_{role}") == FILE_NAMES[role]
        assert files[role].name == FILE_NAMES[role]
        # The hash is of the decompressed content: the same for the raw and the gzip copy.
        assert artifact.get_string_custom_property(f"input_sha256_{role}") == (
            gzip_artifact.get_string_custom_property(f"input_sha256_{role}")
        )


def test_configured_split_sizes(tmp_path):
    write_fake_mnist(tmp_path / "data", train_count=TRAIN_COUNT, test_count=TEST_COUNT)
    artifact = run_executor(
        tmp_path / "data",
        tmp_path / "out",
        validation_size=50,
        train_size=120,
        test_size=30,
        records_per_shard=1000,
    )
    arrays = fake_arrays()
    assert artifact.get_int_custom_property("num_examples_train") == 120
    assert artifact.get_int_custom_property("num_examples_validation") == 50
    assert artifact.get_int_custom_property("num_examples_test") == 30
    _, train_labels = read_split(artifact.uri, "train")
    np.testing.assert_array_equal(train_labels, arrays["train_labels"][50:170])
    _, validation_labels = read_split(artifact.uri, "validation")
    np.testing.assert_array_equal(validation_labels, arrays["train_labels"][:50])
    test_images, _ = read_split(artifact.uri, "test")
    np.testing.assert_array_equal(test_images, arrays["test_images"][:30].reshape(30, -1))
    assert sorted(p.name for p in Path(artifact.uri, "Split-train").iterdir()) == ["data_tfrecord-00000-of-00001.gz"]


# ---- bad input: the executor fails before writing anything -----------------------------------


def assert_fails_without_output(input_dir: Path, output_dir: Path, error: type, pattern: str, **settings):
    with pytest.raises(error, match=pattern) as raised:
        run_executor(input_dir, output_dir, **settings)
    assert not list(output_dir.glob("Split-*")), output_files(output_dir)
    assert output_files(output_dir) == []
    return raised.value


def test_missing_file(tmp_path):
    files = write_fake_mnist(tmp_path / "data", train_count=TRAIN_COUNT, test_count=TEST_COUNT)
    files["test_images"].unlink()
    error = assert_fails_without_output(
        tmp_path / "data", tmp_path / "out", IdxFormatError, "file not found \\(nor with .gz\\)"
    )
    assert error.path == str(tmp_path / "data" / FILE_NAMES["test_images"])


def test_label_file_shorter_than_image_file(tmp_path):
    write_fake_mnist(tmp_path / "data", train_count=TRAIN_COUNT, test_count=TEST_COUNT)
    labels_path = tmp_path / "data" / (FILE_NAMES["train_labels"] + ".gz")
    write_idx(labels_path, balanced_labels(TRAIN_COUNT - 1, seed=1))
    error = assert_fails_without_output(
        tmp_path / "data",
        tmp_path / "out",
        IdxFormatError,
        f"599 labels but .*{FILE_NAMES['train_images']}.gz has 600 images",
    )
    assert error.path == str(labels_path)
    assert str(error).startswith(str(labels_path) + ": ")


def test_label_out_of_range(tmp_path):
    test_labels = balanced_labels(TEST_COUNT, seed=2)
    test_labels[17] = 10
    write_fake_mnist(tmp_path / "data", train_count=TRAIN_COUNT, test_count=TEST_COUNT, test_labels=test_labels)
    error = assert_fails_without_output(
        tmp_path / "data", tmp_path / "out", IdxFormatError, "value 10 found, values must be in 0..9"
    )
    assert error.path == str(tmp_path / "data" / (FILE_NAMES["test_labels"] + ".gz"))


def test_label_in_range_for_more_classes_is_accepted_by_the_check(tmp_path):
    test_labels = balanced_labels(TEST_COUNT, seed=2)
    test_labels[17] = 10
    files = write_fake_mnist(tmp_path, train_count=20, test_count=TEST_COUNT, test_labels=test_labels)
    checks = executor.check_files({role: str(path) for role, path in files.items()}, ExampleFormat((28, 28), 11))
    assert checks["test_labels"].max_value == 10
    assert checks["train_images"].header.count == 20


def test_wrong_image_shape(tmp_path):
    write_fake_mnist(tmp_path / "data", train_count=TRAIN_COUNT, test_count=TEST_COUNT)
    error = assert_fails_without_output(
        tmp_path / "data",
        tmp_path / "out",
        IdxFormatError,
        "records are 28x28, expected 32x32",
        image_shape=[32, 32],
    )
    assert error.path == str(tmp_path / "data" / (FILE_NAMES["train_images"] + ".gz"))


def test_split_sizes_too_large_for_the_files(tmp_path):
    write_fake_mnist(tmp_path / "data", train_count=TRAIN_COUNT, test_count=TEST_COUNT)
    assert_fails_without_output(
        tmp_path / "data",
        tmp_path / "out",
        SplitSizeError,
        "test_size 201 exceeds the 200 records",
        test_size=201,
    )


# --- a file that changes during the ingest (issue 27) -------------------------------------------


def replace_file_after(monkeypatch, step: str, path: Path, labels: np.ndarray) -> None:
    """Writes `labels` over `path` (a new file under the same name, as a download would) right after
    the ingest's `step` ("read_file_header" or "check_file") first reads it."""
    original = getattr(executor.idx, step)

    def then_replace(file_path: str, *args, **kwargs):
        result = original(file_path, *args, **kwargs)
        if file_path == str(path) and not replaced:
            replaced.append(path)
            fresh = path.with_name(path.name + ".new")
            write_idx(fresh, labels)
            fresh.replace(path)
        return result

    replaced: list[Path] = []
    monkeypatch.setattr(executor.idx, step, then_replace)


def failure_line(run) -> str:
    """The one line the CLI prints for the error `run` raises (Beam wraps a worker's error)."""
    with pytest.raises(Exception) as raised:
        run()
    line = describe_fault(raised.value)
    assert line is not None, raised.value
    return line


@pytest.mark.parametrize("role", ["test_labels", "train_labels", "train_images"])
def test_a_file_replaced_after_the_check_fails_the_shards_that_read_it(tmp_path, monkeypatch, role):
    """The shards would read the new file where the check hashed the old one: the Examples would hold
    the new labels under the old file's hash (for the training files, shards of both)."""
    files = write_fake_mnist(tmp_path / "data", train_count=TRAIN_COUNT, test_count=TEST_COUNT)
    labels = balanced_labels(TRAIN_COUNT if role.startswith("train") else TEST_COUNT, seed=7)
    replace_file_after(monkeypatch, "check_file", files[role], fake_images(labels, 5) if "images" in role else labels)

    line = failure_line(lambda: run_executor(tmp_path / "data", tmp_path / "out"))

    assert re.fullmatch(
        rf"{re.escape(str(files[role]))}: changed while the ingest read it \(records \d+\.\.\d+\); "
        "run again once the data dir holds the files it should",
        line,
    ), line
    assert not [path for path in output_files(tmp_path / "out") if path.name.endswith(".tmp")]


def test_a_file_replaced_after_the_probe_hashed_it_fails_before_any_shard(tmp_path, monkeypatch):
    """The cache key (DataProbe's hashes) would name the old file, the Examples hold the new one."""
    files = write_fake_mnist(tmp_path / "data", train_count=TRAIN_COUNT, test_count=TEST_COUNT)
    replace_file_after(monkeypatch, "read_file_header", files["test_labels"], balanced_labels(TEST_COUNT, seed=7))

    line = failure_line(lambda: run_executor(tmp_path / "data", tmp_path / "out"))

    assert line == (
        f"{files['test_labels']}: changed after DataProbe hashed it for this run, before the ingest read it; "
        "run again once the data dir holds the files it should"
    )
    assert output_files(tmp_path / "out") == []


def test_a_header_that_changes_between_planning_and_checking_fails(tmp_path, monkeypatch):
    """Both test files replaced by shorter ones after the shards were planned on the old headers."""
    files = write_fake_mnist(tmp_path / "data", train_count=TRAIN_COUNT, test_count=TEST_COUNT)
    labels = balanced_labels(TEST_COUNT - 1, seed=7)
    replace_file_after(monkeypatch, "read_file_header", files["test_images"], fake_images(labels, 5))
    replace_file_after(monkeypatch, "read_file_header", files["test_labels"], labels)

    line = failure_line(lambda: run_executor(tmp_path / "data", tmp_path / "out"))

    assert line.startswith(f"{files['test_images']}: changed while the ingest read it (its header changed); run")
