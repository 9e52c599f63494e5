"""The tutorial's model: raw pixels -> scale to [0, 1] -> ReLU layers -> 10 logits.

Scaling lives inside the model, so serving takes raw pixels and there is no training/serving
skew. Built with Keras 3 (inside TFX's Trainer `tf.keras` is Keras 3 too).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from components.example_format import IMAGE_KEY, ExampleFormat
from components.trainer.data import parse_examples
from components.trainer.settings import OPTIMIZERS, TrainerSettings

# Keras' accuracy (the share of examples whose top class is the label): of the training batches
# as the fit reports it, and of the validation split (components/trainer/module.py's
# ValidationCurve), under one name, so that TensorBoard draws the two together.
ACCURACY = "accuracy"


def build_model(example_format: ExampleFormat, settings: TrainerSettings) -> keras.Model:
    """The compiled MLP; with cosine_decay, the learning rate decays to 0 over train_steps.

    steps_per_execution runs several training steps per call into TensorFlow, which about
    halves the time of this small model's steps; callbacks then see every N-th step only.
    """
    keras.utils.set_random_seed(settings.seed)
    inputs = keras.Input(shape=(example_format.num_pixels,), dtype="uint8", name=IMAGE_KEY)
    hidden = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    for index, units in enumerate(settings.hidden_units):
        hidden = keras.layers.Dense(units, activation="relu", name=f"hidden{index + 1}")(hidden)
    logits = keras.layers.Dense(example_format.num_classes, name="logits")(hidden)
    model = keras.Model(inputs, logits, name="mnist_mlp")
    learning_rate = settings.learning_rate
    if settings.cosine_decay:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, settings.train_steps)
    optimizer = getattr(keras.optimizers, OPTIMIZERS[settings.optimizer])
    model.compile(
        optimizer=optimizer(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name=ACCURACY)],
        steps_per_execution=settings.steps_per_execution,
    )
    return model


def export_serving_model(model: keras.Model, export_dir: str, image_shape: tuple[int, ...]) -> None:
    """Writes a SavedModel for TensorFlow Serving with two signatures:

    serving_default: `examples`, a batch of serialized tf.Example -> probabilities, classes
    predict_images:  `images`, uint8 [N, rows, cols]               -> probabilities, classes
    """
    num_pixels = model.input_shape[-1]

    def predict(images: tf.Tensor) -> dict[str, tf.Tensor]:
        probabilities = tf.nn.softmax(model(images, training=False))
        return {"probabilities": probabilities, "classes": tf.argmax(probabilities, axis=1)}

    def serve_examples(examples: tf.Tensor) -> dict[str, tf.Tensor]:
        images, _ = parse_examples(examples, num_pixels, with_labels=False)
        return predict(images)

    def serve_images(images: tf.Tensor) -> dict[str, tf.Tensor]:
        return predict(tf.reshape(images, [-1, num_pixels]))

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=serve_examples,
        input_signature=[tf.TensorSpec([None], tf.string, name="examples")],
    )
    archive.add_endpoint(
        name="predict_images",
        fn=serve_images,
        input_signature=[tf.TensorSpec([None, *image_shape], tf.uint8, name="images")],
    )
    archive.write_out(export_dir, verbose=False)
