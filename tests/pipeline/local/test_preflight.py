"""pipeline/local/preflight.py: a missing or unreadable file, a broken schema or store, a bad Beam flag or
a setting that does not fit the data stops a run in seconds, before any component, naming what
to fix. Only the IDX headers and the files' sizes (a gzip file's from its trailer) are read."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from components.errors import PipelineError
from components.idx_example_gen.idx import IdxFormatError
from pipeline.config import ConfigError, load_config
from pipeline.local.preflight import MissingDataError, check_inputs
from pipeline.output_dir import OutputDirBusy, OutputDirLock, OutputLayout

from support import mlmd_builder
from support.fake_mnist import FILE_NAMES, write_fake_mnist

FILES = tuple(FILE_NAMES.values())


@pytest.fixture
def data_dir(tmp_path, fake_mnist_dir):
    """A private copy of the 600 + 200 synthetic images, gzip-compressed (NAME.gz)."""
    return shutil.copytree(fake_mnist_dir, tmp_path / "data")


def config(*overrides: str):
    return load_config(overrides=["ingest.validation_size=100", "training.batch_size=20", *overrides])


def check(configured, data_dir, beam_args: list[str] = (), output_dir: Path = Path("/no/such/outputs")):
    check_inputs(configured, str(data_dir), list(beam_args), OutputLayout(output_dir))


def test_files_that_fit_pass(data_dir):
    check(config(), data_dir)


def test_uncompressed_files_pass_too(tmp_path):
    write_fake_mnist(tmp_path, compress=False)
    check(config(), tmp_path)


def test_every_missing_file_is_named_with_the_download_hint(data_dir):
    for name in FILES[1:3]:
        (data_dir / f"{name}.gz").unlink()
    with pytest.raises(MissingDataError) as error:
        check(config(), data_dir)
    message = str(error.value)
    assert message.startswith(f"{data_dir}: missing train-labels-idx1-ubyte, t10k-images-idx3-ubyte (nor .gz)")
    assert "--download" in message and "--data-dir" in message


def test_an_empty_data_dir_names_all_four(tmp_path):
    with pytest.raises(MissingDataError, match=", ".join(FILES)):
        check(config(), tmp_path)


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
        check(config(override), data_dir)
    assert str(error.value).startswith(f"the ingest settings do not fit the files in {data_dir}: ")
    assert problem in str(error.value)


def test_a_batch_larger_than_the_train_split_names_training_batch_size(data_dir):
    with pytest.raises(
        ConfigError, match=r"^'training\.batch_size' is 501, more than the 500 examples of the training split$"
    ):
        check(config("training.batch_size=501"), data_dir)
    check(config("training.batch_size=500"), data_dir)  # exactly the split: fits


def test_a_directory_instead_of_a_file_is_named(data_dir):
    (data_dir / f"{FILES[0]}.gz").unlink()
    (data_dir / FILES[0]).mkdir()
    with pytest.raises(PipelineError, match=rf"{FILES[0]}: a directory, not a file"):
        check(config(), data_dir)


def test_a_file_too_short_for_its_header_is_named(data_dir):
    (data_dir / f"{FILES[3]}.gz").unlink()
    (data_dir / FILES[3]).write_bytes(b"\x00\x00")
    with pytest.raises(IdxFormatError, match=rf"{FILES[3]}: file ends early"):
        check(config(), data_dir)


def test_an_image_shape_other_than_the_files_names_data_image_shape(data_dir):
    with pytest.raises(
        ConfigError,
        match=r"^'data.image_shape' is \[32, 32\], but .*train-images-idx3-ubyte.gz holds "
        r"images of \[28, 28\]$",
    ):
        check(config("data.image_shape=[32, 32]"), data_dir)


@pytest.mark.parametrize("name", ["", "MNIST", "my_pipeline", "-mnist"])
def test_a_pipeline_name_kubeflow_would_refuse_is_named(data_dir, name):
    with pytest.raises(
        ConfigError, match=rf"^'pipeline_name' must be lower-case letters, digits and '-' .*, got '{name}'$"
    ):
        check(config(f"pipeline_name={name!r}"), data_dir)


@pytest.mark.parametrize(
    "beam_args, reason",
    [
        (["--direct_num_workers=abc"], "argument --direct_num_workers: invalid int value: 'abc'"),
        (["--runner=DataflowRunner"], "Missing required option: project"),
    ],
)
def test_beam_flags_beam_would_refuse_are_refused_with_its_reasons(data_dir, beam_args, reason):
    with pytest.raises(ConfigError) as error:
        check(config(), data_dir, beam_args)
    assert str(error.value).startswith("Beam arguments (beam.pipeline_args, --beam-arg): ")
    assert reason in str(error.value)
    assert "\n" not in str(error.value)


def test_a_missing_or_broken_schema_file_is_named(data_dir, tmp_path):
    with pytest.raises(
        ConfigError, match=r"missing.pbtxt: cannot read the schema file set by 'validation.schema_file'"
    ):
        check(config(f"validation.schema_file={tmp_path / 'missing.pbtxt'}"), data_dir)
    (tmp_path / "broken.pbtxt").write_text('feature {\n  name: "image"\n  type: PIXELS\n}\n')
    with pytest.raises(ConfigError, match=r"broken.pbtxt: not a valid schema \(3:9 : .*PIXELS"):
        check(config(f"validation.schema_file={tmp_path / 'broken.pbtxt'}"), data_dir)


def test_a_file_that_is_no_metadata_store_is_named(data_dir, tmp_path):
    store = tmp_path / "metadata.sqlite"
    store.write_text("not a database")
    with pytest.raises(PipelineError, match=rf"^{store}: not an ML Metadata store; move it away"):
        check(config(), data_dir, output_dir=tmp_path)


def test_an_output_dir_in_use_is_refused_before_the_beam_arguments_are_read(data_dir, tmp_path):
    with OutputDirLock(tmp_path), pytest.raises(OutputDirBusy, match=rf"^{tmp_path}: another run \(process \d+\)"):
        check(config(), data_dir, beam_args=["--runner=NoSuchRunner"], output_dir=tmp_path)


@pytest.mark.parametrize(
    ("pipeline_root", "serving_dir", "output_dir", "problem"),
    [
        # The repro of issue 27: the next run's recovery deleted the served version.
        ("R", "R/models/mnist", "out", r"--serving-dir \S+/R/models/mnist lies inside --pipeline-root \S+/R: recovery"),
        ("R", "R", "out", r"--serving-dir \S+/R is --pipeline-root \S+/R: recovery"),
        ("S/pipeline", "S", "out", r"--pipeline-root \S+/S/pipeline lies inside --serving-dir \S+/S: the serving dir"),
        # An output dir TF Serving would read, and the Pusher's clean-up would delete.
        ("R", "S", "S/.staging-1", r"--output-dir \S+/S/.staging-1 lies inside --serving-dir \S+/S: the serving dir"),
        ("R", "S", "R/out", r"--output-dir \S+/R/out lies inside --pipeline-root \S+/R: recovery deletes"),
        ("out", "S", "out", r"--output-dir \S+/out is --pipeline-root \S+/out: recovery deletes"),
        ("R", "out", "out", r"--output-dir \S+/out is --serving-dir \S+/out: the serving dir"),
        ("out/serving", None, "out", r"--serving-dir \S+/out/serving is --pipeline-root \S+/out/serving"),
    ],
)
def test_folders_that_nest_dangerously_are_refused_naming_the_flags(
    data_dir, tmp_path, pipeline_root, serving_dir, output_dir, problem
):
    def located(path: str | None) -> str | None:
        return str(tmp_path / path) if path else None

    layout = OutputLayout(tmp_path / output_dir, located(pipeline_root), located(serving_dir))
    with pytest.raises(ConfigError, match=rf"^{problem}"):
        check_inputs(config(), str(data_dir), [], layout)


@pytest.mark.parametrize(
    ("pipeline_root", "serving_dir"),
    [
        (None, None),  # OUTPUT_DIR/pipeline and OUTPUT_DIR/serving
        ("elsewhere/pipeline", "elsewhere/serving"),
        ("out/serving-models", "out/serving"),  # a common prefix is not nesting
        ("s3://bucket/pipeline", "s3://bucket/serving"),
    ],
)
def test_folders_side_by_side_pass(data_dir, tmp_path, pipeline_root, serving_dir):
    def located(path: str | None) -> str | None:
        return path if path is None or "://" in path else str(tmp_path / path)

    layout = OutputLayout(tmp_path / "out", located(pipeline_root), located(serving_dir))
    check_inputs(config(), str(data_dir), [], layout)


def test_a_serving_dir_reached_through_a_link_is_found_inside_the_pipeline_root(data_dir, tmp_path):
    (tmp_path / "R" / "models").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "R" / "models")
    layout = OutputLayout(tmp_path / "out", str(tmp_path / "R"), str(tmp_path / "link"))
    with pytest.raises(ConfigError, match=r"--serving-dir \S+/R/models lies inside --pipeline-root"):
        check_inputs(config(), str(data_dir), [], layout)


def test_a_store_of_a_newer_schema_is_refused_in_one_line(data_dir, tmp_path):
    store = mlmd_builder.empty_store(tmp_path / "metadata.sqlite")
    with closing(sqlite3.connect(store)) as database, database:
        database.execute("UPDATE MLMDEnv SET schema_version = 99")
    with pytest.raises(PipelineError, match=rf"^{store}: written with MLMD schema version 99, but ml-metadata "):
        check(config(), data_dir, output_dir=tmp_path)


def test_a_store_another_process_holds_locked_is_said_to_be_in_use_not_foreign(data_dir, tmp_path):
    """Issue 27: it was "not an ML Metadata store; move it away", which would throw the lineage away."""
    store = mlmd_builder.empty_store(tmp_path / "metadata.sqlite")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_STORE_LOCKED, str(store)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(PipelineError, match=rf"^{store}: the metadata store is locked by another process"):
            check(config(), data_dir, output_dir=tmp_path)
    finally:
        holder.kill()
        holder.wait()
    check(config(), data_dir, output_dir=tmp_path)


HOLD_STORE_LOCKED = """
import sqlite3, sys, time
database = sqlite3.connect(sys.argv[1], isolation_level=None)
database.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize(
    "beam_arg, message",
    [
        ("--direct_num_worker=2", "Beam has no option --direct_num_worker (did you mean --direct_num_workers?)"),
        ("--bogus_flag=1", "Beam has no option --bogus_flag"),
        ("--flink_mastr=localhost:8081", "Beam has no option --flink_mastr (did you mean --flink_master?)"),
        ("direct_num_workers=2", "not a flag; Beam takes flags only (--name=value)"),
    ],
)
def test_a_flag_beam_does_not_know_is_refused_naming_the_nearest_it_knows(data_dir, beam_arg, message):
    with pytest.raises(ConfigError) as error:
        check(config(), data_dir, ["--direct_running_mode=in_memory", beam_arg])
    assert str(error.value) == f"--beam-arg={beam_arg}: {message}"


def test_an_unknown_flag_from_the_config_file_names_beam_pipeline_args(data_dir):
    with pytest.raises(ConfigError, match=r"^beam\.pipeline_args: --bogus: Beam has no option --bogus$"):
        check(config("beam.pipeline_args=['--bogus']"), data_dir, ["--bogus"])


def test_flink_flags_and_a_flag_with_its_value_after_it_are_known(data_dir):
    from pipeline.local.preflight import check_beam_flag_names

    check_beam_flag_names(["--flink_version", "1.18", "--parallelism=2", "--experiments=x", "--job-server-timeout=5"])


@pytest.mark.parametrize("compress", [True, False])
def test_a_data_file_cut_in_half_is_named_before_anything_runs(tmp_path, compress):
    write_fake_mnist(tmp_path, compress=compress)
    name = FILES[0] + (".gz" if compress else "")
    whole = (tmp_path / name).read_bytes()
    (tmp_path / name).write_bytes(whole[: len(whole) // 2])
    with pytest.raises(IdxFormatError) as error:
        check(config(), tmp_path)
    assert str(error.value).startswith(f"{tmp_path / name}: ")
    assert str(error.value).endswith(": cut short or not the file it should be; fetch it again")
