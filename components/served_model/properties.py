"""What ServedModel records on its baseline artifact, for the Evaluator, the Pusher and the tools
that read runs (which import no TFX)."""

from __future__ import annotations

from typing import Any

# What ServingProbe saw (serving_dir.fingerprint); a parameter, and a property of the baseline.
FINGERPRINT_KEY = "served_fingerprint"
SERVED_KEY = "served"  # 1: a served model; 0: nothing was pushed yet
SERVED_VERSION_KEY = "served_version"
SERVED_PATH_KEY = "served_path"
SOURCE_MODEL_KEY = "source_model_uri"  # the Trainer's Model artifact the served version came from
# serving_dir.Validation of the served version, from its marker, as a dict
SERVED_VALIDATION_KEY = "served_validation"


def is_served(baseline: Any) -> bool:
    """False for the baseline artifact (a tfx Artifact) that says nothing was served."""
    return baseline.get_int_custom_property(SERVED_KEY) == 1
