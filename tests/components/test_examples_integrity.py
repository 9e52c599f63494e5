"""The shard checksums the ingest records, and the check every reader of Examples makes against them."""

from __future__ import annotations

from pathlib import Path

import pytest
from tfx.types import standard_artifacts

from components import examples_integrity
from components.examples_integrity import ExamplesIntegrityError

from support.fake_artifacts import artifact, write_files

SHARDS = {
    "Split-train/data_tfrecord-00000-of-00002.gz": b"train shard 0",
    "Split-train/data_tfrecord-00001-of-00002.gz": b"train shard 1",
    "Split-test/data_tfrecord-00000-of-00001.gz": b"test shard",
}


@pytest.fixture
def examples(tmp_path: Path):
    """Examples with two splits, their checksums recorded as the ingest records them."""
    written = artifact(standard_artifacts.Examples, write_files(tmp_path / "examples", SHARDS), ["train", "test"])
    examples_integrity.record(written)
    return written


def test_record_holds_one_sha256_per_shard(examples):
    recorded = examples.get_json_value_custom_property(examples_integrity.SHARDS_PROPERTY)
    assert {split: sorted(files) for split, files in recorded.items()} == {
        "train": ["data_tfrecord-00000-of-00002.gz", "data_tfrecord-00001-of-00002.gz"],
        "test": ["data_tfrecord-00000-of-00001.gz"],
    }
    assert all(len(sha256) == 64 for files in recorded.values() for sha256 in files.values())


def test_untouched_examples_pass(examples):
    examples_integrity.verify(examples, ["train", "test"])


def test_a_missing_shard_is_named_with_its_split_and_the_way_out(examples):
    Path(examples.uri, "Split-train", "data_tfrecord-00001-of-00002.gz").unlink()
    with pytest.raises(
        ExamplesIntegrityError,
        match=r"split 'train': .*Split-train/data_tfrecord-00001-of-00002.gz "
        r"is missing: .* run again with --no-cache",
    ):
        examples_integrity.verify(examples, ["train"])


def test_a_changed_shard_is_named(examples):
    Path(examples.uri, "Split-test", "data_tfrecord-00000-of-00001.gz").write_bytes(b"test shard, damaged")
    with pytest.raises(ExamplesIntegrityError, match=r"split 'test': .*data_tfrecord-00000-of-00001.gz differs"):
        examples_integrity.verify(examples, ["train", "test"])


def test_a_file_the_ingest_did_not_write_is_named(examples):
    Path(examples.uri, "Split-train", "data_tfrecord-00002-of-00002.gz").write_bytes(b"extra")
    with pytest.raises(ExamplesIntegrityError, match=r"data_tfrecord-00002-of-00002.gz was not written by the ingest"):
        examples_integrity.verify(examples, ["train"])


def test_only_the_splits_asked_for_are_checked(examples):
    Path(examples.uri, "Split-test", "data_tfrecord-00000-of-00001.gz").unlink()
    examples_integrity.verify(examples, ["train"])


def test_examples_without_a_record_are_refused(tmp_path):
    unrecorded = artifact(standard_artifacts.Examples, write_files(tmp_path / "examples", SHARDS), ["train"])
    with pytest.raises(ExamplesIntegrityError, match="recorded no checksums for split 'train'"):
        examples_integrity.verify(unrecorded, ["train"])
