"""The ingest's settings: which IDX files, how they are cut into splits, how shards are written.

The `ingest` section of the config; IdxExampleGen carries it in its custom_config and the
executor rebuilds it (components.settings.from_dict). No TensorFlow here: the config imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

# The four input files, by role.
IDX_ROLES = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass(frozen=True)
class IngestSettings:
    train_images: str  # file names under the data dir; each may also be NAME.gz
    train_labels: str
    test_images: str
    test_labels: str
    validation_size: int  # the first N training images, as TensorFlow's input_data does
    train_size: int | None  # None: every training image after the validation ones
    test_size: int | None  # None: every test image
    records_per_shard: int
    gzip_level: int

    def file_names(self) -> dict[str, str]:
        """The file of each role in IDX_ROLES."""
        return {role: getattr(self, role) for role in IDX_ROLES}

    def problems(self) -> list[tuple[str, str]]:
        found = [
            (name, f"must be >= 0, got {value}")
            for name, value in (
                ("validation_size", self.validation_size),
                ("train_size", self.train_size),
                ("test_size", self.test_size),
            )
            if (value or 0) < 0
        ]
        if self.records_per_shard <= 0:
            found.append(("records_per_shard", f"must be > 0, got {self.records_per_shard}"))
        if not 0 <= self.gzip_level <= 9:
            found.append(("gzip_level", f"must be in 0..9, got {self.gzip_level}"))
        return found
