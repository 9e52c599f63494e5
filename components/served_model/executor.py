"""ServedModel's work: copy the newest served version into the baseline artifact, or say none is served."""

from __future__ import annotations

import logging
from typing import Any

from tfx import types
from tfx.dsl.components.base import base_driver, base_executor
from tfx.orchestration.portable import data_types
from tfx.proto.orchestration import driver_output_pb2
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components import serving_dir

SERVING_DIR_KEY = "serving_dir"
CODE_KEY = "code_sha256"
FINGERPRINT_KEY = "served_fingerprint"
BASELINE_KEY = "baseline"
# Custom properties of the baseline artifact.
SERVED_KEY = "served"  # 1: a served model; 0: nothing was pushed yet
SERVED_VERSION_KEY = "served_version"
SERVED_PATH_KEY = "served_path"
SOURCE_MODEL_KEY = "source_model_uri"  # the Trainer's Model artifact the served version came from
NOTHING_SERVED = "none"

log = logging.getLogger(__name__)


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        baseline = artifact_utils.get_single_instance(output_dict[BASELINE_KEY])
        served = serving_dir.latest(exec_properties[SERVING_DIR_KEY])
        if served is None:
            log.info("Nothing is served yet in %s: the accuracy threshold alone will bless", exec_properties[SERVING_DIR_KEY])
            baseline.set_int_custom_property(SERVED_KEY, 0)
            return
        io_utils.copy_dir(served.path, path_utils.serving_model_path(baseline.uri))
        baseline.set_int_custom_property(SERVED_KEY, 1)
        baseline.set_int_custom_property(SERVED_VERSION_KEY, served.version)
        baseline.set_string_custom_property(SERVED_PATH_KEY, served.path)
        baseline.set_string_custom_property(SOURCE_MODEL_KEY, served.model_uri or "")
        log.info("Baseline: version %d in %s (model %s)", served.version, served.path, served.model_uri or "unknown")


class Driver(base_driver.BaseDriver):
    """Puts what is served now into the execution's properties, before TFX's cache lookup."""

    def run(self, execution_info: data_types.ExecutionInfo) -> driver_output_pb2.DriverOutput:
        served = serving_dir.latest(execution_info.exec_properties[SERVING_DIR_KEY])
        output = driver_output_pb2.DriverOutput()
        output.exec_properties[FINGERPRINT_KEY].string_value = served.fingerprint() if served else NOTHING_SERVED
        return output


def is_served(baseline: types.Artifact) -> bool:
    """False for the artifact that says nothing was served."""
    return baseline.get_int_custom_property(SERVED_KEY) == 1
