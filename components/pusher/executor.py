"""A Pusher executor whose serving dir always agrees with ML Metadata, whatever stops it or shares it.

TFX's Pusher copies the model straight into `<base>/<version>/`: a push that dies midway leaves
a partial version for TensorFlow Serving to trip over, two pushes in one second share a
version, and a push never checks that what it replaces is still what its model was compared
with. This one publishes under the serving dir's lock (components/serving_dir.py):

* it removes what pushes that died left (staging folders, versions without their marker);
* it publishes only if the serving dir still serves the model the validation Evaluator compared
  this one with (the blessing records it); otherwise the run stops: run again, which compares
  with the model served now;
* when the newest version already holds this model (a push whose run died before recording
  it), it records that version instead of copying the model again;
* versions are unique and increasing: the Unix time, or one more than the newest.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from components import serving_dir
from components.evaluator.executor import BASELINE_SERVED_KEY
from components.publish_lock import PublishLock
from components.pusher.properties import NEW_VERSION_KEY

log = logging.getLogger(__name__)


class Executor(pusher_executor.Executor):
    """Pushes a blessed model to `<base_directory>/<version>/` atomically, once, if the baseline still holds."""

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
        blessing = artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_BLESSING_KEY])
        compared_with = blessing.get_string_custom_property(BASELINE_SERVED_KEY) or serving_dir.NOTHING_SERVED

        with PublishLock(base_directory):
            for unfinished in serving_dir.remove_unfinished(base_directory):
                log.info("Removed %s, left by a push that was interrupted", unfinished)
            served = serving_dir.latest(base_directory)
            model_path = self.GetModelPath(input_dict)
            if served is not None and (served.model_uri, served.model_sha256) == (
                model_uri,
                serving_dir.model_digest(model_path),
            ):
                log.info("Version %d already holds this model: recorded, not copied again", served.version)
                version, serving_path, new_version = served.version, served.path, False
            else:
                served_now = serving_dir.fingerprint(served)
                if served_now != compared_with:
                    raise serving_dir.ServedModelChanged(
                        f"{base_directory}: the served model changed since this model was compared with it "
                        f"({compared_with} -> {served_now}); not pushed: run again to compare with the model served now"
                    )
                version = next_version(serving_dir.highest_number(base_directory))
                serving_path = os.path.join(base_directory, str(version))
                staging_path = os.path.join(base_directory, f"{serving_dir.STAGING_PREFIX}{version}")
                io_utils.copy_dir(model_path, staging_path)
                serving_dir.publish(staging_path, serving_path, model_uri)
                new_version = True

        io_utils.copy_dir(serving_path, pushed_model.uri)
        self._MarkPushed(pushed_model, pushed_destination=serving_path, pushed_version=str(version))
        pushed_model.set_int_custom_property(NEW_VERSION_KEY, int(new_version))


def next_version(highest_number: int | None) -> int:
    """The Unix time in seconds, or one more than the highest number in the serving dir if that is larger."""
    return max(int(time.time()), highest_number + 1 if highest_number is not None else 0)
