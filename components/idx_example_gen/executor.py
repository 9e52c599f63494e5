"""IdxExampleGen's executor: check the IDX files, then write the splits as sharded TFRecords.

The work is a Beam pipeline over shards: each shard reads its own range of records from the
IDX files and writes one GZIP TFRecord file, so memory stays flat however many images there
are, and a distributed runner (Dataflow, Flink) spreads the shards over its workers.

So each file is read twice, by the check and by its shards, and may be replaced or rewritten in
between (or before the check, after DataProbe hashed it for the cache key). What the Examples
record must be what they hold, so the check hashes each shard's records as well as the whole
file, each shard hashes the records it converted before its file takes its final name, and the
file's hash must be DataProbe's: a file that changed during the ingest fails it in one line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow as tf
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx_bsl.coders import example_coder

from components import examples_integrity
from components.example_format import IMAGE_KEY, LABEL_KEY, ExampleFormat
from components.idx_example_gen import idx
from components.idx_example_gen.layout import Shard, locate_idx_file, plan_shards, plan_splits
from components.idx_example_gen.settings import IngestSettings, idx_dims
from components.object_storage import enable_s3
from components.settings import from_dict

ENCODE_CHUNK_RECORDS = 1000
INPUT_BASE_KEY, CUSTOM_CONFIG_KEY, DATA_FINGERPRINT_KEY = "input_base", "custom_config", "data_fingerprint"
INGEST_KEY, FORMAT_KEY = "ingest", "data"  # the custom_config's sections


def read_custom_config(custom_config_json: str) -> tuple[IngestSettings, ExampleFormat]:
    """The settings IdxExampleGen carries in its custom_config."""
    values = json.loads(custom_config_json)
    return from_dict(IngestSettings, values[INGEST_KEY], "ingest."), from_dict(
        ExampleFormat, values[FORMAT_KEY], "data."
    )


class InputChanged(idx.IdxFormatError):
    """An IDX file changed while the ingest read it."""

    def __init__(self, path: str, when: str):
        super().__init__(path, f"changed {when}; run again once the data dir holds the files it should")


class Executor(base_beam_executor.BaseBeamExecutor):
    """Checks the four IDX files and writes train/validation/test as tf.Example TFRecords."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        settings, example_format = read_custom_config(exec_properties[CUSTOM_CONFIG_KEY])
        files = {
            role: locate_idx_file(exec_properties[INPUT_BASE_KEY], name, tf.io.gfile.exists)
            for role, name in settings.file_names().items()
        }
        headers = {role: idx.read_file_header(path, idx_dims(role), opener=_gfile_open) for role, path in files.items()}
        splits = plan_splits(
            train_records=headers["train_images"].count,
            test_records=headers["test_images"].count,
            validation_size=settings.validation_size,
            train_size=settings.train_size,
            test_size=settings.test_size,
        )
        shards = plan_shards(splits, settings.records_per_shard)
        checks = check_files(files, example_format, shards)
        check_unchanged(checks, headers, json.loads(exec_properties[DATA_FINGERPRINT_KEY]))
        shard_sha256 = {
            (role, *record_range): sha256
            for role, check in checks.items()
            for record_range, sha256 in check.range_sha256.items()
        }
        with self._make_beam_pipeline() as pipeline:
            _ = (
                pipeline
                | "PlanShards" >> beam.Create(shards)
                # Lets a distributed runner hand the shards to different workers.
                | "Distribute" >> beam.Reshuffle()
                | "WriteShards" >> beam.Map(write_shard, files, examples.uri, settings, shard_sha256)
            )

        examples.split_names = artifact_utils.encode_split_names([split.name for split in splits])
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, "tfrecords_gzip")
        for role, check in checks.items():
            examples.set_string_custom_property(f"input_file_{role}", os.path.basename(files[role]))
            examples.set_string_custom_property(f"input_sha256_{role}", check.sha256)
        for split in splits:
            examples.set_int_custom_property(f"num_examples_{split.name}", split.size)
        examples_integrity.record(examples)


def check_files(
    files: dict[str, str], example_format: ExampleFormat, shards: Sequence[Shard] = ()
) -> dict[str, idx.IdxCheck]:
    """Reads each file once: its header, full length and hashes (the whole file's and each of its
    shards' records'); labels in range."""
    checks = {}
    for role, path in files.items():
        is_images = role.endswith("images")
        checks[role] = idx.check_file(
            path,
            expected_dims=idx_dims(role),
            record_shape=example_format.image_shape if is_images else (),
            max_value=None if is_images else example_format.num_classes - 1,
            opener=_gfile_open,
            record_ranges=[(shard.start, shard.stop) for shard in shards if role.startswith(f"{shard.source}_")],
        )
    for source in ("train", "test"):
        images, labels = checks[f"{source}_images"].header, checks[f"{source}_labels"].header
        if images.count != labels.count:
            raise idx.IdxFormatError(labels.path, f"{labels.count} labels but {images.path} has {images.count} images")
    return checks


def check_unchanged(checks: dict[str, idx.IdxCheck], headers: dict[str, idx.IdxHeader], seen: dict[str, str]) -> None:
    """Each file the check read is the one whose header planned the shards and whose hash DataProbe
    saw (`seen`: its output, {file name: SHA-256 of the bytes as stored})."""
    for role, check in checks.items():
        path = check.header.path
        if check.header != headers[role]:
            raise InputChanged(path, "while the ingest read it (its header changed)")
        if seen.get(os.path.basename(path)) != check.file_sha256:
            raise InputChanged(path, "after DataProbe hashed it for this run, before the ingest read it")


def write_shard(
    shard: Shard,
    files: dict[str, str],
    output_uri: str,
    settings: IngestSettings,
    shard_sha256: dict[tuple[str, int, int], str],
) -> int:
    """Writes one shard file and returns its record count. Runs on a Beam worker.

    The file is written under a temporary name and renamed when complete, so a worker that
    dies midway leaves no half-written shard under the final name; and only if the records it
    converted are those the check hashed (`shard_sha256`: by role, start and stop).
    """
    enable_s3()  # a Beam worker may be a process of its own
    encoder = example_coder.RecordBatchToExamplesEncoder()
    split_dir = os.path.join(output_uri, f"Split-{shard.split}")
    tf.io.gfile.makedirs(split_dir)
    path = os.path.join(split_dir, shard.file_name)
    options = tf.io.TFRecordOptions(compression_type="GZIP", compression_level=settings.gzip_level)
    roles = (f"{shard.source}_images", f"{shard.source}_labels")
    digests = {role: idx.records_sha256() for role in roles}
    chunks = zip(*(_records(files[role], idx_dims(role), shard) for role in roles))
    with tf.io.TFRecordWriter(path + ".tmp", options) as writer:
        for images, labels in chunks:
            digests[roles[0]].update(images)
            digests[roles[1]].update(labels)
            for record in encoder.encode(to_record_batch(images, labels)):
                writer.write(record)
    for role, digest in digests.items():
        if digest.hexdigest() != shard_sha256[(role, shard.start, shard.stop)]:
            tf.io.gfile.remove(path + ".tmp")
            raise InputChanged(files[role], f"while the ingest read it (records {shard.start}..{shard.stop})")
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)
    return shard.stop - shard.start


def to_record_batch(images: np.ndarray, labels: np.ndarray) -> pa.RecordBatch:
    """Images [N, rows, cols] and labels [N] as columns `image` (flattened) and `label`, int64."""
    count = len(images)
    pixels_per_image = int(np.prod(images.shape[1:]))
    image = pa.LargeListArray.from_arrays(
        pa.array(np.arange(0, count * pixels_per_image + 1, pixels_per_image, dtype=np.int64)),
        pa.array(images.reshape(-1).astype(np.int64)),
    )
    label = pa.LargeListArray.from_arrays(
        pa.array(np.arange(count + 1, dtype=np.int64)), pa.array(labels.astype(np.int64))
    )
    return pa.RecordBatch.from_arrays([image, label], [IMAGE_KEY, LABEL_KEY])


def _records(path: str, dims: int, shard: Shard):
    return idx.iter_records(path, dims, shard.start, shard.stop, ENCODE_CHUNK_RECORDS, opener=_gfile_open)


def _gfile_open(path: str):
    return tf.io.gfile.GFile(path, "rb")
