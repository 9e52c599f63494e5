"""pipeline/inspect/run_made.py: how a run was made (Beam runner, config file and overrides, the
settings that decide the result, the data dir, the code's revision); its recording on the run's
context is tests/pipeline/local/test_store_writes.py's."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2

from pipeline.config import load_config
from pipeline.inspect import run_made
from pipeline.inspect.store import StoreError


def made(beam_args=("--direct_num_workers=1",), overrides=("training.learning_rate=0.01",)) -> run_made.RunMade:
    config = load_config(overrides=list(overrides)).as_dict()
    return run_made.run_made(list(beam_args), Path("mine.yaml"), list(overrides), "/data/mnist", config)


def test_every_setting_that_decides_the_result_is_there_not_only_training():
    settings = made().settings
    assert settings["training.learning_rate"] == 0.01
    assert settings["evaluation.min_precision_at_1"] == 0.95
    assert settings["ingest.validation_size"] == 5000
    assert "validation.schema_file" in settings and "data.image_shape" in settings
    assert not any(key.startswith(("beam.", "kubeflow.", "metadata.")) for key in settings)


def test_the_beam_runner_is_the_last_runner_flag_else_directrunner():
    assert made().beam_runner == "DirectRunner"
    assert made(beam_args=["--runner=DirectRunner", "--runner=FlinkRunner"]).beam_runner == "FlinkRunner"


def git(checkout: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(checkout), *args], check=True, capture_output=True)


def test_the_source_revision_is_git_describe_with_dirty(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git(tmp_path, "add", "code.py")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    head = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert run_made.source_revision(tmp_path) == f"git {head}"
    (tmp_path / "code.py").write_text("x = 2\n")
    assert run_made.source_revision(tmp_path) == f"git {head}-dirty"


def test_outside_git_the_source_revision_is_the_package_version(tmp_path):
    assert run_made.source_revision(tmp_path).startswith("mnist-pipeline 0.")


def test_what_set_on_puts_on_a_run_read_gives_back():
    run = metadata_store_pb2.Context(name="20261130-000100-000001")
    run_made.set_on(run, made())
    assert run_made.read(run) == made()


def test_a_run_made_of_another_form_is_refused_in_one_line_naming_the_run():
    """docs/design.md, "What an older version left": a `runner` field, which this version no longer writes
    (a newer version's extra field is refused alike)."""
    run = metadata_store_pb2.Context(name="20261130-000100-000001")
    older = {"runner": "local", **dataclasses.asdict(made()), "source_revision": "git 84e569e"}
    run.custom_properties[run_made.PROPERTY].string_value = json.dumps(older)
    with pytest.raises(StoreError) as refused:
        run_made.read(run)
    assert str(refused.value) == (
        f"run {run.name}: its run_made is of another form (runner), recorded by git 84e569e: give another --output-dir"
    )
