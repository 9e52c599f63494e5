"""The IDX file format of the MNIST database, in plain Python and NumPy.

An IDX file is a big-endian header followed by a dense array:
    magic: 0x00 0x00 <type code> <number of dimensions>
    one uint32 size per dimension
    the payload, row-major
MNIST uses type code 0x08 (unsigned byte): images are 3-D (count, rows, columns), labels 1-D.
Files may be gzip-compressed; they are recognised by their content, not their name.

Everything here streams: memory does not grow with the number of records.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np

from components.errors import PipelineError

UBYTE_TYPE_CODE = 0x08
GZIP_MAGIC = b"\x1f\x8b"
READ_CHUNK_BYTES = 1 << 20
MAX_SEEK_POSITION = 2**63 - 1  # a seek takes a signed 64-bit offset; no file reaches beyond it
# What a corrupt or truncated gzip stream raises while it is read or seeked in.
GZIP_ERRORS = (EOFError, OSError, zlib.error)

# Opens a path for binary reading; the ingest passes tf.io.gfile.GFile so that gs:// and s3:// work.
Opener = Callable[[str], IO[bytes]]


def _open_local(path: str) -> IO[bytes]:
    return open(path, "rb")


class IdxFormatError(PipelineError, ValueError):
    """A file is not the IDX file it should be. The message names the file and the problem."""

    def __init__(self, path: str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class IdxHeader:
    """What the header of an IDX file promises."""

    path: str
    dims: tuple[int, ...]

    @property
    def count(self) -> int:
        return self.dims[0]

    @property
    def record_shape(self) -> tuple[int, ...]:
        return self.dims[1:]

    @property
    def record_bytes(self) -> int:
        return math.prod(self.record_shape)  # a Python int: two uint32 sizes can overflow int64

    @property
    def header_bytes(self) -> int:
        return 4 + 4 * len(self.dims)

    @property
    def payload_bytes(self) -> int:
        return self.count * self.record_bytes

    def to_bytes(self) -> bytes:
        """The header as it stands in the file."""
        return struct.pack(f">HBB{len(self.dims)}I", 0, UBYTE_TYPE_CODE, len(self.dims), *self.dims)


RecordRange = tuple[int, int]  # records [start, stop)


@dataclass(frozen=True)
class IdxCheck:
    """The result of a full pass over a file that found no problem."""

    header: IdxHeader
    sha256: str  # of the decompressed content, so a recompressed copy hashes the same
    max_value: int
    file_sha256: str  # of the bytes as stored (compressed or not), as DataProbe hashes them
    range_sha256: dict[RecordRange, str]  # records_sha256 of each range asked for, as this pass read them


def records_sha256() -> hashlib._Hash:
    """The digest of a range of records: of their bytes, in order, without the header. The check
    and whoever converts the records each compute one, so that what was converted is known to be
    what was checked (a file replaced or rewritten in between gives another)."""
    return hashlib.sha256()


class _RangeDigests:
    """records_sha256 of several record ranges at once, fed the payload chunk by chunk in order."""

    def __init__(self, record_bytes: int, ranges: Sequence[RecordRange]):
        self._spans = sorted((start * record_bytes, stop * record_bytes, (start, stop)) for start, stop in set(ranges))
        self._digests = {span[2]: records_sha256() for span in self._spans}
        self._first = 0  # spans before it end before the bytes fed so far

    def update(self, offset: int, chunk: bytes) -> None:
        """Feeds `chunk`, the payload's bytes from `offset` on, to the ranges it overlaps."""
        end, view = offset + len(chunk), memoryview(chunk)
        for begin, finish, key in self._spans[self._first :]:
            if begin >= end:
                break
            if finish > offset:
                self._digests[key].update(view[max(begin, offset) - offset : min(finish, end) - offset])
        while self._first < len(self._spans) and self._spans[self._first][1] <= end:
            self._first += 1

    def hexdigests(self) -> dict[RecordRange, str]:
        return {key: digest.hexdigest() for key, digest in self._digests.items()}


class _HashingReader:
    """A binary file read forward from its start, hashing the bytes as they are stored (under a
    gzip stream, the compressed ones); a seek to the start starts the hash again."""

    def __init__(self, raw: IO[bytes]):
        self._raw, self.digest = raw, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.digest.update(data)
        return data

    def seek(self, position: int, whence: int = 0) -> int:
        if (position, whence) != (0, 0):
            raise io.UnsupportedOperation("read forward from the start only")
        self.digest = hashlib.sha256()
        return self._raw.seek(0)

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _HashingReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _open_stream(path: str, opener: Opener) -> IO[bytes]:
    """Opens `path`, transparently decompressing gzip content."""
    raw = opener(path)
    magic = raw.read(2)
    raw.seek(0)
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if path.endswith(".gz"):
        raw.close()
        raise IdxFormatError(path, "not a gzip file although its name ends in .gz")
    return raw


def _read_exactly(stream: IO[bytes], size: int, path: str, what: str) -> bytearray:
    """Reads `size` bytes in pieces, so that a header promising more than the file holds costs
    memory for what the file holds, not for what the header promises."""
    data = bytearray()
    try:
        while len(data) < size:
            piece = stream.read(min(size - len(data), READ_CHUNK_BYTES))
            if not piece:
                break
            data += piece
    except GZIP_ERRORS as error:
        raise IdxFormatError(path, f"corrupt or truncated gzip data while reading {what} ({error})") from error
    if len(data) != size:
        raise IdxFormatError(path, f"file ends early: {what} needs {size} bytes, found {len(data)}")
    return data


def read_header(stream: IO[bytes], path: str, expected_dims: int) -> IdxHeader:
    """Reads and checks the header at the start of `stream`."""
    magic = _read_exactly(stream, 4, path, "the 4-byte magic number")
    zero, type_code, ndim = struct.unpack(">HBB", magic)
    if zero != 0 or type_code != UBYTE_TYPE_CODE:
        raise IdxFormatError(path, f"bad magic number 0x{magic.hex()}: not an IDX file of unsigned bytes")
    if ndim != expected_dims:
        raise IdxFormatError(path, f"magic number 0x{magic.hex()} says {ndim} dimensions, expected {expected_dims}")
    dims = struct.unpack(f">{ndim}I", _read_exactly(stream, 4 * ndim, path, "the dimension sizes"))
    if 0 in dims[1:]:
        # Else a few bytes could promise four billion records, and a loop over them would never end.
        raise IdxFormatError(path, f"dimension sizes {_shape_text(dims)} give records of 0 bytes")
    return IdxHeader(path=path, dims=tuple(dims))


def check_file(
    path: str,
    expected_dims: int,
    record_shape: tuple[int, ...] | None = None,
    max_value: int | None = None,
    opener: Opener = _open_local,
    record_ranges: Sequence[RecordRange] = (),
) -> IdxCheck:
    """Reads a whole file once and checks it; returns its header, its SHA-256 (of the content and
    of the bytes as stored) and the records_sha256 of each of `record_ranges`.

    Checks: gzip integrity, magic number, number of dimensions, the shape of one record
    (when given), a payload of exactly the length the header promises, and (when given)
    that no value exceeds `max_value`.
    """
    digest = hashlib.sha256()
    stored = _HashingReader(opener(path))
    with stored, _open_stream(path, lambda _: stored) as stream:  # type: ignore[arg-type, return-value]
        header = read_header(stream, path, expected_dims)
        digest.update(header.to_bytes())
        if record_shape is not None and header.record_shape != tuple(record_shape):
            raise IdxFormatError(
                path, f"records are {_shape_text(header.record_shape)}, expected {_shape_text(record_shape)}"
            )
        ranges = _RangeDigests(header.record_bytes, record_ranges)
        payload_read, largest = 0, 0
        while True:
            try:
                chunk = stream.read(READ_CHUNK_BYTES)
            except GZIP_ERRORS as error:
                raise IdxFormatError(path, f"corrupt or truncated gzip data ({error})") from error
            if not chunk:
                break
            digest.update(chunk)
            ranges.update(payload_read, chunk)
            payload_read += len(chunk)
            largest = max(largest, int(np.frombuffer(chunk, dtype=np.uint8).max()))
        while stored.read(READ_CHUNK_BYTES):  # what a gzip stream left unread, e.g. its trailer
            pass
    if payload_read != header.payload_bytes:
        raise IdxFormatError(
            path,
            f"payload is {payload_read} bytes but the header promises {header.payload_bytes} "
            f"({header.count} records of {header.record_bytes} bytes)",
        )
    if max_value is not None and largest > max_value:
        raise IdxFormatError(path, f"value {largest} found, values must be in 0..{max_value}")
    return IdxCheck(header, digest.hexdigest(), largest, stored.digest.hexdigest(), ranges.hexdigests())


def iter_records(
    path: str,
    expected_dims: int,
    start: int,
    stop: int,
    chunk_records: int,
    opener: Opener = _open_local,
) -> Iterator[np.ndarray]:
    """Yields records `start..stop-1` as uint8 arrays of at most `chunk_records` records each."""
    with _open_stream(path, opener) as stream:
        header = read_header(stream, path, expected_dims)
        if not 0 <= start <= stop <= header.count:
            raise IdxFormatError(path, f"records {start}..{stop} asked for, the file has {header.count}")
        _seek(stream, header.header_bytes + start * header.record_bytes, path, f"record {start}")
        for first in range(start, stop, chunk_records):
            count = min(chunk_records, stop - first)
            data = _read_exactly(stream, count * header.record_bytes, path, f"records {first}..{first + count}")
            yield np.frombuffer(data, dtype=np.uint8).reshape((count, *header.record_shape))


def _seek(stream: IO[bytes], position: int, path: str, what: str) -> None:
    """Seeks to `position`; beyond the end of the data, the next read finds nothing."""
    if position > MAX_SEEK_POSITION:
        raise IdxFormatError(path, f"file ends early: {what} would start at byte {position}")
    try:
        # Seeking in a gzip stream decompresses up to the position; cheap next to the read itself.
        stream.seek(position)
    except GZIP_ERRORS as error:
        raise IdxFormatError(path, f"corrupt or truncated gzip data while seeking {what} ({error})") from error


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(str(size) for size in shape) if shape else "scalars"


def check_stored_size(header: IdxHeader, opener: Opener = _open_local) -> None:
    """The file at `header.path` is as long as its header promises, told from its end without
    reading it through: a raw file's size is the header's bytes plus count x record size; a gzip
    file's trailer (RFC 1952) holds the size it decompresses to, mod 2**32, which for a truncated
    file is whatever bytes happen to end it. Only when the trailer disagrees is the file read to
    the end, to say why (a truncated stream, or another length; a file of several gzip members
    has its last member's size there and passes). A byte changed in place keeps the size: the
    ingest's full read finds that."""
    expected = header.header_bytes + header.payload_bytes
    with opener(header.path) as raw:
        gzipped = raw.read(2) == GZIP_MAGIC
        raw.seek(0, io.SEEK_END)
        size = raw.tell()
        if not gzipped:
            if size != expected:
                raise IdxFormatError(header.path, f"file is {size:,} bytes but {_promise(header)}: {_TRUNCATED}")
            return
        raw.seek(size - 4)
        (trailer_size,) = struct.unpack("<I", raw.read(4))
    if trailer_size == expected % 2**32:
        return
    with _open_stream(header.path, opener) as stream:
        try:
            decompressed = sum(iter(lambda: len(stream.read(READ_CHUNK_BYTES)), 0))
        except GZIP_ERRORS as error:
            raise IdxFormatError(header.path, f"corrupt or truncated gzip data ({error}): {_TRUNCATED}") from error
    if decompressed != expected:
        raise IdxFormatError(
            header.path, f"decompresses to {decompressed:,} bytes but {_promise(header)}: {_TRUNCATED}"
        )


_TRUNCATED = "cut short or not the file it should be; fetch it again"


def _promise(header: IdxHeader) -> str:
    return (
        f"its header promises {header.header_bytes + header.payload_bytes:,} "
        f"({header.count:,} records of {header.record_bytes:,} bytes)"
    )


def read_file_header(path: str, expected_dims: int, opener: Opener = _open_local) -> IdxHeader:
    """Reads and checks only the header of a file: what it promises, at the cost of a few bytes."""
    try:
        with _open_stream(path, opener) as stream:
            return read_header(stream, path, expected_dims)
    except IsADirectoryError as error:
        raise IdxFormatError(path, "a directory, not a file") from error
