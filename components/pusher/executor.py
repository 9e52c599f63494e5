"""A Pusher executor whose serving dir always agrees with ML Metadata, whatever stops it.

TFX's Pusher copies the model straight into `<base>/<version>/`; a push that dies midway
leaves a partial version there for TensorFlow Serving to trip over, and one that dies after
the copy leaves a version that MLMD never recorded. This one copies into a staging folder,
marks the copy with the model it came from (components/serving_dir.py), and renames it to its
version number when complete (on object storage, where a rename is a copy, the marker is
written after it, so that it never vouches for a partial version). A later push of the model that the newest version already holds
records that version instead of copying it again, so an interrupted push is neither
duplicated nor left unrecorded; stale staging folders are removed. Versions always increase.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from components import serving_dir
from components.object_storage import is_uri

log = logging.getLogger(__name__)


class Executor(pusher_executor.Executor):
    """Pushes a blessed model to `<base_directory>/<version>/` atomically, once."""

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
        model_uri = artifact_utils.get_single_uri(input_dict[standard_component_specs.MODEL_KEY])

        for stale in serving_dir.remove_stale_staging(base_directory):
            log.info("Removed %s, left by a push that was interrupted", stale)
        served = serving_dir.latest(base_directory)
        if served is not None and served.model_uri == model_uri:
            log.info("Version %d already holds this model (an earlier push was not recorded): recording it",
                     served.version)
            version, serving_path = served.version, served.path
        else:
            version = next_version(base_directory)
            serving_path = os.path.join(base_directory, str(version))
            staging_path = os.path.join(base_directory, f"{serving_dir.STAGING_PREFIX}{version}")
            io_utils.copy_dir(self.GetModelPath(input_dict), staging_path)
            if is_uri(base_directory):  # an object store's rename is a copy: the marker only once it is whole
                fileio.rename(staging_path, serving_path)
                serving_dir.write_marker(serving_path, model_uri)
            else:  # an atomic rename: the version appears with its marker
                serving_dir.write_marker(staging_path, model_uri)
                fileio.rename(staging_path, serving_path)

        io_utils.copy_dir(serving_path, pushed_model.uri)
        self._MarkPushed(pushed_model, pushed_destination=serving_path, pushed_version=str(version))


def next_version(base_directory: str) -> int:
    """The Unix time in seconds, or one more than the newest existing version if that is larger."""
    return max([int(time.time()), *(version + 1 for version in serving_dir.versions(base_directory))])
