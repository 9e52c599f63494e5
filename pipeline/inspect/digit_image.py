"""A picture of a digit, prepared the way MNIST's digits were made, so the model sees what it
was trained on.

MNIST's digits (LeCun, Cortes and Burges, "The MNIST database"): light strokes on a black
background, "size normalized to fit in a 20x20 pixel box while preserving their aspect ratio"
(the anti-aliasing makes the grey levels), then "centered in a 28x28 image by computing the
center of mass of the pixels, and translating the image so as to position this point at the
center of the 28x28 field". A photo or a drawing is usually dark ink on light paper, of any
size, with the digit anywhere: without the same preparation the model reads noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from components.errors import PipelineError

BOX_FRACTION = 20 / 28  # the digit's longer side, as a fraction of the image side
MIN_CONTRAST = 32  # grey levels between the background and the strongest stroke, below which there is no digit
INK_FRACTION = 0.1  # a pixel is part of the digit above this fraction of the strongest stroke
# The most pixels `prepare` takes: it holds a few float64 copies of the picture, about 30 bytes a
# pixel, 500 MB at this size. A phone's 12-megapixel photo fits.
MAX_PIXELS = 4096 * 4096


class NoDigitError(PipelineError):
    """The image holds nothing that stands out from its background."""


@dataclass(frozen=True)
class Prepared:
    pixels: np.ndarray  # uint8 [rows, columns], light digit on black, as in MNIST
    inverted: bool  # the picture was dark on light: its grey levels were inverted


def grey_levels(image: Image.Image) -> np.ndarray:
    """A picture's grey levels (uint8 [rows, columns]): colour as its luminance (ITU-R 601-2, PIL's
    "L"); a transparent one as a drawing app shows it, over white paper. An HTML canvas and most
    drawing apps export strokes whose colour is in their opacity alone (black, or never set, on a
    transparent page): when the paper shows nothing, the opacity is the ink, light on dark."""
    if image.mode not in ("RGBA", "LA", "PA", "RGBa", "La") and "transparency" not in image.info:
        return np.asarray(image.convert("L"), dtype=np.uint8)
    drawn = image.convert("RGBA")
    paper = Image.new("RGBA", drawn.size, (255, 255, 255, 255))
    grey = np.asarray(Image.alpha_composite(paper, drawn).convert("L"), dtype=np.uint8)
    if int(grey.max()) - int(grey.min()) >= MIN_CONTRAST:
        return grey
    return np.asarray(drawn.getchannel("A"), dtype=np.uint8)


def prepare(picture: np.ndarray, shape: tuple[int, int]) -> Prepared:
    """`picture` (grey levels, any size) as an MNIST digit of `shape`."""
    grey = picture.astype(np.float64)
    inverted = bool(_background(grey) > 127)
    if inverted:
        grey = 255 - grey
    ink = np.clip(grey - _background(grey), 0, None)
    if ink.max() < MIN_CONTRAST:
        raise NoDigitError("no digit found: nothing stands out from the background")
    ink *= 255 / ink.max()
    rows = np.flatnonzero((ink > INK_FRACTION * 255).any(axis=1))
    columns = np.flatnonzero((ink > INK_FRACTION * 255).any(axis=0))
    digit = ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    return Prepared(_centred(_fitted(digit, shape), shape), inverted)


def _background(grey: np.ndarray) -> float:
    """The background's grey level: what the edges mostly show."""
    return float(np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])))


def _fitted(digit: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The digit scaled so its longer side fills the box, aspect ratio kept, anti-aliased."""
    box = BOX_FRACTION * min(shape)
    scale = box / max(digit.shape)
    size = (max(1, round(digit.shape[1] * scale)), max(1, round(digit.shape[0] * scale)))  # PIL: (width, height)
    resized = Image.fromarray(digit.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized), 0, 255)


def _centred(digit: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The digit on a black field of `shape`, its centre of mass at the field's centre."""
    rows, columns = np.indices(digit.shape)
    mass = digit.sum()
    centre_of_mass = ((rows * digit).sum() / mass, (columns * digit).sum() / mass)
    field = np.zeros(shape, dtype=np.float64)
    top, left = (
        int(np.clip(round((size - 1) / 2 - centre), 0, size - extent))
        for size, centre, extent in zip(shape, centre_of_mass, digit.shape)
    )
    field[top : top + digit.shape[0], left : left + digit.shape[1]] = digit
    return np.round(field).astype(np.uint8)
