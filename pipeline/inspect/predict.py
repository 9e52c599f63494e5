"""`mnist-pipeline predict`: classify PNG images or the images of an IDX file with a pushed model.

Every input is read and checked before the model is loaded (loading takes seconds); the image
shape comes from the model's own `predict_images` signature. An IDX file's images are MNIST's
already; a PNG is a picture of a digit of any size, dark on light or light on dark, prepared as
MNIST's digits were made (pipeline/inspect/digit_image.py).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from components import serving_dir
from components.errors import PipelineError
from components.idx_example_gen import idx
from pipeline.inspect import digit_image

SIGNATURE = "predict_images"
AT_MOST = f"predict reads at most {digit_image.MAX_PIXELS:,} pixels (4096x4096) of a file"


class PredictError(PipelineError):
    """The model or an input cannot be used."""


@dataclass(frozen=True)
class Images:
    path: Path
    names: list[str]
    pixels: np.ndarray  # uint8 [N, rows, columns]
    is_picture: bool = False  # a PNG, prepared as an MNIST digit before the model sees it


@dataclass(frozen=True)
class Prediction:
    name: str  # where the image came from: a file, an IDX file's image, an array's
    digit: int
    probability: float  # of that digit
    note: str  # what was done to a picture first, or ""


def predict_inputs(model_path: Path, inputs: list[Path], limit: int) -> Iterator[str]:
    """One line per image: where it came from, the predicted digit and its probability."""
    batches = [load_images(path, limit) for path in inputs]  # before any TensorFlow: seconds to import
    model_dir = resolve_model_dir(model_path)
    predictions = classify(model_dir, batches)
    yield f"Model: {model_dir}"
    yield from map(describe, predictions)


def describe(prediction: Prediction) -> str:
    return f"{prediction.name}: {prediction.digit} (p={prediction.probability:.3f}){prediction.note}"


def classify(model_dir: Path, batches: list[Images]) -> list[Prediction]:
    """Each image of `batches` classified by the SavedModel in `model_dir` (its predict_images signature)."""
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(model_dir))
    except (OSError, ValueError, tf.errors.OpError) as error:  # e.g. no variables: the first line says which file
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise PredictError(f"{model_dir}: the SavedModel does not load: {first_line}") from error
    if SIGNATURE not in loaded.signatures:
        raise PredictError(f"{model_dir}: the SavedModel has no {SIGNATURE} signature")
    predict_images = loaded.signatures[SIGNATURE]
    image_shape = tuple(predict_images.structured_input_signature[1]["images"].shape[1:])
    predictions = []
    for batch in batches:
        pixels, notes = _as_the_model_takes(batch, image_shape)
        outputs = predict_images(images=tf.constant(pixels))
        classes, probabilities = outputs["classes"].numpy(), outputs["probabilities"].numpy()
        predictions += [
            Prediction(name, int(digit), float(row[digit]), note)
            for name, digit, row, note in zip(batch.names, classes, probabilities, notes)
        ]
    return predictions


def _as_the_model_takes(batch: Images, image_shape: tuple[int, ...]) -> tuple[np.ndarray, list[str]]:
    """The batch's pixels in the model's shape, and a note per image on what was done to it."""
    if not batch.is_picture:
        if batch.pixels.shape[1:] != image_shape:
            raise PredictError(
                f"{batch.path}: images are {_shape(batch.pixels.shape[1:])}, the model takes {_shape(image_shape)}"
            )
        return batch.pixels, [""] * len(batch.pixels)
    try:
        prepared = digit_image.prepare(batch.pixels[0], (image_shape[0], image_shape[1]))
    except digit_image.NoDigitError as error:
        raise PredictError(f"{batch.path}: {error}") from None
    note = " (inverted: a dark digit on a light background; MNIST's are light on dark)" if prepared.inverted else ""
    return prepared.pixels[np.newaxis], [note]


def resolve_model_dir(model_path: Path) -> Path:
    """A SavedModel dir as is; a serving dir as the version TF Serving serves (its newest). A
    pushed version is first checked against its marker (a damaged one is named in one line)."""
    if (model_path / serving_dir.MARKER_FILE).is_file():
        served: serving_dir.ServedVersion | None = serving_dir.read_version(str(model_path))
    elif (model_path / "saved_model.pb").is_file():
        return model_path
    else:
        served = serving_dir.latest(str(model_path)) if model_path.is_dir() else None
    if served is None:
        raise PredictError(f"{model_path}: neither a SavedModel nor a folder of numbered model versions")
    serving_dir.verify_version(served)
    return Path(served.path)


def load_images(path: Path, limit: int) -> Images:
    """A PNG file's image, or the first `limit` images of an IDX file, as uint8 [N, rows, columns]."""
    if not path.is_file():
        raise PredictError(f"{path}: {'a directory, not a file' if path.is_dir() else 'file not found'}")
    if limit < 1:
        raise PredictError(f"--limit must be at least 1, got {limit}")
    if path.suffix.lower() == ".png":
        return Images(path, [str(path)], _read_picture(path)[np.newaxis], is_picture=True)
    header = idx.check_file(str(path), expected_dims=3).header
    count = min(limit, header.count)
    if count == 0:
        raise PredictError(f"{path}: the file holds no images")
    pixels_read = count * math.prod(header.record_shape)
    if pixels_read > digit_image.MAX_PIXELS:
        what = f"{count} images of {_shape(header.record_shape)} are {pixels_read:,} pixels"
        raise PredictError(f"{path}: {what}; {AT_MOST}: give a lower --limit")
    pixels = np.concatenate(list(idx.iter_records(str(path), 3, 0, count, chunk_records=count)))
    return Images(path, [f"{path.name}[{index}]" for index in range(count)], pixels)


def _read_picture(path: Path) -> np.ndarray:
    """A picture's grey levels, its size checked before its pixels are decoded: PIL reads only the
    header when it opens a file (and refuses one of over twice its own bound right there)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS is lower
            image = Image.open(path)
        with image:
            if image.width * image.height > digit_image.MAX_PIXELS:
                size = f"{image.width}x{image.height}"
                raise PredictError(f"{path}: a picture of {size} pixels; {AT_MOST}: scale it down")
            return np.asarray(image.convert("L"), dtype=np.uint8)
    except Image.DecompressionBombError as error:
        over = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise PredictError(f"{path}: a picture of over {over:,} pixels; {AT_MOST}: scale it down") from error
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise PredictError(f"{path}: not a readable PNG image ({error})") from error


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(size) for size in reversed(shape))
