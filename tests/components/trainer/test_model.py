"""The model: its layers follow the settings, it scales raw pixels itself, and both exported
signatures give the model's own answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from components.trainer import model

from .conftest import EXAMPLE_FORMAT, serialized


def test_model_layers_follow_the_settings(small_model):
    built = small_model()
    assert built.input.dtype == "uint8"
    assert built.output.shape == (None, 10)
    assert [layer.units for layer in built.layers if hasattr(layer, "units")] == [16, 8, 10]


def test_model_scales_raw_pixels_inside(small_model):
    built = small_model()
    scaled = built.get_layer(index=1)(np.full((1, EXAMPLE_FORMAT.num_pixels), 255, dtype=np.uint8))
    np.testing.assert_allclose(scaled.numpy(), 1.0)


def test_same_seed_same_weights(small_model):
    first, second, other = small_model(seed=3), small_model(seed=3), small_model(seed=4)
    np.testing.assert_array_equal(first.get_weights()[0], second.get_weights()[0])
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])


def test_exported_signatures_agree(tmp_path: Path, examples_file, small_model):
    _, images, labels = examples_file
    built = small_model()
    model.export_serving_model(built, str(tmp_path / "serving"), (28, 28))
    loaded = tf.saved_model.load(str(tmp_path / "serving"))
    assert set(loaded.signatures) == {"serving_default", "predict_images"}

    by_images = loaded.signatures["predict_images"](images=tf.constant(images))
    by_examples = loaded.signatures["serving_default"](examples=tf.constant(serialized(images, labels)))
    expected = tf.nn.softmax(built(images.reshape(50, -1))).numpy()
    np.testing.assert_allclose(by_images["probabilities"].numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(by_examples["probabilities"].numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(by_images["classes"].numpy(), expected.argmax(axis=1))
