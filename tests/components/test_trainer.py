"""The Trainer module's parts on a few synthetic examples: model, input functions, export."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import data, model, module
from fake_mnist import balanced_labels, fake_images

NUM_PIXELS = 784


def _serialized(images: np.ndarray, labels: np.ndarray) -> list[bytes]:
    return [
        tf.train.Example(features=tf.train.Features(feature={
            "image": tf.train.Feature(int64_list=tf.train.Int64List(value=image.reshape(-1).tolist())),
            "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)])),
        })).SerializeToString()
        for image, label in zip(images, labels)
    ]


@pytest.fixture(scope="module")
def examples_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, np.ndarray, np.ndarray]:
    labels = balanced_labels(50, seed=0)
    images = fake_images(labels, seed=0)
    path = str(tmp_path_factory.mktemp("examples") / "data_tfrecord-00000-of-00001.gz")
    with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
        for record in _serialized(images, labels):
            writer.write(record)
    return path, images, labels


def _small_model(seed: int = 1) -> tf.keras.Model:
    return model.build_model(NUM_PIXELS, [16, 8], 10, "adam", 0.01, decay_steps=None, seed=seed)


def test_model_layers_follow_the_settings():
    built = _small_model()
    assert built.input.dtype == "uint8"
    assert built.output.shape == (None, 10)
    assert [layer.units for layer in built.layers if hasattr(layer, "units")] == [16, 8, 10]


def test_model_scales_raw_pixels_inside():
    built = _small_model()
    scaled = built.get_layer(index=1)(np.full((1, NUM_PIXELS), 255, dtype=np.uint8))
    np.testing.assert_allclose(scaled.numpy(), 1.0)


def test_same_seed_same_weights():
    first, second, other = _small_model(seed=3), _small_model(seed=3), _small_model(seed=4)
    np.testing.assert_array_equal(first.get_weights()[0], second.get_weights()[0])
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])


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


def test_exported_signatures_agree(tmp_path: Path, examples_file):
    _, images, labels = examples_file
    built = _small_model()
    model.export_serving_model(built, str(tmp_path / "serving"), (28, 28))
    loaded = tf.saved_model.load(str(tmp_path / "serving"))
    assert set(loaded.signatures) == {"serving_default", "predict_images"}

    by_images = loaded.signatures["predict_images"](images=tf.constant(images))
    by_examples = loaded.signatures["serving_default"](examples=tf.constant(_serialized(images, labels)))
    expected = tf.nn.softmax(built(images.reshape(50, -1))).numpy()
    np.testing.assert_allclose(by_images["probabilities"].numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(by_examples["probabilities"].numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(by_images["classes"].numpy(), expected.argmax(axis=1))


def test_progress_logs_the_mean_loss_of_each_interval(tmp_path: Path, caplog):
    settings = module.TrainerSettings(
        image_shape=[28, 28], num_classes=10, hidden_units=[8], optimizer="adam", learning_rate=0.01,
        cosine_decay=False, batch_size=10, train_steps=4, log_every_steps=2, checkpoint_every_steps=4, seed=0,
    )
    progress = module.TrainingProgress(settings, str(tmp_path))
    progress.set_model(_small_model())
    # Keras passes running means since the epoch started: steps' losses 4, 2, 1, 1.
    running_means = [4.0, 3.0, 7 / 3, 2.0]
    with caplog.at_level(logging.INFO, logger=module.__name__):
        for batch, mean in enumerate(running_means):
            progress.on_train_batch_end(batch, {"loss": mean, "accuracy": 0.5})
    lines = [record.getMessage() for record in caplog.records if record.getMessage().startswith("Step")]
    assert [line.split(" (")[0] for line in lines] == ["Step 2: loss = 3.0000", "Step 4: loss = 1.0000"]
    assert (tmp_path / "checkpoints" / "step-000004.weights.h5").is_file()
    assert list((tmp_path / "train").glob("events.out.tfevents.*"))


def test_precision_at_1_counts_correct_top_classes(examples_file):
    path, _, labels = examples_file
    built = _small_model()
    figures = module.precision_at_1(built, data.read_split(path, NUM_PIXELS))
    predicted = built.predict(np.concatenate([b[0].numpy() for b in data.read_split(path, NUM_PIXELS)]), verbose=0)
    assert figures["num_examples"] == 50
    assert figures["num_correct"] == int(np.sum(predicted.argmax(axis=1) == labels))
    assert figures["precision_at_1"] == pytest.approx(figures["num_correct"] / 50)


def test_load_split_holds_the_whole_split(examples_file):
    path, images, labels = examples_file
    loaded_images, loaded_labels = data.load_split(path, NUM_PIXELS)
    np.testing.assert_array_equal(loaded_images.numpy(), images.reshape(50, -1))
    np.testing.assert_array_equal(loaded_labels.numpy(), labels)
