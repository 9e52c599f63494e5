"""pipeline/inspect/artifacts.py: artifacts listed with their metrics, found by id, URI or as the
model served now, and traced; on runs tests/support/mlmd_builder.py wrote."""

from __future__ import annotations

import pytest
from google.protobuf import json_format

from components import serving_dir as serving_dir_module
from pipeline import node_ids
from pipeline.inspect import artifacts, store
from pipeline.inspect.states import ComponentStatus

from support import mlmd_builder
from support.fake_artifacts import VALIDATION
from support.fake_mnist import FILE_NAMES


def test_artifacts_are_typed_by_tfx_names_in_both_layouts(written):
    [examples] = artifacts.list_artifacts(written.store, "examples", written.first.run_id)
    assert examples.type == "Examples" and examples.state == "LIVE"
    assert store.split_names(examples.properties) == ["train", "validation", "test"]
    assert examples.properties["shard_sha256"].keys() == {"train", "validation", "test"}  # a struct, unwrapped
    [evaluation, *_] = artifacts.list_artifacts(written.store, "ModelEvaluation", written.third.run_id)
    assert evaluation.metrics["precision_at_1"] == 0.91 and evaluation.properties["validation_failures"] == []
    models = [m for m in artifacts.list_artifacts(written.store, "Model") if "served" not in m.properties]
    assert [model.metrics["validation"]["precision_at_1"] for model in models] == [0.91, 0.904]  # newest first
    with pytest.raises(store.StoreError, match="unknown artifact type 'Modle' \\(known: "):
        artifacts.list_artifacts(written.store, "Modle")


def test_trace_of_the_served_model_goes_back_to_the_idx_files(written):
    trace = artifacts.trace(written.store, artifacts.PUSHED_LATEST, str(written.root / "serving"))
    assert trace.artifact.type == "PushedModel"
    assert trace.artifact.properties["pushed_version"] == written.third.pushed_version
    steps = {step.execution.node_id: step for step in trace.upstream}
    assert set(steps) == set(mlmd_builder.COMPONENTS) - {node_ids.TEST_EVALUATOR}
    trainer = steps[node_ids.TRAINER]
    assert trainer.execution.run_ids == [written.third.run_id] and trainer.parameters["learning_rate"] == 0.01
    # The component's class in TFX's layout; KFP types every task's execution alike.
    kfp = written.root.name.startswith("kfp")
    assert trainer.versions["component"] == (
        "system.ContainerExecution" if kfp else mlmd_builder.COMPONENTS[node_ids.TRAINER]
    )
    assert trainer.versions["code_sha256"] == trainer.parameters["code_sha256"]
    assert {(f.role, f.name) for f in trace.input_files} == {(r, f"{n}.gz") for r, n in FILE_NAMES.items()}
    assert trace.downstream == []


def test_the_served_version_is_credited_by_its_content(tfx_written, tmp_path):
    """pushed:latest is the highest version in the serving dir, found by the model_sha256 its marker holds."""
    serving_dir = tmp_path / "serving"
    metadata, first = tfx_written.store, tfx_written.first
    version = serving_dir / "1999999999"  # higher than any pushed; the first run's model, its push not recorded
    [model] = metadata.get_artifacts_by_id(first.outputs[node_ids.TRAINER]["model"])
    manifest = json_format.MessageToDict(model.custom_properties["file_sha256"].struct_value)
    serving_dir_module.write_marker(str(version), model.uri, manifest, VALIDATION)
    found = artifacts.find_artifact(metadata, artifacts.PUSHED_LATEST, str(serving_dir))
    assert (found.type, found.id) == ("Model", model.id)
    assert "push not recorded" in found.properties["served_as"]
    serving_dir_module.write_marker(str(version), model.uri, {"saved_model.pb": "another model"}, VALIDATION)
    with pytest.raises(store.StoreError, match="served, but no model in the metadata store has its content"):
        artifacts.find_artifact(metadata, artifacts.PUSHED_LATEST, str(serving_dir))


def test_trace_of_a_model_lists_what_used_it(tfx_written):
    model_id = tfx_written.first.outputs[node_ids.TRAINER]["model"][0]
    trace = artifacts.trace(tfx_written.store, str(model_id))
    uses = [(e.node_id, e.status, e.run_ids) for e in trace.downstream]
    assert (node_ids.PUSHER, ComponentStatus.RAN, [tfx_written.second.run_id]) in uses
    assert (node_ids.TRAINER, ComponentStatus.CACHED, [tfx_written.second.run_id]) not in uses  # reused, not used
    assert {a.type for e in trace.downstream for a in store.artifacts_of([e], "outputs")} >= {
        "ModelEvaluation",
        "ModelBlessing",
        "PushedModel",
    }
    assert store.producer_run(tfx_written.store, model_id) == tfx_written.first.run_id


def test_the_recorded_push_is_found_through_a_link_to_the_serving_dir(written, tmp_path):
    """The serving dir named through a symbolic link is the place the push recorded (output_dir.normalized)."""
    link = tmp_path / "link"
    link.symlink_to(written.root, target_is_directory=True)
    found = artifacts.find_artifact(written.store, artifacts.PUSHED_LATEST, str(link / "serving"))
    assert found.type == "PushedModel" and "served_as" not in found.properties
    assert found.properties["pushed_version"] == written.third.pushed_version
