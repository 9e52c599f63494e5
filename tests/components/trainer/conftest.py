"""A few synthetic examples in a GZIP TFRecord file, and a small model, for the Trainer's tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
import tensorflow as tf

from components.example_format import IMAGE_KEY, LABEL_KEY, ExampleFormat
from components.trainer import model

from support.fake_mnist import balanced_labels, fake_images
from support.trainer_settings import TRAINING

EXAMPLE_FORMAT = ExampleFormat(image_shape=(28, 28), num_classes=10)
SMALL = dataclasses.replace(  # trains in a second
    TRAINING,
    hidden_units=(16, 8),
    learning_rate=0.01,
    cosine_decay=False,
    batch_size=10,
    train_steps=4,
    log_every_steps=2,
    checkpoint_every_steps=4,
    validation_every_steps=2,
    seed=1,
)


def serialized(images: np.ndarray, labels: np.ndarray) -> list[bytes]:
    return [
        tf.train.Example(
            features=tf.train.Features(
                feature={
                    IMAGE_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=image.reshape(-1).tolist())),
                    LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
                }
            )
        ).SerializeToString()
        for image, label in zip(images, labels)
    ]


@pytest.fixture(scope="session")
def examples_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, np.ndarray, np.ndarray]:
    labels = balanced_labels(50, seed=0)
    images = fake_images(labels, seed=0)
    path = str(tmp_path_factory.mktemp("examples") / "data_tfrecord-00000-of-00001.gz")
    with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
        for record in serialized(images, labels):
            writer.write(record)
    return path, images, labels


@pytest.fixture
def small_model() -> Callable[..., tf.keras.Model]:
    """Builds the model with SMALL settings and the given seed."""
    return lambda seed=1: model.build_model(EXAMPLE_FORMAT, dataclasses.replace(SMALL, seed=seed))
