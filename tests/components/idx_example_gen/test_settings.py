"""components/idx_example_gen/settings.py: the `ingest` section."""

from __future__ import annotations

import pytest

from components.idx_example_gen.settings import IDX_ROLES, IngestSettings
from components.settings import SettingsError, from_dict, to_dict

SETTINGS = IngestSettings(
    train_images="ti",
    train_labels="tl",
    test_images="si",
    test_labels="sl",
    validation_size=100,
    train_size=None,
    test_size=50,
    records_per_shard=10,
    gzip_level=1,
)


def test_file_names_are_given_by_role_in_role_order():
    assert SETTINGS.file_names() == {
        "train_images": "ti",
        "train_labels": "tl",
        "test_images": "si",
        "test_labels": "sl",
    }
    assert tuple(SETTINGS.file_names()) == IDX_ROLES


def test_round_trip_through_plain_values():
    assert from_dict(IngestSettings, to_dict(SETTINGS)) == SETTINGS


def with_changes(**changes) -> IngestSettings:
    return from_dict(IngestSettings, {**to_dict(SETTINGS), **changes}, "ingest.")


def test_sizes_may_be_zero_or_none():
    assert with_changes(validation_size=0, train_size=None, test_size=0).test_size == 0


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"validation_size": -1}, "'ingest.validation_size' must be in 0..4294967295, got -1"),
        ({"train_size": -2}, "'ingest.train_size' must be in 0..4294967295, got -2"),
        ({"test_size": 2**32}, "'ingest.test_size' must be in 0..4294967295, got 4294967296"),
        ({"records_per_shard": 0}, "'ingest.records_per_shard' must be in 1..10000000, got 0"),
        ({"records_per_shard": 10**8}, "'ingest.records_per_shard' must be in 1..10000000, got 100000000"),
        ({"gzip_level": 10}, "'ingest.gzip_level' must be in 0..9, got 10"),
        ({"gzip_level": -1}, "'ingest.gzip_level' must be in 0..9, got -1"),
    ],
)
def test_problems_name_the_setting(changes, problem):
    with pytest.raises(SettingsError) as error:
        with_changes(**changes)
    assert str(error.value) == problem


@pytest.mark.parametrize("level", [0, 9])
def test_gzip_level_bounds_are_inclusive(level):
    assert with_changes(gzip_level=level).gzip_level == level
