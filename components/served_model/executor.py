"""ServedModel's work: copy the served version ServingProbe saw into the baseline artifact, or say none is served.

The served version is checked against its marker first (serving_dir.verify_version): a damaged
one stops the run in one line naming it, before any model is compared with it.
"""

from __future__ import annotations

import logging
from typing import Any

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components import serving_dir
from components.served_model.probe import SERVING_DIR_KEY
from components.served_model.properties import (
    FINGERPRINT_KEY,
    SERVED_KEY,
    SERVED_PATH_KEY,
    SERVED_VALIDATION_KEY,
    SERVED_VERSION_KEY,
    SOURCE_MODEL_KEY,
)

BASELINE_KEY = "baseline"

log = logging.getLogger(__name__)


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        baseline = artifact_utils.get_single_instance(output_dict[BASELINE_KEY])
        directory = exec_properties[SERVING_DIR_KEY]
        served = serving_dir.latest(directory)
        seen, now = exec_properties[FINGERPRINT_KEY], serving_dir.fingerprint(served)
        if seen != now:
            raise serving_dir.ServedModelChanged(
                f"{directory}: the served model changed while this run started ({seen} -> {now}); run again"
            )
        baseline.set_string_custom_property(FINGERPRINT_KEY, now)
        if served is None:
            log.info("Nothing is served yet in %s: the Precision@1 threshold alone will bless", directory)
            baseline.set_int_custom_property(SERVED_KEY, 0)
            return
        serving_dir.verify_version(served)
        io_utils.copy_dir(served.path, path_utils.serving_model_path(baseline.uri))
        baseline.set_int_custom_property(SERVED_KEY, 1)
        baseline.set_int_custom_property(SERVED_VERSION_KEY, served.version)
        baseline.set_string_custom_property(SERVED_PATH_KEY, served.path)
        baseline.set_string_custom_property(SOURCE_MODEL_KEY, served.model_uri or "")
        baseline.set_json_value_custom_property(SERVED_VALIDATION_KEY, served.validation.__dict__)
        log.info("Baseline: version %d in %s (model %s)", served.version, served.path, served.model_uri or "unknown")
