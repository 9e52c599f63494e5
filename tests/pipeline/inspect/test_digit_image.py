"""pipeline/inspect/digit_image.py: a picture of a digit becomes what MNIST's digits are: light
on black, its longer side 20 of 28 pixels, its centre of mass at the centre."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.inspect import digit_image

MNIST = (28, 28)


def stroke_picture(size: int, dark_on_light: bool, box: tuple[int, int, int, int]) -> np.ndarray:
    """A `size` x `size` picture of a thick '1'-like bar filling rows/columns `box` (top, bottom, left, right)."""
    picture = np.zeros((size, size), dtype=np.uint8)
    top, bottom, left, right = box
    picture[top:bottom, left:right] = 255
    return 255 - picture if dark_on_light else picture


def bounding_box(pixels: np.ndarray) -> tuple[int, int]:
    rows, columns = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
    return rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1


def centre_of_mass(pixels: np.ndarray) -> np.ndarray:
    rows, columns = np.indices(pixels.shape)
    return np.array([(rows * pixels).sum(), (columns * pixels).sum()]) / pixels.sum()


@pytest.mark.parametrize("size", [28, 280, 1000])
def test_a_dark_digit_on_light_paper_of_any_size_becomes_an_mnist_digit(size):
    scale = size / 28
    box = tuple(round(edge * scale) for edge in (2, 14, 3, 8))  # tall and thin, in the top-left corner
    prepared = digit_image.prepare(stroke_picture(size, dark_on_light=True, box=box), MNIST)
    assert prepared.inverted
    assert prepared.pixels.shape == MNIST and prepared.pixels.dtype == np.uint8
    assert prepared.pixels[0].max() == prepared.pixels[:, 0].max() == 0  # a black field around it
    height, width = bounding_box(prepared.pixels > 25)
    assert height == 20 and 7 <= width <= 10  # the longer side fills the box, the aspect ratio is kept
    np.testing.assert_allclose(centre_of_mass(prepared.pixels.astype(float)), [13.5, 13.5], atol=0.6)


def test_a_light_digit_on_black_stays_so():
    prepared = digit_image.prepare(stroke_picture(28, dark_on_light=False, box=(4, 24, 12, 16)), MNIST)
    assert not prepared.inverted
    assert prepared.pixels.max() == 255 and prepared.pixels[0].max() == 0


def test_grey_paper_and_grey_ink_are_stretched_to_mnist_levels():
    picture = np.full((100, 100), 200, dtype=np.uint8)  # grey paper
    picture[20:80, 45:55] = 90  # pencil
    prepared = digit_image.prepare(picture, MNIST)
    assert prepared.inverted and prepared.pixels.max() == 255 and prepared.pixels[0, 0] == 0


@pytest.mark.parametrize("level", [0, 255, 128])
def test_a_picture_with_nothing_on_it_is_refused(level):
    picture = np.full((50, 50), level, dtype=np.uint8)
    picture[10, 10] = level ^ 8  # a speck of dust is not a digit
    with pytest.raises(digit_image.NoDigitError, match="no digit found"):
        digit_image.prepare(picture, MNIST)
