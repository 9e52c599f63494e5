"""run_fn and its parts: the loss of each interval with its time, checkpoints, TensorBoard logs
of the training batches and the validation split, and the tutorial's Precision@1 figures."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tfx.components.trainer.fn_args_utils import FnArgs

from components.trainer import data, module
from components.trainer.model import ACCURACY
from components.trainer.settings import (
    METRICS_FILE,
    TENSORBOARD_DIR,
    TENSORBOARD_VALIDATION_DIR,
    run_fn_config,
)

from .conftest import EXAMPLE_FORMAT, SMALL


def train(model_run_dir: Path, examples_path: str, **changes) -> Path:
    """run_fn as TFX's Trainer calls it, with SMALL's settings changed by `changes`, on one
    file standing for every split."""
    settings = dataclasses.replace(SMALL, **changes)
    module.run_fn(
        FnArgs(
            train_files=[examples_path],
            eval_files=[examples_path, examples_path],
            model_run_dir=str(model_run_dir),
            serving_model_dir=str(model_run_dir.parent / f"{model_run_dir.name}-serving"),
            custom_config=run_fn_config(settings, EXAMPLE_FORMAT),
        )
    )
    return model_run_dir


def scalars(logs_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """TensorBoard tag -> (step, value) of the event files in one run's folder."""
    found: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(logs_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
    return found


def test_run_fn_writes_the_validation_curve_beside_the_training_curve(tmp_path: Path, examples_file):
    """TensorBoard's `validation` run beside `train`, with the same tags, so TensorBoard draws
    them together; at the last step the accuracy is the validation Precision@1 run_fn reports."""
    model_run = train(tmp_path / "model_run", examples_file[0])
    validation = scalars(model_run / TENSORBOARD_VALIDATION_DIR)
    assert set(validation) == set(scalars(model_run / TENSORBOARD_DIR)) == {"loss", ACCURACY}
    assert [step for step, _ in validation["loss"]] == [step for step, _ in validation[ACCURACY]] == [2, 4]
    reported = json.loads((model_run / METRICS_FILE).read_text())["validation"]["precision_at_1"]
    assert validation[ACCURACY][-1][1] == pytest.approx(reported)
    assert all(loss > 0 for _, loss in validation["loss"])


def test_validation_leaves_the_training_unchanged(tmp_path: Path, examples_file, small_model):
    """The same seed and data order with the validation curve as without: the same weights."""
    with_curve = train(tmp_path / "every_2_steps", examples_file[0])
    without = train(tmp_path / "never", examples_file[0], validation_every_steps=SMALL.train_steps + 2)
    assert scalars(with_curve / TENSORBOARD_VALIDATION_DIR) and not scalars(without / TENSORBOARD_VALIDATION_DIR)
    weights = []
    for model_run in (with_curve, without):
        trained = small_model()
        trained.load_weights(model_run / "checkpoints" / f"step-{SMALL.train_steps:06d}.weights.h5")
        weights.append(trained.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*weights, strict=True))
    assert (with_curve / METRICS_FILE).read_text() == (without / METRICS_FILE).read_text()


def test_progress_logs_the_mean_loss_of_each_interval(tmp_path: Path, caplog, small_model):
    progress = module.TrainingProgress(SMALL, str(tmp_path))
    progress.set_model(small_model())
    # Keras passes running means since the epoch started: steps' losses 4, 2, 1, 1.
    running_means = [4.0, 3.0, 7 / 3, 2.0]
    with caplog.at_level(logging.INFO, logger=module.__name__):
        for batch, mean in enumerate(running_means):
            progress.on_train_batch_end(batch, {"loss": mean, ACCURACY: 0.5})
    lines = [record.getMessage() for record in caplog.records if record.getMessage().startswith("Step")]
    assert [line.split(" (")[0] for line in lines] == ["Step 2: loss = 3.0000", "Step 4: loss = 1.0000"]
    assert (tmp_path / "checkpoints" / "step-000004.weights.h5").is_file()
    assert list((tmp_path / "train").glob("events.out.tfevents.*"))


def test_precision_at_1_counts_correct_top_classes(examples_file, small_model):
    path, _, labels = examples_file
    built = small_model()
    figures = module.precision_at_1(*module.predict_classes(built, data.read_split(path, EXAMPLE_FORMAT.num_pixels)))
    batches = data.read_split(path, EXAMPLE_FORMAT.num_pixels)
    predicted = built.predict(np.concatenate([b[0].numpy() for b in batches]), verbose=0)
    assert figures["num_examples"] == 50
    assert figures["num_correct"] == int(np.sum(predicted.argmax(axis=1) == labels))
    assert figures["precision_at_1"] == pytest.approx(figures["num_correct"] / 50)


def test_misclassified_lists_the_first_wrong_top_classes_in_split_order():
    labels = np.array([3, 1, 4, 1, 5, 9])
    classes = np.array([3, 7, 4, 2, 5, 0])
    assert module.misclassified(labels, classes, limit=2) == [
        {"index": 1, "label": 1, "predicted": 7},
        {"index": 3, "label": 1, "predicted": 2},
    ]
