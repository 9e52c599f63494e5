"""The ingest's layout: which records make each split, and how a split is cut into shards."""

from __future__ import annotations

import pytest

from components.idx_example_gen.layout import (
    SPLITS,
    Shard,
    SplitPlan,
    SplitSizeError,
    plan_shards,
    plan_splits,
)


def test_split_names():
    assert SPLITS == ("train", "validation", "test")


def test_plan_splits_mnist_defaults():
    splits = plan_splits(60000, 10000, validation_size=5000, train_size=None, test_size=None)
    assert splits == [
        SplitPlan("train", "train", 5000, 60000),
        SplitPlan("validation", "train", 0, 5000),
        SplitPlan("test", "test", 0, 10000),
    ]
    assert [split.size for split in splits] == [55000, 5000, 10000]


def test_plan_splits_with_configured_sizes():
    splits = plan_splits(60000, 10000, validation_size=1000, train_size=2000, test_size=300)
    assert splits == [
        SplitPlan("train", "train", 1000, 3000),
        SplitPlan("validation", "train", 0, 1000),
        SplitPlan("test", "test", 0, 300),
    ]


def test_plan_splits_may_use_every_record_exactly():
    splits = plan_splits(100, 10, validation_size=40, train_size=60, test_size=10)
    assert [(split.start, split.stop) for split in splits] == [(40, 100), (0, 40), (0, 10)]


def test_plan_splits_validation_plus_train_too_large():
    with pytest.raises(SplitSizeError, match="validation_size 5000 \\+ train_size 55001 exceed the 60000 records"):
        plan_splits(60000, 10000, validation_size=5000, train_size=55001, test_size=None)


def test_plan_splits_validation_larger_than_the_training_file():
    with pytest.raises(SplitSizeError, match="exceed the 600 records of the training files"):
        plan_splits(600, 200, validation_size=700, train_size=None, test_size=None)


def test_plan_splits_test_size_too_large():
    with pytest.raises(SplitSizeError, match="test_size 10001 exceeds the 10000 records of the test files"):
        plan_splits(60000, 10000, validation_size=5000, train_size=None, test_size=10001)


def test_plan_splits_empty_validation():
    with pytest.raises(SplitSizeError, match="split\\(s\\) validation would be empty"):
        plan_splits(60000, 10000, validation_size=0, train_size=None, test_size=None)


def test_plan_splits_empty_train_when_validation_takes_everything():
    with pytest.raises(SplitSizeError, match="split\\(s\\) train would be empty"):
        plan_splits(600, 200, validation_size=600, train_size=None, test_size=None)


def test_plan_splits_several_empty_splits_are_named_together():
    with pytest.raises(SplitSizeError, match="split\\(s\\) train, test would be empty"):
        plan_splits(600, 200, validation_size=100, train_size=0, test_size=0)


def test_split_size_error_is_a_pipeline_error():
    from components.errors import PipelineError

    assert issubclass(SplitSizeError, PipelineError)
    assert issubclass(SplitSizeError, ValueError)


def test_plan_shards_mnist_defaults():
    splits = plan_splits(60000, 10000, validation_size=5000, train_size=None, test_size=None)
    shards = plan_shards(splits, records_per_shard=10000)
    by_split = {name: [shard for shard in shards if shard.split == name] for name in SPLITS}
    assert [(shard.start, shard.stop) for shard in by_split["train"]] == [
        (5000, 15000),
        (15000, 25000),
        (25000, 35000),
        (35000, 45000),
        (45000, 55000),
        (55000, 60000),
    ]
    assert [shard.file_name for shard in by_split["train"]] == [
        f"data_tfrecord-{index:05d}-of-00006.gz" for index in range(6)
    ]
    assert by_split["validation"] == [Shard("validation", "train", 0, 1, 0, 5000)]
    assert by_split["validation"][0].file_name == "data_tfrecord-00000-of-00001.gz"
    assert by_split["test"] == [Shard("test", "test", 0, 1, 0, 10000)]


@pytest.mark.parametrize("records_per_shard", [1, 7, 150, 499, 500, 501, 100000])
def test_plan_shards_cover_each_split_exactly(records_per_shard):
    splits = plan_splits(600, 200, validation_size=100, train_size=None, test_size=None)
    shards = plan_shards(splits, records_per_shard)
    for split in splits:
        mine = [shard for shard in shards if shard.split == split.name]
        assert [shard.index for shard in mine] == list(range(len(mine)))
        assert {shard.num_shards for shard in mine} == {len(mine)}
        assert {shard.source for shard in mine} == {split.source}
        assert len(mine) == -(-split.size // records_per_shard)
        # Contiguous, no gap or overlap, from the split's start to its stop.
        assert mine[0].start == split.start
        assert mine[-1].stop == split.stop
        assert all(a.stop == b.start for a, b in zip(mine, mine[1:]))
        assert all(0 < shard.stop - shard.start <= records_per_shard for shard in mine)
        # Every shard but the last is full.
        assert all(shard.stop - shard.start == records_per_shard for shard in mine[:-1])
        assert len({shard.file_name for shard in mine}) == len(mine)


def test_plan_shards_small_example():
    splits = plan_splits(600, 200, validation_size=100, train_size=None, test_size=None)
    shards = plan_shards(splits, records_per_shard=150)
    assert shards == [
        Shard("train", "train", 0, 4, 100, 250),
        Shard("train", "train", 1, 4, 250, 400),
        Shard("train", "train", 2, 4, 400, 550),
        Shard("train", "train", 3, 4, 550, 600),
        Shard("validation", "train", 0, 1, 0, 100),
        Shard("test", "test", 0, 2, 0, 150),
        Shard("test", "test", 1, 2, 150, 200),
    ]
