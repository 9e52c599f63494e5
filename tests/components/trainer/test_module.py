"""run_fn's parts: the loss of each interval with its time, checkpoints, TensorBoard logs, and
the tutorial's Precision@1 figures."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from components.trainer import data, module
from components.trainer.model import BATCH_ACCURACY

from .conftest import EXAMPLE_FORMAT, SMALL


def test_progress_logs_the_mean_loss_of_each_interval(tmp_path: Path, caplog, small_model):
    progress = module.TrainingProgress(SMALL, str(tmp_path))
    progress.set_model(small_model())
    # Keras passes running means since the epoch started: steps' losses 4, 2, 1, 1.
    running_means = [4.0, 3.0, 7 / 3, 2.0]
    with caplog.at_level(logging.INFO, logger=module.__name__):
        for batch, mean in enumerate(running_means):
            progress.on_train_batch_end(batch, {"loss": mean, BATCH_ACCURACY: 0.5})
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
