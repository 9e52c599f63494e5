"""A Pusher executor whose serving dir always agrees with ML Metadata, whatever stops it or shares it.

TFX's Pusher copies the model straight into `<base>/<version>/`: a push that dies midway leaves
a partial version for TensorFlow Serving to trip over, two pushes in one second share a
version, a push never checks that what it replaces is still what its model was compared
with, nor that the model is still what the Trainer wrote. This one:

* checks the model's files against what the Trainer recorded (components/model_integrity.py)
  before anything, and the copy it publishes against the same record before its marker;
* publishes under the serving dir's lock (components/serving_dir.py), where it removes what
  pushes that died left (staging folders, versions without their marker);
* publishes if the serving dir still serves the model the validation Evaluator compared this one
  with (the blessing records it). If another push published since, it compares again with the
  model served now, by the validation figures that model's marker carries: on the same
  validation data, the candidate still passes if it is within the tolerance of the best model
  served; otherwise (or on other data) the run stops in one line: run again, which compares
  with the model served now;
* when the newest version already holds this model, by content (a push whose run died before
  recording it), it records that version, once checked, instead of copying the model again;
* versions are unique and increasing: the Unix time, or one more than the newest;
* an interrupt before the publish ends the push with nothing published (what the copy left is
  removed by the next push); a publish begun ends and is recorded first (components/interruption.py).
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

from components import interruption, model_integrity, serving_dir
from components.evaluator.settings import BASELINE_SERVED_KEY, TOLERANCE_KEY, VALIDATION_KEY
from components.publish_lock import PublishLock
from components.pusher.properties import NEW_VERSION_KEY

log = logging.getLogger(__name__)


class Executor(pusher_executor.Executor):
    """Pushes a blessed, unchanged model to `<base_directory>/<version>/` atomically, once, if it
    passes against the model served then."""

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
        model = artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_KEY])
        recorded = model_integrity.verify(model)
        model_sha256 = model_integrity.digest(recorded)
        blessing = artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_BLESSING_KEY])

        with PublishLock(base_directory):
            for unfinished in serving_dir.remove_unfinished(base_directory):
                log.info("Removed %s, left by a push that was interrupted", unfinished)
            served = serving_dir.latest(base_directory)
            if served is not None and (served.model_uri, served.model_sha256) == (model.uri, model_sha256):
                serving_dir.verify_version(served)
                log.info("Version %d already holds this model: recorded, not copied again", served.version)
                version, serving_path, new_version = served.version, served.path, False
            else:
                validation = validation_against(blessing, served, base_directory)
                version = next_version(serving_dir.highest_number(base_directory))
                serving_path = os.path.join(base_directory, str(version))
                staging_path = os.path.join(base_directory, f"{serving_dir.STAGING_PREFIX}{version}")
                io_utils.copy_dir(model_integrity.saved_model_dir(model), staging_path)
                with interruption.publishing():  # no publish after an interrupt, and none cut short by one
                    serving_dir.publish(staging_path, serving_path, model.uri, recorded, validation)
                new_version = True

        io_utils.copy_dir(serving_path, pushed_model.uri)
        self._MarkPushed(pushed_model, pushed_destination=serving_path, pushed_version=str(version))
        pushed_model.set_int_custom_property(NEW_VERSION_KEY, int(new_version))
        pushed_model.set_string_custom_property(model_integrity.DIGEST_PROPERTY, model_sha256)


def validation_against(
    blessing: types.Artifact, served: serving_dir.ServedVersion | None, base_directory: str
) -> serving_dir.Validation:
    """The candidate's Validation for its marker, its best counted against `served`, the model
    served now. ServedModelChanged, in one line, when `served` is not the model the candidate
    was compared with and the candidate does not pass against it."""
    candidate = serving_dir.Validation.from_property(blessing.get_json_value_custom_property(VALIDATION_KEY))
    compared_with = blessing.get_string_custom_property(BASELINE_SERVED_KEY) or serving_dir.NOTHING_SERVED
    served_now = serving_dir.fingerprint(served)
    best_served = served.validation.best_on(candidate.data_sha256) if served else None
    if served_now != compared_with:
        changed = (
            f"{base_directory}: the served model changed since this model was compared with it "
            f"({compared_with} -> {served_now})"
        )
        refused = refusal(candidate, served, best_served, blessing.get_float_custom_property(TOLERANCE_KEY))
        if refused:
            raise serving_dir.ServedModelChanged(
                f"{changed}; {refused}; not pushed: run again to compare with the model served now"
            )
        log.info("%s; compared again: %s", changed, "it passes" if served else "nothing is served now")
    return serving_dir.Validation.measured(candidate.data_sha256, candidate.precision_at_1, best_served)


def refusal(
    candidate: serving_dir.Validation,
    served: serving_dir.ServedVersion | None,
    best_served: float | None,
    tolerance: float,
) -> str | None:
    """Why a candidate does not pass against `served`, which it was not compared with; None if it passes.
    Its floor it passed already; the rest is the blessing's rule on the figures `served`'s marker carries."""
    if served is None:
        return None
    if best_served is None:
        return f"version {served.version} was not evaluated on this model's validation data"
    if candidate.precision_at_1 < best_served - tolerance:
        return (
            f"this model's validation Precision@1 {candidate.precision_at_1:.4f} is more than {tolerance} below "
            f"{best_served:.4f}, the best served (version {served.version})"
        )
    return None


def next_version(highest_number: int | None) -> int:
    """The Unix time in seconds, or one more than the highest number in the serving dir if that is larger."""
    version = max(int(time.time()), highest_number + 1 if highest_number is not None else 0)
    if version > serving_dir.MAX_VERSION:
        raise serving_dir.DamagedVersion(
            f"version {highest_number} is the highest number TF Serving takes: no version can follow it"
        )
    return version
