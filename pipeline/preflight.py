"""Checks made before any component runs, so that a bad setting or a missing file costs seconds:
the four IDX files are there, and the split sizes and the batch size fit the records their
headers promise (only the headers are read)."""

from __future__ import annotations

import errno

import tensorflow as tf

from components.errors import PipelineError
from components.object_storage import is_uri
from components.idx_example_gen import idx
from components.idx_example_gen.layout import SplitSizeError, candidate_paths, plan_splits
from pipeline.config import ConfigError, PipelineConfig


class MissingDataError(PipelineError):
    """Input files are missing; the message says how to get them."""


def check_inputs(config: PipelineConfig, data_dir: str) -> None:
    """Raises MissingDataError or ConfigError naming every missing file or the setting that does not fit."""
    ingest = config.ingest
    found, missing = {}, []
    for role, name in ingest.file_names().items():
        paths = [path for path in candidate_paths(data_dir, name) if tf.io.gfile.exists(path)]
        if paths:
            found[role] = paths[0]
        else:
            missing.append(name)
    if missing:
        raise MissingDataError(
            f"{data_dir}: missing {', '.join(missing)} (nor .gz); copy the four MNIST files there, "
            "point --data-dir at a folder that has them" + ("" if is_uri(data_dir) else ", or add --download")
        )
    counts = {role: idx.read_file_header(path, 3 if role.endswith("images") else 1, opener=_gfile_open).count
              for role, path in found.items()}
    try:
        plans = plan_splits(counts["train_images"], counts["test_images"], ingest.validation_size,
                            ingest.train_size, ingest.test_size)
    except SplitSizeError as error:
        raise ConfigError(f"the ingest settings do not fit the files in {data_dir}: {error}") from error
    train_examples = next(plan.size for plan in plans if plan.name == "train")
    if config.training.batch_size > train_examples:
        raise ConfigError(f"'training.batch_size' is {config.training.batch_size}, more than the "
                          f"{train_examples:,} examples of the training split")


def _gfile_open(path: str):
    if tf.io.gfile.isdir(path):  # GFile opens a folder and fails on the first read with a TF error
        raise IsADirectoryError(errno.EISDIR, "Is a directory", path)  # idx names it: a directory, not a file
    return tf.io.gfile.GFile(path, "rb")
