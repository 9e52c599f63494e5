"""Input functions: GZIP TFRecords of tf.Example (`image`: 784 int64, `label`: int64) -> tf.data.

Records are parsed in batches (one parse_example call per 1,000 records), pixels are kept as
uint8 (the model scales them), and a split is cached in memory after the first pass: MNIST's
55,000 training images take 43 MB.
"""

from __future__ import annotations

import tensorflow as tf

IMAGE_KEY = "image"
LABEL_KEY = "label"
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
    """All records of a split as batches of (images, labels), in file order, cached."""
    files = tf.io.gfile.glob(file_pattern)
    if not files:
        raise FileNotFoundError(f"no files match {file_pattern}")
    return (
        tf.data.TFRecordDataset(sorted(files), compression_type="GZIP")
        .batch(PARSE_BATCH)
        .map(lambda serialized: parse_examples(serialized, num_pixels), num_parallel_calls=tf.data.AUTOTUNE)
        .cache()
    )


def training_dataset(
    file_pattern: str | list[str], num_pixels: int, batch_size: int, seed: int, shuffle_buffer: int = 60_000
) -> tf.data.Dataset:
    """Endless, shuffled batches of (images, labels) for training."""
    return (
        read_split(file_pattern, num_pixels)
        .unbatch()
        .shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
