"""IdxExampleGen: a FileBasedExampleGen that reads the four MNIST IDX files.

Being a FileBasedExampleGen, it inherits TFX's driver: before the cache lookup the driver
fingerprints the input files (names, sizes, modification times), so new data re-runs the
ingest, and KubeflowV2DagRunner runs the same driver in the pod.
"""

from __future__ import annotations

from google.protobuf import any_pb2, struct_pb2
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2

from components.example_format import ExampleFormat
from components.idx_example_gen import executor
from components.idx_example_gen.settings import IngestSettings
from components.settings import to_dict


class IdxExampleGen(FileBasedExampleGen):
    """Reads MNIST-style IDX files into `Examples` with splits train, validation and test."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, input_base: str, settings: IngestSettings, example_format: ExampleFormat, code_sha256: str):
        """Args:
        input_base: the folder (local path or gs://, s3:// URI) holding the IDX files.
        settings, example_format: carried to the executor in the custom_config.
        code_sha256: the hash of the executor's code, so that changed code misses the cache.
        """
        # One input "split" per file: the driver fingerprints each, the executor reads each.
        # The trailing * lets NAME match NAME.gz as well.
        input_config = example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name=role, pattern=f"{name}*")
                    for role, name in settings.file_names().items()]
        )
        values = {executor.INGEST_KEY: to_dict(settings), executor.FORMAT_KEY: to_dict(example_format),
                  "code_sha256": code_sha256}
        packed = any_pb2.Any()
        packed.Pack(_struct(values))
        super().__init__(
            input_base=input_base,
            input_config=input_config,
            custom_config=example_gen_pb2.CustomConfig(custom_config=packed),
        )


def _struct(values: dict) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(values)
    return struct
