"""pipeline/local/store_writes.py: executions a stopped run left running are recorded as
interrupted, and how a run was made goes on its context, in real SQLite ML Metadata stores."""

from __future__ import annotations

import threading
from pathlib import Path

from ml_metadata.proto import metadata_store_pb2

from pipeline.config import MetadataConfig, load_config
from pipeline.inspect import run_made, store
from pipeline.local import store_writes
from pipeline.output_dir import OutputDirLock

from support import mlmd_builder, mlmd_grpc


def test_executions_left_running_are_recorded_as_interrupted(tmp_path):
    mlmd = mlmd_builder.sqlite_store(tmp_path / "metadata.sqlite")
    execution_type = mlmd.put_execution_type(metadata_store_pb2.ExecutionType(name="Trainer"))
    states = [
        metadata_store_pb2.Execution.RUNNING,
        metadata_store_pb2.Execution.COMPLETE,
        metadata_store_pb2.Execution.NEW,
        metadata_store_pb2.Execution.FAILED,
    ]
    ids = mlmd.put_executions(
        [metadata_store_pb2.Execution(type_id=execution_type, last_known_state=state) for state in states]
    )

    marked = store_writes.mark_interrupted(store_writes.open_writable(tmp_path / "metadata.sqlite"))

    assert sorted(marked) == [ids[0], ids[2]]
    assert [execution.last_known_state for execution in mlmd.get_executions_by_id(ids)] == [
        metadata_store_pb2.Execution.CANCELED,
        metadata_store_pb2.Execution.COMPLETE,
        metadata_store_pb2.Execution.CANCELED,
        metadata_store_pb2.Execution.FAILED,
    ]
    assert store_writes.mark_interrupted(mlmd) == []


def test_readers_record_killed_runs_only_when_no_run_holds_the_dir_and_a_store_is_there(tmp_path):
    (tmp_path / "metadata.sqlite").write_bytes(b"")  # an empty file: opening it for writing would make a store
    store_writes.record_killed_runs(tmp_path)
    assert (tmp_path / "metadata.sqlite").read_bytes() == b""

    mlmd, running = mlmd_builder.left_running(tmp_path / "metadata.sqlite")
    with OutputDirLock(tmp_path):  # a live run
        store_writes.record_killed_runs(tmp_path)
        [execution] = mlmd.get_executions_by_id([running])
        assert execution.last_known_state == metadata_store_pb2.Execution.RUNNING
    store_writes.record_killed_runs(tmp_path)
    [execution] = mlmd.get_executions_by_id([running])
    assert execution.last_known_state == metadata_store_pb2.Execution.CANCELED


def test_reading_kubeflows_store_over_grpc_leaves_the_local_store_untouched(tmp_path):
    local, running = mlmd_builder.left_running(tmp_path / "metadata.sqlite")  # an idle output dir's store
    kubeflow = mlmd_builder.sqlite_store(tmp_path / "kubeflow.sqlite")
    kubeflow.put_execution_type(metadata_store_pb2.ExecutionType(name="system.ContainerExecution"))

    with mlmd_grpc.serve(kubeflow, threading.RLock()) as (host, port):
        reader = store_writes.open_for_reading(tmp_path, MetadataConfig(grpc_host=host, grpc_port=port))
        assert [t.name for t in reader.get_execution_types()] == ["system.ContainerExecution"]

    [execution] = local.get_executions_by_id([running])
    assert execution.last_known_state == metadata_store_pb2.Execution.RUNNING


def test_reading_the_local_store_records_what_a_killed_run_left_running_first(tmp_path):
    local, running = mlmd_builder.left_running(tmp_path / "metadata.sqlite")
    reader = store_writes.open_for_reading(tmp_path, load_config().metadata)
    [execution] = reader.get_executions_by_id([running])
    assert execution.last_known_state == metadata_store_pb2.Execution.CANCELED


def made() -> run_made.RunMade:
    overrides = ["training.learning_rate=0.01"]
    config = load_config(overrides=overrides).as_dict()
    return run_made.run_made(["--direct_num_workers=1"], Path("mine.yaml"), overrides, "/data/mnist", config)


def test_how_a_run_was_made_is_recorded_on_its_context_and_reads_back(tmp_path):
    mlmd = mlmd_builder.sqlite_store(tmp_path / "metadata.sqlite")
    type_id = mlmd.put_context_type(metadata_store_pb2.ContextType(name="pipeline_run"))
    mlmd.put_contexts([metadata_store_pb2.Context(type_id=type_id, name="20261206-010101-000001")])

    store_writes.record_run_made(tmp_path / "metadata.sqlite", "20261206-010101-000001", made())
    store_writes.record_run_made(tmp_path / "metadata.sqlite", "no-such-run", made())  # never reached the store

    reader = store.open_store(tmp_path / "metadata.sqlite")
    assert run_made.read(store.find_run_context(reader, "20261206-010101-000001")) == made()
