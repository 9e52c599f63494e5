"""pipeline/inspect/run_made.py: how a run was made (runner, config file and overrides, the
settings that decide the result, the data dir, the code's revision), on the run's context in a
real SQLite ML Metadata store."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.config import load_config
from pipeline.inspect import run_made, store


def made(beam_args=("--direct_num_workers=1",), overrides=("training.learning_rate=0.01",)) -> run_made.RunMade:
    config = load_config(overrides=list(overrides)).as_dict()
    return run_made.run_made("local", list(beam_args), Path("mine.yaml"), list(overrides), "/data/mnist", config)


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


def store_with_a_run(path: Path, run_id: str) -> None:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    store = metadata_store.MetadataStore(config)
    type_id = store.put_context_type(metadata_store_pb2.ContextType(name="pipeline_run"))
    store.put_contexts([metadata_store_pb2.Context(type_id=type_id, name=run_id)])


def test_what_is_recorded_on_the_run_context_reads_back(tmp_path):
    store_with_a_run(tmp_path / "metadata.sqlite", "20261206-010101-000001")
    run_made.record(tmp_path / "metadata.sqlite", "20261206-010101-000001", made())
    run_made.record(tmp_path / "metadata.sqlite", "no-such-run", made())  # a run that never reached the store
    metadata = store.open_store(tmp_path / "metadata.sqlite")
    assert run_made.read(store.find_run_context(metadata, "20261206-010101-000001")) == made()
