"""What one example is: the tf.Example contract between the ingest, which writes it, and the
Trainer and the served model, which read it. No TensorFlow here: the config imports it.
"""

from __future__ import annotations

import math
from typing import Annotated

from pydantic.dataclasses import dataclass

from components.settings import SETTINGS, Bounds, Int

IMAGE_KEY = "image"  # int64 pixel values, row-major, image_shape of them
LABEL_KEY = "label"  # one int64 in 0 .. num_classes - 1


@dataclass(frozen=True, config=SETTINGS)
class ExampleFormat:
    """The `data` section of the config."""

    image_shape: Annotated[tuple[Int, ...], Bounds(1, 1024, items=(2, 2))]  # rows, columns of one image
    num_classes: Annotated[Int, Bounds(2, 256)]  # an IDX label is one byte

    @property
    def num_pixels(self) -> int:
        return math.prod(self.image_shape)
