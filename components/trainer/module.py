"""The Trainer's module: run_fn trains the MLP, reports Precision@1 per split, exports the model.

While it trains, TensorBoard gets the loss and accuracy of the training batches (TrainingProgress)
and, every validation_every_steps, of the whole validation split (ValidationCurve): over-fitting
shows as the two curves part.

It also records the first misclassified test examples (MISCLASSIFIED_FILE), since it has just
predicted the whole test split: the run report shows their images without loading the model.

The settings and the Examples' format come as fn_args.custom_config, which the Trainer's
executor builds from its parameters (components/trainer/executor.py); train_files is the
train split, eval_files the validation and test splits, in that order.
"""

from __future__ import annotations

import json
import logging
import os
import time

import keras
import numpy as np
import tensorflow as tf
from tfx.components.trainer.fn_args_utils import FnArgs

from components.example_format import ExampleFormat
from components.trainer.data import in_memory_batches, load_split, read_split, training_batches
from components.trainer.model import ACCURACY, build_model, export_serving_model
from components.trainer.settings import (
    DATA_KEY,
    FIT_FILE,
    METRICS_FILE,
    MISCLASSIFIED_FILE,
    TENSORBOARD_DIR,
    TENSORBOARD_VALIDATION_DIR,
    TRAINING_KEY,
    TrainerSettings,
)

log = logging.getLogger(__name__)
MISCLASSIFIED_KEPT = 50  # misclassified test examples recorded for the run report


def run_fn(fn_args: FnArgs) -> None:
    """TFX Trainer entry point."""
    settings: TrainerSettings = fn_args.custom_config[TRAINING_KEY]
    example_format: ExampleFormat = fn_args.custom_config[DATA_KEY]
    # What the run set (a Kubeflow run may set both), in its log.
    log.info("Training %d steps, learning rate %g", settings.train_steps, settings.learning_rate)
    model = build_model(example_format, settings)
    started = time.monotonic()
    validation_files, test_files = fn_args.eval_files
    train_images, train_labels = load_split(fn_args.train_files, example_format.num_pixels)
    validation = read_split(validation_files, example_format.num_pixels).cache()  # read once, kept in memory
    log.info("Read %d training examples in %.2f s", len(train_labels), time.monotonic() - started)

    train_data = training_batches(train_images, train_labels, settings.batch_size, settings.seed)
    progress = TrainingProgress(settings, fn_args.model_run_dir)
    validation_curve = ValidationCurve(settings.validation_every_steps, fn_args.model_run_dir, validation)
    started = time.monotonic()
    model.fit(
        train_data,
        epochs=1,
        steps_per_epoch=settings.train_steps,
        callbacks=[progress, validation_curve],
        verbose=0,
    )
    fit_seconds = time.monotonic() - started
    fit = {
        "steps": settings.train_steps,
        "examples": settings.train_steps * settings.batch_size,
        "seconds": round(fit_seconds, 3),
        "first_interval_seconds": progress.first_interval_seconds,
    }
    _write_json(os.path.join(fn_args.model_run_dir, FIT_FILE), fit)
    log.info(
        "Trained %d steps in %.2f s (%.0f examples/s)",
        settings.train_steps,
        fit_seconds,
        settings.train_steps * settings.batch_size / fit_seconds,
    )

    splits = {
        "train": in_memory_batches(train_images, train_labels),
        "validation": validation,
        "test": read_split(test_files, example_format.num_pixels),
    }
    predictions = {split: predict_classes(model, batches) for split, batches in splits.items()}
    report = {split: precision_at_1(*labels_and_classes) for split, labels_and_classes in predictions.items()}
    for split, figures in report.items():
        log.info(
            "%s data eval: Num examples: %d  Num correct: %d  Precision @ 1: %.4f",
            split.capitalize(),
            figures["num_examples"],
            figures["num_correct"],
            figures["precision_at_1"],
        )
    _write_json(os.path.join(fn_args.model_run_dir, METRICS_FILE), report)
    _write_json(
        os.path.join(fn_args.model_run_dir, MISCLASSIFIED_FILE),
        misclassified(*predictions["test"], limit=MISCLASSIFIED_KEPT),
    )
    export_serving_model(model, fn_args.serving_model_dir, example_format.image_shape)


class TrainingProgress(keras.callbacks.Callback):
    """Every log_every_steps: `Step N: loss = X (T sec)` and TensorBoard scalars; checkpoints.

    Keras reports running means since the start of the epoch; the mean over the last interval
    is recovered from two of them, so the loss printed is that of the last N steps only.
    """

    def __init__(self, settings: TrainerSettings, model_run_dir: str):
        super().__init__()
        self._settings = settings
        self._checkpoint_dir = os.path.join(model_run_dir, "checkpoints")
        self._writer = tf.summary.create_file_writer(os.path.join(model_run_dir, TENSORBOARD_DIR))
        self._last_step, self._last_sums = 0, {"loss": 0.0, ACCURACY: 0.0}
        self._last_time = time.monotonic()
        self.first_interval_seconds: float | None = None

    def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        step = batch + 1
        last_step = step == self._settings.train_steps
        if step % self._settings.log_every_steps == 0 or last_step:
            self._log_interval(step, logs or {})
        if step % self._settings.checkpoint_every_steps == 0 or last_step:
            tf.io.gfile.makedirs(self._checkpoint_dir)
            self.model.save_weights(os.path.join(self._checkpoint_dir, f"step-{step:06d}.weights.h5"))

    def _log_interval(self, step: int, logs: dict[str, float]) -> None:
        steps = step - self._last_step
        sums = {name: float(logs[name]) * step for name in self._last_sums}
        means = {name: (sums[name] - self._last_sums[name]) / steps for name in sums}
        now = time.monotonic()
        log.info("Step %d: loss = %.4f (%.2f sec)", step, means["loss"], now - self._last_time)
        if self.first_interval_seconds is None:
            self.first_interval_seconds = round(now - self._last_time, 3)
        with self._writer.as_default(step=step):
            for name, value in means.items():
                tf.summary.scalar(name, value)
        self._writer.flush()
        self._last_step, self._last_sums, self._last_time = step, sums, now


class ValidationCurve(keras.callbacks.Callback):
    """Every `every_steps` steps: the loss and accuracy of the whole validation split, as TensorBoard
    scalars in the `validation` run beside `train`, under the training curve's tags, as
    keras.callbacks.TensorBoard writes its validation logs.

    Keras validates only at the end of an epoch (fit's validation_data) and this fit is one epoch;
    model.evaluate within it would reset the metrics TrainingProgress reads. So the model predicts
    and the compiled loss and Keras' accuracy score it: the weights, the data order and the random
    state the training uses are left as they were.
    """

    def __init__(self, every_steps: int, model_run_dir: str, batches: tf.data.Dataset):
        super().__init__()
        self._every_steps = every_steps
        self._batches = batches
        self._writer = tf.summary.create_file_writer(os.path.join(model_run_dir, TENSORBOARD_VALIDATION_DIR))

    def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        step = batch + 1
        if step % self._every_steps:
            return
        labels, logits = predict_logits(self.model, self._batches)
        if not len(labels):
            return  # an empty validation split (ingest.validation_size 0) has no curve
        accuracy = keras.metrics.SparseCategoricalAccuracy()
        accuracy.update_state(labels, logits)
        scores = {"loss": float(self.model.loss(labels, logits)), ACCURACY: float(accuracy.result())}
        log.info("Step %d: validation loss = %.4f, accuracy = %.4f", step, scores["loss"], scores[ACCURACY])
        with self._writer.as_default(step=step):
            for name, value in scores.items():
                tf.summary.scalar(name, value)
        self._writer.flush()


def predict_logits(model: keras.Model, batches: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, logits) of every example of a split, in the split's order."""
    labels = [np.zeros([0], np.int64)]  # an empty split has none
    logits = [np.zeros([0, model.output_shape[-1]], np.float32)]
    for images, batch_labels in batches:
        labels.append(batch_labels.numpy())
        logits.append(model.predict_on_batch(images))
    return np.concatenate(labels).astype(np.int64), np.concatenate(logits)


def predict_classes(model: keras.Model, batches: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, top predicted classes) of every example of a split, in the split's order."""
    labels, logits = predict_logits(model, batches)
    return labels, np.argmax(logits, axis=1).astype(np.int64)


def precision_at_1(labels: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    """The tutorial's figures: how many examples, how many the top class got right, the ratio."""
    num_examples, num_correct = len(labels), int(np.sum(classes == labels))
    return {
        "num_examples": num_examples,
        "num_correct": num_correct,
        "precision_at_1": num_correct / num_examples if num_examples else 0.0,
    }


def misclassified(labels: np.ndarray, classes: np.ndarray, limit: int) -> list[dict[str, int]]:
    """The first `limit` examples whose top class is not the label: their index in the split, label and class."""
    [wrong] = np.nonzero(classes != labels)
    return [
        {"index": int(index), "label": int(labels[index]), "predicted": int(classes[index])} for index in wrong[:limit]
    ]


def _write_json(path: str, value: object) -> None:
    with tf.io.gfile.GFile(path, "w") as json_file:
        json.dump(value, json_file, indent=2)
