"""`mnist-pipeline predict`: classify PNG images or the images of an IDX file with a pushed model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from components import idx
from components.errors import PipelineError

IMAGE_SHAPE = (28, 28)


class PredictError(PipelineError):
    """The model or an input cannot be used."""


def predict_inputs(model_path: Path, inputs: list[Path], limit: int) -> Iterator[str]:
    """One line per image: where it came from, the predicted digit and its probability."""
    import tensorflow as tf

    model_dir = resolve_model_dir(model_path)
    try:
        predict_images = tf.saved_model.load(str(model_dir)).signatures["predict_images"]
    except (OSError, KeyError) as error:
        raise PredictError(f"{model_dir}: not a SavedModel with a predict_images signature ({error})") from error
    yield f"Model: {model_dir}"
    for path in inputs:
        names, images = load_images(path, limit)
        outputs = predict_images(images=tf.constant(images))
        classes, probabilities = outputs["classes"].numpy(), outputs["probabilities"].numpy()
        for name, digit, row in zip(names, classes, probabilities):
            yield f"{name}: {digit} (p={row[digit]:.3f})"


def resolve_model_dir(model_path: Path) -> Path:
    """A SavedModel dir as is; a serving base dir (numbered versions) as its newest version."""
    if (model_path / "saved_model.pb").is_file():
        return model_path
    versions = sorted((p for p in model_path.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    if not versions:
        raise PredictError(f"{model_path}: neither a SavedModel nor a folder of numbered model versions")
    return versions[-1]


def load_images(path: Path, limit: int) -> tuple[list[str], np.ndarray]:
    """Names and uint8 images [N, 28, 28] from a PNG file or the first `limit` images of an IDX file."""
    if not path.is_file():
        raise PredictError(f"{path}: file not found")
    if limit < 1:
        raise PredictError(f"--limit must be at least 1, got {limit}")
    if path.suffix.lower() == ".png":
        from PIL import Image

        with Image.open(path) as image:
            pixels = np.asarray(image.convert("L"), dtype=np.uint8)
        if pixels.shape != IMAGE_SHAPE:
            raise PredictError(f"{path}: image is {pixels.shape[1]}x{pixels.shape[0]}, expected 28x28")
        return [str(path)], pixels[np.newaxis]
    header = idx.check_file(str(path), expected_dims=3, record_shape=IMAGE_SHAPE).header
    count = min(limit, header.count)
    images = np.concatenate(list(idx.iter_records(str(path), 3, 0, count, chunk_records=max(count, 1))))
    return [f"{path.name}[{index}]" for index in range(count)], images
