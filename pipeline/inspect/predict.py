"""`mnist-pipeline predict`: classify pictures (PNG, JPEG) or the images of an IDX file with a
pushed model.

Every input is read and checked before the model is loaded (loading takes seconds); the image
shape comes from the model's own `predict_images` signature. An IDX file's images are MNIST's
already; a picture is a digit of any size, dark on light or light on dark, in colour or on a
transparent page, prepared as MNIST's digits were made (pipeline/inspect/digit_image.py). A file
is taken for what its first bytes say it is; one that cannot be used is one line naming it, and
the others go on.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from components import serving_dir
from components.errors import PipelineError
from components.idx_example_gen import idx
from pipeline.faults import first_line
from pipeline.inspect import digit_image

SIGNATURE = "predict_images"
# What a picture file starts with (its signature: PNG's in RFC 2083, JPEG's SOI marker and the next
# marker's 0xff), and the names PIL gives its formats.
PICTURE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}
PICTURE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
READS = "predict reads PNG and JPEG pictures and IDX image files (gzipped or not)"
INVERTED = "inverted"
INVERTED_EXPLAINED = f"({INVERTED}: a dark digit on a light background, turned light on dark as MNIST's digits are)"
AT_MOST = f"predict reads at most {digit_image.MAX_PIXELS:,} pixels (4096x4096) of a file"


T = TypeVar("T")


class PredictError(PipelineError):
    """The model or an input cannot be used."""


@dataclass(frozen=True)
class Images:
    path: Path
    names: list[str]
    pixels: np.ndarray  # uint8 [N, rows, columns]
    is_picture: bool = False  # a PNG or JPEG, prepared as an MNIST digit before the model sees it


@dataclass(frozen=True)
class Prediction:
    name: str  # where the image came from: a file, an IDX file's image, an array's
    digit: int
    probability: float  # of that digit
    note: str  # what was done to a picture first (INVERTED), or ""


@dataclass(frozen=True)
class Line:
    """A line of `predict`'s output; a failed one names an input that could not be classified."""

    text: str
    failed: bool = False


def predict_inputs(model_path: Path, inputs: list[Path], limit: int) -> Iterator[Line]:
    """One line per image: where it came from, the predicted digit and its probability; one failed
    line per input that cannot be read or classified, in the inputs' order; what "inverted"
    means, once, after them. The model is not loaded when no input could be read."""
    check_limit(limit)
    read = [_or_fault(load_images, path, limit) for path in inputs]  # before any TensorFlow: seconds to import
    if all(isinstance(batch, PipelineError) for batch in read):
        yield from (Line(str(fault), failed=True) for fault in read)
        return
    model_dir = resolve_model_dir(model_path)
    classifier = Classifier(model_dir)
    yield Line(f"Model: {model_dir}")
    predictions: list[Prediction] = []
    for batch in read:
        outcome = batch if isinstance(batch, PipelineError) else _or_fault(classifier, batch)
        if isinstance(outcome, PipelineError):
            yield Line(str(outcome), failed=True)
        else:
            predictions += outcome
            yield from (Line(describe(prediction)) for prediction in outcome)
    yield from (Line(text) for text in explanations(predictions))


def _or_fault(step: Callable[..., T], *arguments: Any) -> T | PipelineError:
    """`step(*arguments)`, or the PipelineError it raised (which names its input)."""
    try:
        return step(*arguments)
    except PipelineError as fault:
        return fault


def describe(prediction: Prediction) -> str:
    note = f" ({prediction.note})" if prediction.note else ""
    return f"{prediction.name}: {prediction.digit} (p={prediction.probability:.3f}){note}"


def explanations(predictions: list[Prediction]) -> list[str]:
    """What the notes of `predictions` mean, each once."""
    return [INVERTED_EXPLAINED] if any(prediction.note == INVERTED for prediction in predictions) else []


def classify(model_dir: Path, batches: list[Images]) -> list[Prediction]:
    """Each image of `batches` classified by the SavedModel in `model_dir` (its predict_images signature)."""
    classifier = Classifier(model_dir)
    return [prediction for batch in batches for prediction in classifier(batch)]


class Classifier:
    """The predict_images signature of the SavedModel in `model_dir`, loaded once for many batches."""

    def __init__(self, model_dir: Path):
        import tensorflow as tf

        try:
            loaded = tf.saved_model.load(str(model_dir))
        except (OSError, ValueError, tf.errors.OpError) as error:  # e.g. no variables: the first line says which file
            raise PredictError(f"{model_dir}: the SavedModel does not load: {first_line(error)}") from error
        if SIGNATURE not in loaded.signatures:
            raise PredictError(f"{model_dir}: the SavedModel has no {SIGNATURE} signature")
        self._loaded = loaded  # the signature's variables live as long as the object that holds them
        self._predict_images = loaded.signatures[SIGNATURE]
        self._image_shape = tuple(self._predict_images.structured_input_signature[1]["images"].shape[1:])

    def __call__(self, batch: Images) -> list[Prediction]:
        import tensorflow as tf

        pixels, notes = _as_the_model_takes(batch, self._image_shape)
        outputs = self._predict_images(images=tf.constant(pixels))
        classes, probabilities = outputs["classes"].numpy(), outputs["probabilities"].numpy()
        return [
            Prediction(name, int(digit), float(row[digit]), note)
            for name, digit, row, note in zip(batch.names, classes, probabilities, notes)
        ]


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
    return prepared.pixels[np.newaxis], [INVERTED if prepared.inverted else ""]


def resolve_model_dir(model_path: Path) -> Path:
    """A SavedModel dir as is; a serving dir as the version TF Serving serves (its newest). A
    pushed version is first checked against its marker (a damaged one is named in one line)."""
    if serving_dir.is_complete(str(model_path)):
        served: serving_dir.ServedVersion | None = serving_dir.read_version(str(model_path))
    elif (model_path / "saved_model.pb").is_file():
        return model_path
    else:
        served = serving_dir.latest(str(model_path)) if model_path.is_dir() else None
    if served is None:
        raise PredictError(f"{model_path}: neither a SavedModel nor a folder of numbered model versions")
    serving_dir.verify_version(served)
    return Path(served.path)


def check_limit(limit: int) -> None:
    if limit < 1:
        raise PredictError(f"--limit must be at least 1, got {limit}")


def load_images(path: Path, limit: int) -> Images:
    """A picture's image, or the first `limit` images of an IDX file, as uint8 [N, rows, columns]."""
    if not path.is_file():
        raise PredictError(f"{path}: {'a directory, not a file' if path.is_dir() else 'file not found'}")
    check_limit(limit)
    with path.open("rb") as file:
        start = file.read(8)
    picture_format = next(
        (name for signature, name in PICTURE_SIGNATURES.items() if start.startswith(signature)),
        PICTURE_SUFFIXES.get(path.suffix.lower()),
    )
    if picture_format is not None:
        return Images(path, [str(path)], _read_picture(path, picture_format)[np.newaxis], is_picture=True)
    if not start.startswith((idx.GZIP_MAGIC, b"\x00\x00")):  # an IDX file's magic number starts 0x0000
        raise PredictError(f"{path}: neither a picture nor an IDX file; {READS}")
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


def _read_picture(path: Path, picture_format: str) -> np.ndarray:
    """A PNG or JPEG picture's grey levels (digit_image.grey_levels), its size checked before its
    pixels are decoded: PIL reads only the header when it opens a file (and refuses one of over
    twice its own bound right there)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS is lower
            image = Image.open(path, formats=list(PICTURE_SUFFIXES.values()))
        with image:
            if image.width * image.height > digit_image.MAX_PIXELS:
                size = f"{image.width}x{image.height}"
                raise PredictError(f"{path}: a picture of {size} pixels; {AT_MOST}: scale it down")
            return digit_image.grey_levels(image)
    except Image.DecompressionBombError as error:
        over = 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise PredictError(f"{path}: a picture of over {over:,} pixels; {AT_MOST}: scale it down") from error
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise PredictError(f"{path}: not a readable {picture_format} image ({error}); {READS}") from error


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(size) for size in reversed(shape))
