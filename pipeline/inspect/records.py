"""TFRecord files read without TensorFlow: the Examples' tf.Examples (for the report's digits)
and the Trainer's TensorBoard event files (for its curves).

A TFRecord file is a sequence of records, each a little-endian uint64 length, the length's
masked CRC-32C, the bytes and their masked CRC-32C (tensorflow/core/lib/io/record_writer.cc);
the checksums are not checked here: the Examples' files are checked by their SHA-256 against
what the ingest recorded (components/examples_integrity.py) before the report reads them.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterator

import numpy as np
from tensorboard.compat.proto import event_pb2
from tfx_bsl.coders import example_coder

from components import files
from components.example_format import IMAGE_KEY, LABEL_KEY

HEADER = struct.Struct("<QI")  # length, masked CRC of the length
FOOTER_BYTES = 4  # masked CRC of the data


class DamagedRecordsError(ValueError):
    """A record file ends inside a record."""


def records(path: str, gzipped: bool) -> Iterator[bytes]:
    """The records of one file, in order."""
    with files.open(path, "rb") as raw:
        stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
        while header := stream.read(HEADER.size):
            if len(header) < HEADER.size:
                raise DamagedRecordsError(f"{path}: ends inside a record header")
            length, _ = HEADER.unpack(header)
            data = stream.read(length)
            if len(data) < length or len(stream.read(FOOTER_BYTES)) < FOOTER_BYTES:
                raise DamagedRecordsError(f"{path}: ends inside a record")
            yield data


def examples(split_dir: str) -> Iterator[tuple[np.ndarray, int]]:
    """(pixels as uint8 [num_pixels], label) of every example of a split, in file-name order, as
    the Trainer reads them (GZIP TFRecords of tf.Example, components/example_format.py)."""
    for path in sorted(files.glob(f"{split_dir}/*")):
        for record in records(path, gzipped=True):
            example = example_coder.ExampleToNumpyDict(record)
            yield example[IMAGE_KEY].astype(np.uint8), int(example[LABEL_KEY][0])


def events(path: str) -> Iterator[event_pb2.Event]:
    """The events of one TensorBoard event file."""
    for record in records(path, gzipped=False):
        yield event_pb2.Event.FromString(record)
