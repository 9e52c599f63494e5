"""pipeline/inspect/interrupted.py: `lineage` and `report` read the store as it is, never write it."""

from __future__ import annotations

from ml_metadata.proto import metadata_store_pb2

from pipeline.config import load_config
from pipeline.inspect import interrupted

from support import mlmd_builder


def test_the_store_is_read_as_it_is_even_in_an_idle_output_dir(tmp_path):
    mlmd = mlmd_builder.sqlite_store(tmp_path / "metadata.sqlite")
    execution_type = mlmd.put_execution_type(metadata_store_pb2.ExecutionType(name="Trainer"))
    [running] = mlmd.put_executions(
        [metadata_store_pb2.Execution(type_id=execution_type, last_known_state=metadata_store_pb2.Execution.RUNNING)]
    )
    reader = interrupted.open_for_reading(tmp_path, load_config().metadata)
    [execution] = reader.get_executions_by_id([running])
    assert execution.last_known_state == metadata_store_pb2.Execution.RUNNING  # recording it is the local side's
