"""pipeline/inspect/records.py reads what TensorFlow writes: GZIP TFRecords of tf.Example and
TensorBoard event files, without importing TensorFlow itself."""

from __future__ import annotations

import gzip
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from pipeline.inspect import records

from conftest import REPO_ROOT


def write_examples(path, labels):
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for label in labels:
            image = np.full(784, label * 20 + 3, dtype=np.int64)
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        "image": tf.train.Feature(int64_list=tf.train.Int64List(value=image)),
                        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                    }
                )
            )
            writer.write(example.SerializeToString())


def test_examples_of_a_split_in_file_name_order(tmp_path):
    write_examples(tmp_path / "data_tfrecord-00001-of-00002.gz", [7, 8])
    write_examples(tmp_path / "data_tfrecord-00000-of-00002.gz", [1, 2, 3])
    read = list(records.examples(str(tmp_path)))
    assert [label for _, label in read] == [1, 2, 3, 7, 8]
    image, label = read[0]
    assert image.dtype == np.uint8 and image.shape == (784,) and set(image) == {23}


def test_a_file_cut_inside_a_record_is_named(tmp_path):
    path = tmp_path / "data_tfrecord-00000-of-00001.gz"
    write_examples(path, [1, 2])
    whole = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(whole[:-10]))
    with pytest.raises(records.DamagedRecordsError, match=f"{path}: ends inside a record"):
        list(records.examples(str(tmp_path)))


def test_tensorboard_scalars(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step in (0, 100, 200):
            tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
    writer.close()
    [path] = tmp_path.glob("events.out.tfevents.*")
    from tensorboard.util import tensor_util

    scalars = [
        (event.step, float(tensor_util.make_ndarray(value.tensor)))
        for event in records.events(str(path))
        for value in event.summary.value
        if value.tag == "loss"
    ]
    assert [step for step, _ in scalars] == [0, 100, 200]
    assert [value for _, value in scalars] == pytest.approx([1.0, 1 / 101, 1 / 201])


def test_reading_imports_no_tensorflow(tmp_path):
    write_examples(tmp_path / "data_tfrecord-00000-of-00001.gz", [4])
    script = (
        "import sys; from pipeline.inspect import records; "
        f"assert [label for _, label in records.examples({str(tmp_path)!r})] == [4]; "
        "sys.exit('tensorflow' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT).returncode == 0
