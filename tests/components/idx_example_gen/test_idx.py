"""The IDX reader on small synthetic files."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from components.idx_example_gen import idx

from support.fake_mnist import balanced_labels, fake_images, idx_bytes, write_idx


@pytest.fixture
def images() -> np.ndarray:
    return fake_images(balanced_labels(50, seed=0), seed=0)


@pytest.mark.parametrize("compress", [True, False])
def test_check_file_reads_header_and_hashes_decompressed_content(tmp_path: Path, images, compress):
    path = write_idx(tmp_path / "images", images, compress=compress)
    check = idx.check_file(str(path), expected_dims=3, record_shape=(28, 28))
    assert check.header.dims == (50, 28, 28)
    assert check.header.header_bytes == 16
    assert check.sha256 == hashlib.sha256(idx_bytes(images)).hexdigest()
    assert check.max_value == images.max()


@pytest.mark.parametrize("compress", [True, False])
def test_check_file_hashes_the_stored_bytes_and_each_record_range_as_iter_records_reads_it(
    tmp_path: Path, images, compress, monkeypatch
):
    """What lets the ingest prove that its shards converted the bytes it checked; chunks of 1,000
    bytes, so that ranges start and end inside them."""
    monkeypatch.setattr(idx, "READ_CHUNK_BYTES", 1000)
    path = write_idx(tmp_path / "images", images, compress=compress)
    ranges = [(7, 30), (0, 7), (30, 50), (0, 50), (12, 12)]

    check = idx.check_file(str(path), expected_dims=3, record_ranges=ranges)

    assert check.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    for start, stop in ranges:
        digest = idx.records_sha256()
        for chunk in idx.iter_records(str(path), 3, start, stop, chunk_records=4):
            digest.update(chunk)
        assert check.range_sha256[(start, stop)] == digest.hexdigest(), (start, stop)
    assert check.range_sha256[(7, 30)] != check.range_sha256[(0, 7)]


def test_iter_records_yields_the_asked_range_in_chunks(tmp_path: Path, images):
    path = write_idx(tmp_path / "images.gz", images)
    chunks = list(idx.iter_records(str(path), 3, start=7, stop=30, chunk_records=10))
    assert [len(chunk) for chunk in chunks] == [10, 10, 3]
    np.testing.assert_array_equal(np.concatenate(chunks), images[7:30])


def test_iter_records_rejects_a_range_beyond_the_file(tmp_path: Path, images):
    path = write_idx(tmp_path / "images.gz", images)
    with pytest.raises(idx.IdxFormatError, match="records 40..60 asked for, the file has 50"):
        list(idx.iter_records(str(path), 3, start=40, stop=60, chunk_records=10))


def test_wrong_magic_number_names_the_file(tmp_path: Path, images):
    path = write_idx(tmp_path / "images.gz", images, magic=b"\x00\x00\x0d\x03")
    with pytest.raises(idx.IdxFormatError, match=r"images.gz: bad magic number 0x00000d03"):
        idx.check_file(str(path), expected_dims=3)


def test_wrong_number_of_dimensions(tmp_path: Path):
    path = write_idx(tmp_path / "labels.gz", balanced_labels(20, seed=0))
    with pytest.raises(idx.IdxFormatError, match="says 1 dimensions, expected 3"):
        idx.check_file(str(path), expected_dims=3)


def test_wrong_image_dimensions(tmp_path: Path):
    path = write_idx(tmp_path / "images.gz", np.zeros((5, 28, 27), dtype=np.uint8))
    with pytest.raises(idx.IdxFormatError, match="records are 28x27, expected 28x28"):
        idx.check_file(str(path), expected_dims=3, record_shape=(28, 28))


def test_payload_shorter_than_the_header_says(tmp_path: Path, images):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(images)[:-100])
    with pytest.raises(idx.IdxFormatError, match="payload is 39100 bytes but the header promises 39200"):
        idx.check_file(str(path), expected_dims=3)


def test_payload_longer_than_the_header_says(tmp_path: Path, images):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(images) + b"\x00" * 5)
    with pytest.raises(idx.IdxFormatError, match="payload is 39205 bytes"):
        idx.check_file(str(path), expected_dims=3)


def test_truncated_gzip(tmp_path: Path, images):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(idx_bytes(images))[:-200])
    with pytest.raises(idx.IdxFormatError, match="images.gz: corrupt or truncated gzip data"):
        idx.check_file(str(path), expected_dims=3)


def test_gz_name_without_gzip_content(tmp_path: Path, images):
    path = write_idx(tmp_path / "images.gz", images, compress=False)
    with pytest.raises(idx.IdxFormatError, match="not a gzip file although its name ends in .gz"):
        idx.check_file(str(path), expected_dims=3)


def test_value_above_the_maximum(tmp_path: Path):
    labels = balanced_labels(30, seed=0)
    labels[17] = 12
    path = write_idx(tmp_path / "labels.gz", labels)
    with pytest.raises(idx.IdxFormatError, match="value 12 found, values must be in 0..9"):
        idx.check_file(str(path), expected_dims=1, max_value=9)


def test_empty_file(tmp_path: Path):
    path = tmp_path / "labels"
    path.write_bytes(b"")
    with pytest.raises(idx.IdxFormatError, match="file ends early"):
        idx.check_file(str(path), expected_dims=1)


def stored_size_of(path: Path) -> None:
    idx.check_stored_size(idx.read_file_header(str(path), expected_dims=3))


@pytest.mark.parametrize("compress", [True, False])
def test_a_whole_file_has_the_size_its_header_promises(tmp_path: Path, images, compress):
    stored_size_of(write_idx(tmp_path / "images", images, compress=compress))


@pytest.mark.parametrize("cut", [100, 20_000])
def test_a_raw_file_cut_short_is_told_by_its_size(tmp_path: Path, images, cut):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(images)[:-cut])
    with pytest.raises(idx.IdxFormatError) as error:
        stored_size_of(path)
    assert str(error.value) == (
        f"{path}: file is {39216 - cut:,} bytes but its header promises 39,216 (50 records of 784 bytes): "
        "cut short or not the file it should be; fetch it again"
    )


def test_a_raw_file_longer_than_its_header_promises_is_told(tmp_path: Path, images):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(images) + b"\x00")
    with pytest.raises(idx.IdxFormatError, match="file is 39,217 bytes but its header promises 39,216"):
        stored_size_of(path)


def test_a_gzip_file_cut_in_half_is_told_by_its_trailer(tmp_path: Path, images):
    path = tmp_path / "images.gz"
    compressed = gzip.compress(idx_bytes(images))
    path.write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(idx.IdxFormatError, match=r"images.gz: corrupt or truncated gzip data \(.*\): cut short"):
        stored_size_of(path)


def test_a_whole_gzip_stream_of_other_content_is_told_by_its_length(tmp_path: Path, images):
    path = tmp_path / "images.gz"
    header_of_50 = idx_bytes(images)[:16]
    path.write_bytes(gzip.compress(header_of_50 + idx_bytes(images[:40])[16:]))
    with pytest.raises(idx.IdxFormatError, match="decompresses to 31,376 bytes but its header promises 39,216"):
        stored_size_of(path)


def test_a_gzip_file_of_two_members_is_read_to_the_end_and_passes(tmp_path: Path, images):
    path = tmp_path / "images.gz"
    content = idx_bytes(images)
    path.write_bytes(gzip.compress(content[:1000]) + gzip.compress(content[1000:]))
    stored_size_of(path)
