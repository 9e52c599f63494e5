"""The Trainer module's settings: the model and how it is trained.

The `training` section of the config. Each setting is a parameter of the Trainer of its own,
named as its key (components/parameters.py, components/trainer/component.py); its executor
builds the settings from them and hands them to run_fn in memory (run_fn_config), with the
format of the Examples, which the Trainer carries in its custom_config. No TensorFlow here: the
config imports it.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator
from pydantic.dataclasses import dataclass

from components.example_format import ExampleFormat
from components.settings import SETTINGS, Bounds, Flag, Float, Int, Text, from_dict, to_dict

# Setting value -> the keras.optimizers class it names.
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}
METRICS_FILE = "precision_at_1.json"  # Precision@1 per split, in the ModelRun artifact
# The first misclassified test examples, in the ModelRun artifact: [{"index", "label", "predicted"}],
# index counting the test split's records in file-name order (what the run report shows).
MISCLASSIFIED_FILE = "misclassified_test.json"
# TensorBoard logs, in the ModelRun artifact: its `train` and `validation` runs, as
# keras.callbacks.TensorBoard lays them out, so TensorBoard draws the two curves of a scalar together.
TENSORBOARD_DIR = "train"
TENSORBOARD_VALIDATION_DIR = "validation"
# How the fit went, in the ModelRun artifact: {"steps", "examples", "seconds", "first_interval_seconds"}
# (the first interval: the first log_every_steps steps, which include TensorFlow's tracing).
FIT_FILE = "fit.json"
# The keys of the dict run_fn gets as fn_args.custom_config: the TrainerSettings and the
# ExampleFormat. The Trainer's custom_config parameter holds the format only, under DATA_KEY.
TRAINING_KEY, DATA_KEY = "training", "data"
STEPS = Bounds(1, 100_000_000)  # a step takes milliseconds at least: 10^8 of them are days
# The model's weights plus one batch's activations, in float32 values: 200 MB; with the gradients
# and Adam's two slots per weight, within the Trainer's memory (kubeflow.resources.Trainer).
MAX_MODEL_VALUES = 50_000_000


def _known_optimizer(name: str) -> str:
    if name not in OPTIMIZERS:
        raise ValueError(f"must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    return name


@dataclass(frozen=True, config=SETTINGS)
class TrainerSettings:
    hidden_units: Annotated[tuple[Int, ...], Bounds(1, 65_536, items=(1, 16))]  # sizes of the dense layers
    optimizer: Annotated[Text, AfterValidator(_known_optimizer)]  # a key of OPTIMIZERS
    learning_rate: Annotated[Float, Bounds(0, 10, above_low=True)]
    cosine_decay: Flag  # decay the learning rate to 0 over train_steps
    batch_size: Annotated[Int, Bounds(1, 65_536)]
    train_steps: Annotated[Int, STEPS]
    log_every_steps: Annotated[Int, STEPS]
    checkpoint_every_steps: Annotated[Int, STEPS]
    # Loss and accuracy of the whole validation split, for TensorBoard and the report; beyond train_steps: none.
    validation_every_steps: Annotated[Int, STEPS]
    seed: Annotated[Int, Bounds(0, 2**32 - 1)]  # keras.utils.set_random_seed seeds NumPy, whose seeds are 32-bit

    @property
    def steps_per_execution(self) -> int:
        """The most steps per call into TensorFlow that still stops at every log, checkpoint and validation step."""
        return math.gcd(
            self.train_steps, self.log_every_steps, self.checkpoint_every_steps, self.validation_every_steps
        )


def size_problems(training: TrainerSettings, example_format: ExampleFormat) -> list[tuple[str, str]]:
    """The model and one batch within MAX_MODEL_VALUES: each setting's own bounds still let their
    product exhaust any machine's memory."""
    widths = [example_format.num_pixels, *training.hidden_units, example_format.num_classes]
    weights = sum(inputs * outputs + outputs for inputs, outputs in zip(widths, widths[1:]))
    activations = training.batch_size * sum(widths)
    if weights + activations <= MAX_MODEL_VALUES:
        return []
    problem = (
        f"{list(training.hidden_units)} with 'training.batch_size' {training.batch_size} and 'data.image_shape' "
        f"{list(example_format.image_shape)} make {weights:,} weights and {activations:,} activations per batch; "
        f"together they must be at most {MAX_MODEL_VALUES:,}"
    )
    return [("training.hidden_units", problem)]


def custom_config(example_format: ExampleFormat) -> dict[str, Any]:
    """What the Trainer carries in its custom_config: the format of the Examples it trains on (the
    `data` section, as the ingest carries it); the settings are parameters of their own."""
    return {DATA_KEY: to_dict(example_format)}


def read_example_format(custom_config: dict[str, Any]) -> ExampleFormat:
    """The format custom_config packed, in the Trainer's executor (TFX parsed the JSON)."""
    return from_dict(ExampleFormat, custom_config[DATA_KEY], "data.")


def run_fn_config(training: TrainerSettings, example_format: ExampleFormat) -> dict[str, Any]:
    """What run_fn gets as fn_args.custom_config, built by the executor in memory."""
    return {TRAINING_KEY: training, DATA_KEY: example_format}
