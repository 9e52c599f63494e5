"""Which IDX file feeds which split, and how a split is cut into shards. No TensorFlow here."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from components.errors import PipelineError
from components.idx_example_gen.idx import IdxFormatError

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitPlan:
    """A split is records [start, stop) of one image file and its label file."""

    name: str
    source: str  # "train" or "test": which pair of IDX files
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class Shard:
    """One output file: records [start, stop) of a split's source files."""

    split: str
    source: str
    index: int
    num_shards: int
    start: int
    stop: int

    @property
    def file_name(self) -> str:
        # TFX's own ExampleGen names its files the same way.
        return f"data_tfrecord-{self.index:05d}-of-{self.num_shards:05d}.gz"


def candidate_paths(input_base: str, name: str) -> list[str]:
    """Where IDX file `name` may be under `input_base`, in order: as named, or with `.gz`."""
    return [os.path.join(input_base, name + suffix) for suffix in ("", ".gz")]


def locate_idx_file(input_base: str, name: str, exists: Callable[[str], bool] = os.path.exists) -> str:
    """The path of IDX file `name` under `input_base`: as named, or else with `.gz`."""
    candidates = candidate_paths(input_base, name)
    for path in candidates:
        if exists(path):
            return path
    raise IdxFormatError(candidates[0], "file not found (nor with .gz)")


class SplitSizeError(PipelineError, ValueError):
    """The configured split sizes do not fit in the input files."""


def plan_splits(
    train_records: int,
    test_records: int,
    validation_size: int,
    train_size: int | None,
    test_size: int | None,
) -> list[SplitPlan]:
    """Validation is the first `validation_size` training records (as TensorFlow's input_data
    does), train the next `train_size` (all the rest when None), test the first `test_size`."""
    if train_size is None:
        if validation_size > train_records:  # else the message below would show a negative train_size
            raise SplitSizeError(
                f"validation_size {validation_size} alone would exceed the {train_records} records "
                "of the training files"
            )
        train_size = train_records - validation_size
    if test_size is None:
        test_size = test_records
    if validation_size + train_size > train_records or train_size < 0:
        raise SplitSizeError(
            f"validation_size {validation_size} + train_size {train_size} exceed the "
            f"{train_records} records of the training files"
        )
    if test_size > test_records:
        raise SplitSizeError(f"test_size {test_size} exceeds the {test_records} records of the test files")
    plans = [
        SplitPlan("train", "train", validation_size, validation_size + train_size),
        SplitPlan("validation", "train", 0, validation_size),
        SplitPlan("test", "test", 0, test_size),
    ]
    empty = [plan.name for plan in plans if plan.size == 0]
    if empty:
        raise SplitSizeError(
            f"split(s) {', '.join(empty)} would be empty with validation_size {validation_size}, train_size "
            f"{train_size} and test_size {test_size} of {train_records} training and {test_records} test records"
        )
    return plans


def plan_shards(splits: list[SplitPlan], records_per_shard: int) -> list[Shard]:
    """Cuts each split into shards of at most `records_per_shard` consecutive records."""
    shards = []
    for split in splits:
        num_shards = -(-split.size // records_per_shard)
        for index in range(num_shards):
            start = split.start + index * records_per_shard
            stop = min(start + records_per_shard, split.stop)
            shards.append(Shard(split.name, split.source, index, num_shards, start, stop))
    return shards
