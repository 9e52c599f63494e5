"""What one example is: the tf.Example contract between the ingest, which writes it, and the
Trainer and the served model, which read it. No TensorFlow here: the config imports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

IMAGE_KEY = "image"  # int64 pixel values, row-major, image_shape of them
LABEL_KEY = "label"  # one int64 in 0 .. num_classes - 1


@dataclass(frozen=True)
class ExampleFormat:
    """The `data` section of the config."""

    image_shape: tuple[int, ...]  # rows, columns of one image
    num_classes: int

    @property
    def num_pixels(self) -> int:
        return math.prod(self.image_shape)

    def problems(self) -> list[tuple[str, str]]:
        found = []
        if not self.image_shape or min(self.image_shape) <= 0:
            found.append(("image_shape", f"must be positive sizes, got {list(self.image_shape)}"))
        if self.num_classes <= 0:
            found.append(("num_classes", f"must be > 0, got {self.num_classes}"))
        return found
