"""components/example_format.py: what one example is, and the `data` settings that say so."""

from __future__ import annotations

import pytest

from components.example_format import IMAGE_KEY, LABEL_KEY, ExampleFormat
from components.settings import SettingsError, from_dict


def test_num_pixels_is_the_product_of_the_image_shape():
    assert ExampleFormat((28, 28), 10).num_pixels == 784
    assert ExampleFormat((4, 5), 2).num_pixels == 20


def test_feature_keys_are_the_ones_the_schema_names():
    assert (IMAGE_KEY, LABEL_KEY) == ("image", "label")


def test_built_from_the_data_section():
    assert from_dict(ExampleFormat, {"image_shape": [28, 28], "num_classes": 10}) == ExampleFormat((28, 28), 10)


@pytest.mark.parametrize(
    "image_shape, num_classes, problem",
    [
        ([], 10, "'data.image_shape' must have 2 items, got 0"),
        ([28, 28, 3], 10, "'data.image_shape' must have 2 items, got 3"),
        ([28, 0], 10, "'data.image_shape' must be in 1..1024 each, got [28, 0]"),
        ([28, 4096], 10, "'data.image_shape' must be in 1..1024 each, got [28, 4096]"),
        ([28, 28], 1, "'data.num_classes' must be in 2..256, got 1"),
        # What a report of 11.6 GB came from: a confusion matrix of num_classes squared.
        ([28, 28], 10**23, f"'data.num_classes' must be in 2..256, got {10**23}"),
    ],
)
def test_problems_name_the_setting(image_shape, num_classes, problem):
    with pytest.raises(SettingsError) as error:
        from_dict(ExampleFormat, {"image_shape": image_shape, "num_classes": num_classes}, "data.")
    assert str(error.value) == problem
