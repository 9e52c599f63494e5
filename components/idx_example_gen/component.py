"""IdxExampleGen: a FileBasedExampleGen that reads the four MNIST IDX files.

Being a FileBasedExampleGen, it inherits TFX's driver: before the cache lookup the driver
fingerprints the input files (names, sizes, modification times), so new data re-runs the
ingest, and KubeflowV2DagRunner runs the same driver in the pod.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import any_pb2, struct_pb2
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from components.idx_example_gen import executor
from components.idx_example_gen.layout import IDX_ROLES


class IdxExampleGen(FileBasedExampleGen):
    """Reads MNIST-style IDX files into `Examples` with splits train, validation and test."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, input_base: str, file_names: dict[str, str], settings: dict[str, Any]):
        """Args:
        input_base: the folder (local path or gs://, s3:// URI) holding the IDX files.
        file_names: the file of each role in IDX_ROLES, without a `.gz` suffix.
        settings: image_shape, num_classes, validation_size, train_size, test_size,
            records_per_shard, gzip_level and code_sha256 (see executor.IngestSettings).
        """
        # One input "split" per file: the driver fingerprints each, the executor reads each.
        # The trailing * lets NAME match NAME.gz as well.
        input_config = example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name=role, pattern=f"{file_names[role]}*") for role in IDX_ROLES]
        )
        packed = any_pb2.Any()
        packed.Pack(_to_struct(settings))
        super().__init__(
            input_base=input_base,
            input_config=input_config,
            custom_config=example_gen_pb2.CustomConfig(custom_config=packed),
        )


def _to_struct(settings: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(settings)
    return struct
