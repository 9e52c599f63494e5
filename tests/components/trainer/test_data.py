"""The input functions: TFRecords of tf.Example -> uint8 images and int32 labels, in order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from components.trainer import data

from .conftest import EXAMPLE_FORMAT

NUM_PIXELS = EXAMPLE_FORMAT.num_pixels


def test_read_split_parses_images_and_labels_in_order(examples_file):
    path, images, labels = examples_file
    batches = list(data.read_split(path, NUM_PIXELS))
    read_images = np.concatenate([batch[0].numpy() for batch in batches])
    read_labels = np.concatenate([batch[1].numpy() for batch in batches])
    assert read_images.dtype == np.uint8 and read_labels.dtype == np.int32
    np.testing.assert_array_equal(read_images, images.reshape(50, -1))
    np.testing.assert_array_equal(read_labels, labels)


def test_training_batches_are_endless_and_shuffled(examples_file):
    path, _, labels = examples_file
    batches = list(data.training_batches(*data.load_split(path, NUM_PIXELS), batch_size=20, seed=0).take(5))
    assert all(images.shape == (20, NUM_PIXELS) for images, _ in batches)  # 100 > 50: it repeats
    first_batches = np.concatenate([batch_labels.numpy() for _, batch_labels in batches])[:40]
    assert not np.array_equal(first_batches, labels[:40])  # shuffled, not in file order


def test_read_split_without_files_fails_clearly(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="no files match"):
        data.read_split(str(tmp_path / "Split-train" / "*"), NUM_PIXELS)


def test_load_split_holds_the_whole_split(examples_file):
    path, images, labels = examples_file
    loaded_images, loaded_labels = data.load_split(path, NUM_PIXELS)
    np.testing.assert_array_equal(loaded_images.numpy(), images.reshape(50, -1))
    np.testing.assert_array_equal(loaded_labels.numpy(), labels)
