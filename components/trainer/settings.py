"""The Trainer module's settings: the model and how it is trained.

The `training` section of the config; the Trainer carries it in its custom_config and run_fn
rebuilds it (components.settings.from_dict). No TensorFlow here: the config imports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from components.example_format import ExampleFormat
from components.settings import from_dict, to_dict

# Setting value -> the keras.optimizers class it names.
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}
METRICS_FILE = "precision_at_1.json"  # Precision@1 per split, in the ModelRun artifact
# The first misclassified test examples, in the ModelRun artifact: [{"index", "label", "predicted"}],
# index counting the test split's records in file-name order (what the run report shows).
MISCLASSIFIED_FILE = "misclassified_test.json"
TENSORBOARD_DIR = "train"  # TensorBoard logs, in the ModelRun artifact
# How the fit went, in the ModelRun artifact: {"steps", "examples", "seconds", "first_interval_seconds"}
# (the first interval: the first log_every_steps steps, which include TensorFlow's tracing).
FIT_FILE = "fit.json"


@dataclass(frozen=True)
class TrainerSettings:
    hidden_units: tuple[int, ...]
    optimizer: str  # a key of OPTIMIZERS
    learning_rate: float
    cosine_decay: bool  # decay the learning rate to 0 over train_steps
    batch_size: int
    train_steps: int
    log_every_steps: int
    checkpoint_every_steps: int
    seed: int

    @property
    def steps_per_execution(self) -> int:
        """The most steps per call into TensorFlow that still stops at every log and checkpoint step."""
        return math.gcd(self.train_steps, self.log_every_steps, self.checkpoint_every_steps)

    def problems(self) -> list[tuple[str, str]]:
        positive = ("batch_size", "train_steps", "log_every_steps", "checkpoint_every_steps", "learning_rate")
        found = [(name, f"must be > 0, got {getattr(self, name)}") for name in positive if getattr(self, name) <= 0]
        if not self.hidden_units or min(self.hidden_units) <= 0:
            found.append(("hidden_units", f"must be positive sizes, got {list(self.hidden_units)}"))
        if self.optimizer not in OPTIMIZERS:
            found.append(("optimizer", f"must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"))
        return found


def custom_config(training: TrainerSettings, example_format: ExampleFormat, code_sha256: str) -> dict[str, Any]:
    """What the Trainer carries to run_fn; the code's hash makes changed code miss the cache."""
    return {"training": to_dict(training), "data": to_dict(example_format), "code_sha256": code_sha256}


def read_custom_config(values: dict[str, Any]) -> tuple[TrainerSettings, ExampleFormat]:
    """The settings `custom_config` packed, rebuilt in run_fn."""
    return from_dict(TrainerSettings, values["training"], "training."), from_dict(
        ExampleFormat, values["data"], "data."
    )
