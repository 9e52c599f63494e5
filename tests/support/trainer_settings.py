"""The TrainerSettings the tests start from: configs/pipeline.yaml's `training` section as the
config loads it. A test that needs other values changes them with dataclasses.replace."""

from __future__ import annotations

from components.trainer.settings import TrainerSettings
from pipeline.config import load_config

TRAINING: TrainerSettings = load_config().training
