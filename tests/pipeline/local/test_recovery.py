"""pipeline/local/recovery.py: what unfinished runs and lost stores left, put right under the lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from components.serving_dir import MARKER_FILE
from pipeline.local import recovery


def new_store(path: Path) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


def artifact_folders(root: Path, *relative: str) -> list[Path]:
    """Folders `<node>/<key>/<id>` with a file each, in node folders as TFX makes them (with `.system/`)."""
    folders = [root / name for name in relative]
    for folder in folders:
        folder.mkdir(parents=True)
        (folder / "data").write_text("x")
        (root / Path(folder.relative_to(root).parts[0]) / ".system").mkdir(exist_ok=True)
    return folders


def write_marker(version: Path, model_uri: Path) -> None:
    """The least of a version's marker: the model it came from."""
    (version / MARKER_FILE).parent.mkdir(parents=True)
    (version / MARKER_FILE).write_text(json.dumps({"model_uri": str(model_uri)}))


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

    cleanup = recovery.remove_unrecorded(str(root), store)

    assert cleanup == recovery.Cleanup(removed=[str(unrecorded)], kept=[])
    assert recorded.exists() and value.exists() and not unrecorded.exists()
    assert (root / "Trainer" / ".system" / "executor_execution" / "7").exists()


def test_without_a_store_every_artifact_folder_goes(tmp_path):
    """A store that was deleted: its runs' folders would take the new store's execution ids."""
    folders = artifact_folders(tmp_path / "pipeline", "IdxExampleGen/examples/3", "ImportSchemaGen/schema/2")
    assert sorted(recovery.remove_unrecorded(str(tmp_path / "pipeline"), None).removed) == sorted(map(str, folders))
    assert recovery.remove_unrecorded(str(tmp_path / "missing"), None) == recovery.Cleanup([], [])


def test_folders_tfx_did_not_make_are_never_touched(tmp_path):
    """Issue 27: `--pipeline-root R --serving-dir R/models/mnist` lost its served version to the next
    run's recovery (preflight now refuses the layout; this is the second guard)."""
    root = tmp_path / "R"
    version = root / "models" / "mnist" / "1796514076"
    version.mkdir(parents=True)
    write_marker(version, root / "Trainer" / "model" / "7")
    [unrecorded] = artifact_folders(root, "Trainer/model/8")

    cleanup = recovery.remove_unrecorded(str(root), new_store(tmp_path / "metadata.sqlite"))

    assert cleanup == recovery.Cleanup(removed=[str(unrecorded)], kept=[])
    assert version.exists()


def test_what_is_in_holds_or_is_the_serving_dir_or_holds_the_output_dir_is_kept(tmp_path):
    root = tmp_path / "R"
    serving = root / "Pusher" / "serving"
    version, holder, output_dir, unrecorded = artifact_folders(
        root, "Pusher/serving/1796514076", "Trainer/models/1", "Evaluator-test/runs/2024", "Trainer/model/8"
    )
    write_marker(version, unrecorded)

    cleanup = recovery.remove_unrecorded(
        str(root), None, [str(serving), str(holder / "mnist")], [str(output_dir / "outputs")]
    )

    assert cleanup == recovery.Cleanup(removed=[str(unrecorded)], kept=[str(output_dir), str(version), str(holder)])


def test_a_serving_dir_named_through_a_symbolic_link_is_still_kept(tmp_path):
    """A serving dir (a previous run's, which preflight never saw) that names a folder under the
    pipeline root through a link: the same folder, so it is kept, as preflight compares them."""
    root = tmp_path / "R"
    version, unrecorded = artifact_folders(root, "Pusher/serving/1796514076", "Trainer/model/8")
    write_marker(version, unrecorded)
    (tmp_path / "link").symlink_to(root / "Pusher")

    cleanup = recovery.remove_unrecorded(str(root), None, [str(tmp_path / "link" / "serving")])

    assert cleanup == recovery.Cleanup(removed=[str(unrecorded)], kept=[str(version)])
    assert version.exists()


def test_in_the_default_layout_a_lost_stores_folders_all_go(tmp_path):
    """OUTPUT_DIR/pipeline and OUTPUT_DIR/serving: the output dir holds the pipeline root, which guards
    nothing; the model a served version came from goes too (a new store's Trainer takes its id, and
    would write into it; the version is a whole copy)."""
    root, serving = tmp_path / "pipeline", tmp_path / "serving"
    served_model, examples = artifact_folders(root, "Trainer/model/7", "IdxExampleGen/examples/3")
    [version] = artifact_folders(serving, "1796514076")
    write_marker(version, served_model)

    cleanup = recovery.remove_unrecorded(str(root), None, [str(serving)], [str(tmp_path)])

    assert cleanup == recovery.Cleanup(removed=[str(examples), str(served_model)], kept=[])
    assert version.exists()


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
