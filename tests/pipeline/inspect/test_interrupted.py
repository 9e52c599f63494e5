"""pipeline/inspect/interrupted.py: executions a stopped run left running are recorded as interrupted."""

from __future__ import annotations

from pathlib import Path

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.inspect import interrupted
from pipeline.output_dir import OutputDirLock


def new_store(path: Path) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


def test_executions_left_running_are_recorded_as_interrupted(tmp_path):
    store = new_store(tmp_path / "metadata.sqlite")
    execution_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name="Trainer"))
    states = [
        metadata_store_pb2.Execution.RUNNING,
        metadata_store_pb2.Execution.COMPLETE,
        metadata_store_pb2.Execution.NEW,
        metadata_store_pb2.Execution.FAILED,
    ]
    ids = store.put_executions(
        [metadata_store_pb2.Execution(type_id=execution_type, last_known_state=state) for state in states]
    )

    marked = interrupted.mark_interrupted(interrupted.open_writable(tmp_path / "metadata.sqlite"))

    assert sorted(marked) == [ids[0], ids[2]]
    assert [execution.last_known_state for execution in store.get_executions_by_id(ids)] == [
        metadata_store_pb2.Execution.CANCELED,
        metadata_store_pb2.Execution.COMPLETE,
        metadata_store_pb2.Execution.CANCELED,
        metadata_store_pb2.Execution.FAILED,
    ]
    assert interrupted.mark_interrupted(store) == []


def test_readers_record_killed_runs_only_when_no_run_holds_the_dir_and_a_store_is_there(tmp_path):
    (tmp_path / "metadata.sqlite").write_bytes(b"")  # an empty file: opening it for writing would make a store
    interrupted.record_killed_runs(tmp_path)
    assert (tmp_path / "metadata.sqlite").read_bytes() == b""

    store = new_store(tmp_path / "metadata.sqlite")
    execution_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name="Trainer"))
    [running] = store.put_executions(
        [metadata_store_pb2.Execution(type_id=execution_type, last_known_state=metadata_store_pb2.Execution.RUNNING)]
    )
    with OutputDirLock(tmp_path):  # a live run
        interrupted.record_killed_runs(tmp_path)
        [execution] = store.get_executions_by_id([running])
        assert execution.last_known_state == metadata_store_pb2.Execution.RUNNING
    interrupted.record_killed_runs(tmp_path)
    [execution] = store.get_executions_by_id([running])
    assert execution.last_known_state == metadata_store_pb2.Execution.CANCELED
