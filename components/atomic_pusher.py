"""A Pusher executor that never leaves a half-written model version behind.

TFX's Pusher copies the model straight into `<base>/<version>/`; a push that dies midway
leaves a partial version there for TensorFlow Serving to trip over. This one copies into a
hidden temporary folder (TF Serving ignores names that are not numbers) and renames it to
its version number when complete. Versions always increase, even within one second.
"""

from __future__ import annotations

import os
import time
from typing import Any

from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils


class Executor(pusher_executor.Executor):
    """Pushes a blessed model to `<base_directory>/<version>/` atomically."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        pushed_model = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(pushed_model)
            return
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        base_directory = destination.filesystem.base_directory
        version = next_version(base_directory)
        serving_path = os.path.join(base_directory, str(version))

        staging_path = os.path.join(base_directory, f".staging-{version}")
        if fileio.exists(staging_path):  # left by an earlier push that died
            fileio.rmtree(staging_path)
        io_utils.copy_dir(self.GetModelPath(input_dict), staging_path)
        fileio.rename(staging_path, serving_path)

        io_utils.copy_dir(serving_path, pushed_model.uri)
        self._MarkPushed(pushed_model, pushed_destination=serving_path, pushed_version=str(version))


def next_version(base_directory: str) -> int:
    """The Unix time in seconds, or one more than the newest existing version if that is larger."""
    existing = [int(name.rstrip("/")) for name in _list(base_directory) if name.rstrip("/").isdigit()]
    return max([int(time.time()), *(version + 1 for version in existing)])


def _list(directory: str) -> list[str]:
    return fileio.listdir(directory) if fileio.exists(directory) else []
