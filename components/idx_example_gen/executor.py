"""IdxExampleGen's executor: check the IDX files, then write the splits as sharded TFRecords.

The work is a Beam pipeline over shards: each shard reads its own range of records from the
IDX files and writes one GZIP TFRecord file, so memory stays flat however many images there
are, and a distributed runner (Dataflow, Flink) spreads the shards over its workers.
"""

from __future__ import annotations

import json
import os
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
from components.idx_example_gen.settings import IngestSettings
from components.object_storage import enable_s3
from components.settings import from_dict

ENCODE_CHUNK_RECORDS = 1000
INPUT_BASE_KEY, CUSTOM_CONFIG_KEY, DATA_FINGERPRINT_KEY, CODE_KEY = (
    "input_base",
    "custom_config",
    "data_fingerprint",
    "code_sha256",
)
INGEST_KEY, FORMAT_KEY = "ingest", "data"  # the custom_config's sections


def read_custom_config(custom_config_json: str) -> tuple[IngestSettings, ExampleFormat]:
    """The settings IdxExampleGen carries in its custom_config."""
    values = json.loads(custom_config_json)
    return from_dict(IngestSettings, values[INGEST_KEY], "ingest."), from_dict(
        ExampleFormat, values[FORMAT_KEY], "data."
    )


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
        checks = check_files(files, example_format)

        splits = plan_splits(
            train_records=checks["train_images"].header.count,
            test_records=checks["test_images"].header.count,
            validation_size=settings.validation_size,
            train_size=settings.train_size,
            test_size=settings.test_size,
        )
        shards = plan_shards(splits, settings.records_per_shard)
        with self._make_beam_pipeline() as pipeline:
            _ = (
                pipeline
                | "PlanShards" >> beam.Create(shards)
                # Lets a distributed runner hand the shards to different workers.
                | "Distribute" >> beam.Reshuffle()
                | "WriteShards" >> beam.Map(write_shard, files, examples.uri, settings)
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


def check_files(files: dict[str, str], example_format: ExampleFormat) -> dict[str, idx.IdxCheck]:
    """Reads each file once: its header, full length and content hash; labels in range."""
    checks = {}
    for role, path in files.items():
        is_images = role.endswith("images")
        checks[role] = idx.check_file(
            path,
            expected_dims=3 if is_images else 1,
            record_shape=example_format.image_shape if is_images else (),
            max_value=None if is_images else example_format.num_classes - 1,
            opener=_gfile_open,
        )
    for source in ("train", "test"):
        images, labels = checks[f"{source}_images"].header, checks[f"{source}_labels"].header
        if images.count != labels.count:
            raise idx.IdxFormatError(labels.path, f"{labels.count} labels but {images.path} has {images.count} images")
    return checks


def write_shard(shard: Shard, files: dict[str, str], output_uri: str, settings: IngestSettings) -> int:
    """Writes one shard file and returns its record count. Runs on a Beam worker.

    The file is written under a temporary name and renamed when complete, so a worker that
    dies midway leaves no half-written shard under the final name.
    """
    enable_s3()  # a Beam worker may be a process of its own
    encoder = example_coder.RecordBatchToExamplesEncoder()
    split_dir = os.path.join(output_uri, f"Split-{shard.split}")
    tf.io.gfile.makedirs(split_dir)
    path = os.path.join(split_dir, shard.file_name)
    options = tf.io.TFRecordOptions(compression_type="GZIP", compression_level=settings.gzip_level)
    chunks = zip(
        _records(files[f"{shard.source}_images"], 3, shard),
        _records(files[f"{shard.source}_labels"], 1, shard),
    )
    with tf.io.TFRecordWriter(path + ".tmp", options) as writer:
        for images, labels in chunks:
            for record in encoder.encode(to_record_batch(images, labels)):
                writer.write(record)
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
