"""pipeline/local/recovery.py: what unfinished runs and lost stores left, put right under the lock."""

from __future__ import annotations

from pathlib import Path

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.local import recovery


def new_store(path: Path) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


def artifact_folders(root: Path, *relative: str) -> list[Path]:
    folders = [root / name for name in relative]
    for folder in folders:
        folder.mkdir(parents=True)
        (folder / "data").write_text("x")
    return folders


def test_artifact_folders_no_record_names_are_removed(tmp_path):
    root = tmp_path / "pipeline"
    recorded, value, unrecorded = artifact_folders(
        root, "IdxExampleGen/examples/3", "DataProbe/value/1", "Trainer/model/7"
    )
    (root / "Trainer" / ".system" / "executor_execution" / "7").mkdir(parents=True)  # TFX's own, not an output
    store = new_store(tmp_path / "metadata.sqlite")
    type_id = store.put_artifact_type(metadata_store_pb2.ArtifactType(name="Examples"))
    store.put_artifacts(
        [
            metadata_store_pb2.Artifact(type_id=type_id, uri=str(recorded)),
            metadata_store_pb2.Artifact(type_id=type_id, uri=str(value / "value")),
        ]
    )

    removed = recovery.remove_unrecorded(str(root), store)

    assert removed == [str(unrecorded)]
    assert recorded.exists() and value.exists() and not unrecorded.exists()
    assert (root / "Trainer" / ".system" / "executor_execution" / "7").exists()


def test_without_a_store_every_artifact_folder_goes(tmp_path):
    """A store that was deleted: its runs' folders would take the new store's execution ids."""
    folders = artifact_folders(tmp_path / "pipeline", "IdxExampleGen/examples/3", "ImportSchemaGen/schema/2")
    assert sorted(recovery.remove_unrecorded(str(tmp_path / "pipeline"), None)) == sorted(map(str, folders))
    assert recovery.remove_unrecorded(str(tmp_path / "missing"), None) == []


def test_a_pipeline_root_belongs_to_one_store(tmp_path):
    root = str(tmp_path / "shared-root")
    recovery.claim_pipeline_root(root, tmp_path / "a" / "metadata.sqlite")
    recovery.claim_pipeline_root(root, tmp_path / "a" / "metadata.sqlite")  # its own: fine
    with pytest.raises(
        recovery.PipelineRootTaken,
        match=r"holds the artifacts of the metadata store .*a/metadata.sqlite, "
        r"not of .*b/metadata.sqlite; give each output dir",
    ):
        recovery.claim_pipeline_root(root, tmp_path / "b" / "metadata.sqlite")
