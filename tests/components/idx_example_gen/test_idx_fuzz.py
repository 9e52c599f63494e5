"""Fuzzing of the IDX reader: whatever the bytes, it gives the right arrays or IdxFormatError.

Hypothesis feeds arbitrary bytes and well-formed files mutated in their header, payload and gzip
layer. A small reference decoder says what each input holds, so the reader must also accept every
good file, not merely fail politely. Examples are derandomized and few, so that `make test` stays
fast and repeatable, and no example database is written into the repository.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import math
import struct
import time
import tracemalloc
import zlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from components.idx_example_gen import idx

from support.fake_mnist import idx_bytes

FUZZ = settings(
    max_examples=150,
    deadline=timedelta(seconds=1),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
HUGE = 2**32 - 1  # the largest size a header can state
# Far more chunks than any fuzzed file holds: a reader still yielding is not bounded by its data.
MAX_CHUNKS = 1000
MAX_PEAK_BYTES = 64 << 20

label_arrays = hnp.arrays(np.uint8, st.tuples(st.integers(0, 40)))
image_arrays = hnp.arrays(np.uint8, st.tuples(st.integers(0, 6), st.integers(1, 5), st.integers(1, 5)))
arrays = st.one_of(label_arrays, image_arrays)
sizes = st.one_of(st.sampled_from([0, 1, 2, 28, 2**31, HUGE]), st.integers(0, HUGE))
file_names = st.sampled_from(["data", "data.gz"])

# Edits, kept as data so that a failing example reads as what was done to the file.
# A lie sets dimension `dim` (modulo the number of dimensions) of an IDX header to `size`.
lies = st.tuples(st.integers(0, 2), sizes)
payload_edits = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 400)),
    st.tuples(st.just("extend"), st.binary(min_size=1, max_size=64)),
)
idx_edits = st.one_of(
    st.tuples(st.just("set byte"), st.integers(0, 15), st.integers(0, 255)),
    st.tuples(st.just("set byte"), st.integers(0, 400), st.integers(0, 255)),
    payload_edits,
)
# Corrupt gzip header or deflate data, cut the stream short, add garbage or another member.
gzip_edits = st.one_of(
    st.tuples(st.just("set byte"), st.integers(0, 400), st.integers(0, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 400)),
    st.tuples(st.just("extend"), st.binary(min_size=1, max_size=32)),
    st.tuples(st.just("extend"), st.binary(max_size=32).map(lambda data: gzip.compress(data, mtime=0))),
)

# The records asked for: small numbers, numbers taken from the header ("count" is its record
# count, "last" the count less one), or the largest a header can state.
starts = st.one_of(st.integers(-1, 8), st.just("last"))
stops = st.one_of(st.integers(-1, 12), st.just("count"), st.just(HUGE))
chunk_records = st.one_of(st.integers(1, 7), st.just(HUGE))


@st.composite
def header_then_bytes(draw: st.DrawFn) -> bytes:
    """An IDX header of 1 or 3 sizes, its magic number sometimes wrong, then any bytes."""
    ndim = draw(st.sampled_from([1, 3]))
    right_magic = bytes([0, 0, idx.UBYTE_TYPE_CODE, ndim])
    magic = draw(st.one_of(st.just(right_magic), st.binary(min_size=4, max_size=4)))
    dims = draw(st.lists(sizes, min_size=ndim, max_size=ndim))
    return magic + struct.pack(f">{ndim}I", *dims) + draw(st.binary(max_size=300))


any_bytes = st.one_of(st.binary(max_size=300), header_then_bytes())
any_files = st.one_of(any_bytes, any_bytes.map(lambda data: gzip.compress(data, mtime=0)))


def lie(data: bytes, ndim: int, dims_lies: list[tuple[int, int]]) -> bytes:
    """The IDX bytes with dimension sizes replaced."""
    edited = bytearray(data)
    for dim, size in dims_lies:
        offset = 4 + 4 * (dim % ndim)
        edited[offset : offset + 4] = struct.pack(">I", size)
    return bytes(edited)


def edit(data: bytes, edits: list[tuple]) -> bytes:
    """Applies edits; positions wrap around the current length, so every edit lands somewhere."""
    edited = bytearray(data)
    for kind, *args in edits:
        if kind == "set byte" and edited:
            position, value = args
            edited[position % len(edited)] = value
        elif kind == "truncate":
            del edited[args[0] % (len(edited) + 1) :]
        elif kind == "extend":
            edited += args[0]
    return bytes(edited)


def decompressed(content: bytes, name: str) -> bytes | None:
    """What a correct reader finds in the file: its IDX bytes, or None if it cannot be read."""
    if content[:2] == idx.GZIP_MAGIC:
        try:
            return gzip.decompress(content)
        except (OSError, EOFError, zlib.error):
            return None
    return None if name.endswith(".gz") else content


def header_dims(data: bytes | None, expected_dims: int) -> tuple[int, ...] | None:
    """The dimension sizes in a header of the right magic number; None without one."""
    header_bytes = 4 + 4 * expected_dims
    magic = bytes([0, 0, idx.UBYTE_TYPE_CODE, expected_dims])
    if data is None or len(data) < header_bytes or data[:4] != magic:
        return None
    return struct.unpack(f">{expected_dims}I", data[4:header_bytes])


def sound(dims: tuple[int, ...] | None) -> bool:
    """A header is sound when it has one; records of 0 bytes would let it promise any count."""
    return dims is not None and 0 not in dims[1:]


def assert_check_file_agrees(
    path: Path,
    data: bytes | None,
    expected_dims: int,
    record_shape: tuple[int, ...] | None,
    max_value: int | None,
) -> None:
    """check_file accepts exactly the sound files, with their dims, content hash and largest value."""
    dims = header_dims(data, expected_dims)
    expected = None
    if sound(dims) and record_shape in (None, dims[1:]):
        payload = data[4 + 4 * expected_dims :]
        largest = max(payload, default=0)
        if len(payload) == math.prod(dims) and (max_value is None or largest <= max_value):
            expected = (dims, hashlib.sha256(data).hexdigest(), largest)
    try:
        check = idx.check_file(str(path), expected_dims, record_shape=record_shape, max_value=max_value)
    except idx.IdxFormatError as error:
        assert expected is None, f"a sound file was refused: {error}"
        assert error.path == str(path)
        return
    assert (check.header.dims, check.sha256, check.max_value) == expected


def assert_iter_records_agrees(
    path: Path, data: bytes | None, expected_dims: int, start: int | str, stop: int | str, chunk_records: int
) -> None:
    """iter_records yields the asked records in chunks of the asked size, or IdxFormatError, in a
    number of chunks bounded by the data; it succeeds whenever the records are there."""
    dims = header_dims(data, expected_dims)
    count = dims[0] if dims is not None else 1  # without a header, any count will do
    start = count - 1 if start == "last" else start
    stop = count if stop == "count" else stop
    chunks, refused = [], None
    try:
        records = idx.iter_records(str(path), expected_dims, start, stop, chunk_records)
        chunks.extend(itertools.islice(records, MAX_CHUNKS + 1))
    except idx.IdxFormatError as error:
        refused = error
    assert len(chunks) <= MAX_CHUNKS, "still yielding records that no data backs"
    firsts = itertools.islice(range(start, stop, chunk_records), len(chunks))
    assert [len(chunk) for chunk in chunks] == [min(chunk_records, stop - first) for first in firsts]
    assert all(chunk.dtype == np.uint8 and chunk.ndim == expected_dims for chunk in chunks)
    assert len({chunk.shape[1:] for chunk in chunks}) <= 1
    in_range = sound(dims) and 0 <= start <= stop <= count
    if in_range:
        asked_bytes = (stop - start) * math.prod(dims[1:])
        first_byte = 4 + 4 * expected_dims + start * math.prod(dims[1:])
        asked = data[first_byte : first_byte + asked_bytes]
        if len(asked) == asked_bytes:
            assert refused is None, f"available records were refused: {refused}"
    if refused is not None:
        assert refused.path == str(path)
    elif data is not None:  # not checkable when the gzip stream breaks after the records
        assert in_range
        assert all(chunk.shape[1:] == dims[1:] for chunk in chunks)
        assert b"".join(chunk.tobytes() for chunk in chunks) == asked


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("idx_fuzz")


@FUZZ
@given(array=arrays, compress=st.booleans(), level=st.integers(0, 9), data=st.data())
def test_a_well_formed_file_reads_back_exactly(
    directory: Path, array: np.ndarray, compress: bool, level: int, data: st.DataObject
):
    raw = idx_bytes(array)
    path = directory / ("data.gz" if compress else "data")
    path.write_bytes(gzip.compress(raw, compresslevel=level, mtime=0) if compress else raw)
    largest = int(array.max(initial=0))
    check = idx.check_file(str(path), array.ndim, record_shape=array.shape[1:], max_value=largest)
    assert check.header.dims == array.shape
    assert check.sha256 == hashlib.sha256(raw).hexdigest()
    assert check.max_value == largest
    start = data.draw(st.integers(0, len(array)), label="start")
    stop = data.draw(st.integers(start, len(array)), label="stop")
    chunk = data.draw(st.integers(1, 8), label="chunk")
    chunks = list(idx.iter_records(str(path), array.ndim, start, stop, chunk))
    records = np.concatenate(chunks) if chunks else np.empty((0, *array.shape[1:]), np.uint8)
    np.testing.assert_array_equal(records, array[start:stop], strict=True)


@FUZZ
@given(
    content=any_files,
    name=file_names,
    expected_dims=st.sampled_from([1, 3]),
    record_shape=st.sampled_from([None, (), (28, 28), (2, 3)]),
    max_value=st.one_of(st.none(), st.integers(0, 255)),
    start=starts,
    stop=stops,
    chunk=chunk_records,
)
def test_arbitrary_bytes_give_arrays_or_the_readers_error(
    directory: Path, content: bytes, name: str, expected_dims: int, record_shape, max_value, start, stop, chunk
):
    path = directory / name
    path.write_bytes(content)
    data = decompressed(content, name)
    assert_check_file_agrees(path, data, expected_dims, record_shape, max_value)
    assert_iter_records_agrees(path, data, expected_dims, start, stop, chunk)


@FUZZ
@given(
    array=arrays,
    dims_lies=st.lists(lies, min_size=1, max_size=3),
    edits=st.lists(payload_edits, max_size=1),
    compress=st.booleans(),
    start=starts,
    stop=stops,
    chunk=chunk_records,
)
def test_lying_dimension_sizes_give_arrays_or_the_readers_error(
    directory: Path, array: np.ndarray, dims_lies, edits, compress: bool, start, stop, chunk
):
    raw = edit(lie(idx_bytes(array), array.ndim, dims_lies), edits)
    path = directory / ("data.gz" if compress else "data")
    path.write_bytes(gzip.compress(raw, mtime=0) if compress else raw)
    assert_check_file_agrees(path, raw, array.ndim, None, None)
    assert_iter_records_agrees(path, raw, array.ndim, start, stop, chunk)


@FUZZ
@given(
    array=arrays,
    dims_lies=st.lists(lies, max_size=2),
    edits=st.lists(idx_edits, max_size=3),
    compress=st.booleans(),
    stream_edits=st.lists(gzip_edits, max_size=2),
    name=file_names,
    max_value=st.one_of(st.none(), st.integers(0, 255)),
    start=starts,
    stop=stops,
    chunk=chunk_records,
)
def test_mutated_files_give_arrays_or_the_readers_error(
    directory: Path,
    array: np.ndarray,
    dims_lies,
    edits,
    compress: bool,
    stream_edits,
    name: str,
    max_value,
    start,
    stop,
    chunk,
):
    raw = edit(lie(idx_bytes(array), array.ndim, dims_lies), edits)
    content = edit(gzip.compress(raw, mtime=0), stream_edits) if compress else raw
    path = directory / name
    path.write_bytes(content)
    data = decompressed(content, name)
    assert_check_file_agrees(path, data, array.ndim, array.shape[1:], max_value)
    assert_check_file_agrees(path, data, array.ndim, None, None)
    assert_iter_records_agrees(path, data, array.ndim, start, stop, chunk)


def header(*dims: int) -> bytes:
    """The header of an IDX file of unsigned bytes with these dimension sizes."""
    return struct.pack(f">HBB{len(dims)}I", 0, idx.UBYTE_TYPE_CODE, len(dims), *dims)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    ("dims", "start", "stop", "chunk_records"),
    [
        ((HUGE, 28, 28), 0, HUGE, HUGE),  # one chunk of 3 TB
        ((100_000, 28, 28), 0, 100_000, 100_000),  # 78 MB: a lie small enough to be allocated
        ((HUGE,), 0, HUGE, HUGE),
        ((HUGE, 28, 28), HUGE - 1, HUGE, 1),  # a seek 3 TB into a 30-byte file
        ((3, HUGE, HUGE), 2, 3, 1),  # records of 2**64 - 2**33 + 1 bytes overflow int64
    ],
)
def test_a_header_promising_a_huge_payload_fails_fast_in_little_memory(
    directory: Path, dims: tuple[int, ...], start: int, stop: int, chunk_records: int, compress: bool
):
    raw = header(*dims) + bytes(range(1, 19))
    path = directory / ("huge.gz" if compress else "huge")
    path.write_bytes(gzip.compress(raw, mtime=0) if compress else raw)
    started = time.perf_counter()
    tracemalloc.start()
    try:
        with pytest.raises(idx.IdxFormatError, match="payload is 18 bytes but the header promises"):
            idx.check_file(str(path), len(dims))
        with pytest.raises(idx.IdxFormatError):
            list(idx.iter_records(str(path), len(dims), start, stop, chunk_records))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MAX_PEAK_BYTES
    assert time.perf_counter() - started < 5


def test_a_record_size_that_wraps_to_zero_in_64_bits_is_not_an_empty_record(directory: Path):
    path = directory / "wrap"
    path.write_bytes(header(1, 2**22, 2**21, 2**21))  # 2**64-byte records, no payload
    with pytest.raises(idx.IdxFormatError, match=f"header promises {2**64}"):
        idx.check_file(str(path), 4)
    with pytest.raises(idx.IdxFormatError, match="file ends early"):
        list(idx.iter_records(str(path), 4, 0, 1, 1))


def test_records_of_zero_bytes_are_refused(directory: Path):
    """Else 12 bytes could promise four billion records and any loop over them would hang."""
    path = directory / "empty-records"
    path.write_bytes(header(HUGE, 0, 28))
    with pytest.raises(idx.IdxFormatError, match="records of 0 bytes"):
        idx.check_file(str(path), 3)
    with pytest.raises(idx.IdxFormatError, match="records of 0 bytes"):
        next(idx.iter_records(str(path), 3, 0, HUGE, 1))
