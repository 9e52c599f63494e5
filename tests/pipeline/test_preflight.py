"""pipeline/preflight.py: a missing file or a setting that does not fit the data stops a run in
seconds, before any component, naming what to fix. Only the IDX headers are read."""

from __future__ import annotations

import shutil

import pytest

from components.errors import PipelineError
from components.idx_example_gen.idx import IdxFormatError
from fake_mnist import write_fake_mnist
from pipeline.config import ConfigError, load_config
from pipeline.preflight import MissingDataError, check_inputs

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture
def data_dir(tmp_path, fake_mnist_dir):
    """A private copy of the 600 + 200 synthetic images, gzip-compressed (NAME.gz)."""
    return shutil.copytree(fake_mnist_dir, tmp_path / "data")


def config(*overrides: str):
    return load_config(overrides=["ingest.validation_size=100", "training.batch_size=20", *overrides])


def test_files_that_fit_pass(data_dir):
    check_inputs(config(), str(data_dir))


def test_uncompressed_files_pass_too(tmp_path):
    write_fake_mnist(tmp_path, compress=False)
    check_inputs(config(), str(tmp_path))


def test_every_missing_file_is_named_with_the_download_hint(data_dir):
    for name in FILES[1:3]:
        (data_dir / f"{name}.gz").unlink()
    with pytest.raises(MissingDataError) as error:
        check_inputs(config(), str(data_dir))
    message = str(error.value)
    assert message.startswith(f"{data_dir}: missing train-labels-idx1-ubyte, t10k-images-idx3-ubyte (nor .gz)")
    assert "--download" in message and "--data-dir" in message


def test_an_empty_data_dir_names_all_four(tmp_path):
    with pytest.raises(MissingDataError, match=", ".join(FILES)):
        check_inputs(config(), str(tmp_path))


@pytest.mark.parametrize(
    "override, problem",
    [
        ("ingest.validation_size=700", "validation_size 700 alone would exceed the 600 records of the training files"),
        ("ingest.train_size=550", "validation_size 100 + train_size 550 exceed the 600 records"),
        ("ingest.test_size=201", "test_size 201 exceeds the 200 records of the test files"),
        ("ingest.validation_size=600", "split(s) train would be empty"),
    ],
)
def test_split_sizes_that_do_not_fit_name_the_setting(data_dir, override, problem):
    with pytest.raises(ConfigError) as error:
        check_inputs(config(override), str(data_dir))
    assert str(error.value).startswith(f"the ingest settings do not fit the files in {data_dir}: ")
    assert problem in str(error.value)


def test_a_batch_larger_than_the_train_split_names_training_batch_size(data_dir):
    with pytest.raises(ConfigError, match=r"^'training\.batch_size' is 501, more than the 500 examples of the training split$"):
        check_inputs(config("training.batch_size=501"), str(data_dir))
    check_inputs(config("training.batch_size=500"), str(data_dir))  # exactly the split: fits


def test_a_directory_instead_of_a_file_is_named(data_dir):
    (data_dir / f"{FILES[0]}.gz").unlink()
    (data_dir / FILES[0]).mkdir()
    with pytest.raises(PipelineError, match=rf"{FILES[0]}: a directory, not a file"):
        check_inputs(config(), str(data_dir))


def test_a_file_too_short_for_its_header_is_named(data_dir):
    (data_dir / f"{FILES[3]}.gz").unlink()
    (data_dir / FILES[3]).write_bytes(b"\x00\x00")
    with pytest.raises(IdxFormatError, match=rf"{FILES[3]}: file ends early"):
        check_inputs(config(), str(data_dir))
