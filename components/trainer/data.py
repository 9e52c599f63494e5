"""Input functions: GZIP TFRecords of tf.Example (`image`: 784 int64, `label`: int64) -> tf.data.

Records are parsed in batches (one parse_example call per 1,000 records) and pixels are kept
as uint8 (the model scales them). The training split is small (MNIST's 55,000 images take
43 MB), so it is held in memory, as the tutorial's DataSet does, and shuffled from there.
"""

from __future__ import annotations

import tensorflow as tf

from components.example_format import IMAGE_KEY, LABEL_KEY

PARSE_BATCH = 1000


def parse_examples(
    serialized: tf.Tensor, num_pixels: int, with_labels: bool = True
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """A batch of serialized tf.Examples -> (uint8 images [N, num_pixels], int32 labels [N]).

    Serving requests carry no label: with_labels=False parses the images only.
    """
    spec = {IMAGE_KEY: tf.io.FixedLenFeature([num_pixels], tf.int64)}
    if with_labels:
        spec[LABEL_KEY] = tf.io.FixedLenFeature([1], tf.int64)
    features = tf.io.parse_example(serialized, spec)
    images = tf.cast(features[IMAGE_KEY], tf.uint8)
    if not with_labels:
        return images, None
    return images, tf.cast(tf.squeeze(features[LABEL_KEY], axis=1), tf.int32)


def read_split(file_pattern: str | list[str], num_pixels: int) -> tf.data.Dataset:
    """All records of a split as batches of (images, labels), in file order."""
    files = tf.io.gfile.glob(file_pattern)
    if not files:
        raise FileNotFoundError(f"no files match {file_pattern}")
    return (
        tf.data.TFRecordDataset(sorted(files), compression_type="GZIP")
        .batch(PARSE_BATCH)
        .map(lambda serialized: parse_examples(serialized, num_pixels), num_parallel_calls=tf.data.AUTOTUNE)
    )


def load_split(file_pattern: str | list[str], num_pixels: int) -> tuple[tf.Tensor, tf.Tensor]:
    """A whole split in memory: (uint8 images [N, num_pixels], int32 labels [N])."""
    images, labels = zip(*read_split(file_pattern, num_pixels))
    return tf.concat(images, axis=0), tf.concat(labels, axis=0)


def in_memory_batches(images: tf.Tensor, labels: tf.Tensor) -> tf.data.Dataset:
    """A split held in memory as batches of (images, labels), in order, as read_split gives them."""
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(PARSE_BATCH)


def training_batches(images: tf.Tensor, labels: tf.Tensor, batch_size: int, seed: int) -> tf.data.Dataset:
    """Endless batches of (images, labels), reshuffled every epoch."""
    return (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
