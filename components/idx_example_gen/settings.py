"""The ingest's settings: which IDX files, how they are cut into splits, how shards are written.

The `ingest` section of the config; IdxExampleGen carries it in its custom_config and the
executor rebuilds it (components.settings.from_dict). No TensorFlow here: the config imports it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic.dataclasses import dataclass

from components.settings import SETTINGS, Bounds, Int, Text

# The four input files, by role.
IDX_ROLES = ("train_images", "train_labels", "test_images", "test_labels")


def idx_dims(role: str) -> int:
    """How many dimensions a role's IDX file has: images are [count, rows, columns], labels [count]."""
    return 3 if role.endswith("images") else 1


IMAGE_COUNT = Bounds(0, 2**32 - 1)  # an IDX header counts its records in 32 bits


@dataclass(frozen=True, config=SETTINGS)
class IngestSettings:
    train_images: Text  # file names under the data dir; each may also be NAME.gz
    train_labels: Text
    test_images: Text
    test_labels: Text
    validation_size: Annotated[Int, IMAGE_COUNT]  # the first N training images, as TensorFlow's input_data does
    train_size: Annotated[Int | None, IMAGE_COUNT]  # None: every training image after the validation ones
    test_size: Annotated[Int | None, IMAGE_COUNT]  # None: every test image
    records_per_shard: Annotated[Int, Bounds(1, 10_000_000)]
    gzip_level: Annotated[Int, Bounds(0, 9)]

    def file_names(self) -> dict[str, str]:
        """The file of each role in IDX_ROLES."""
        return {role: getattr(self, role) for role in IDX_ROLES}
