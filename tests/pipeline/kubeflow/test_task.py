"""pipeline/kubeflow/task.py: the executor input as open-source KFP writes it, made what TFX's runner reads.

The examples are written as KFP 2.17.0's driver and launcher write them (tests/support/kfp_launcher.py
models both); the whole compiled spec runs through the command in tests/e2e/test_kubeflow_spec.py,
which also removes folder markers on s3://.
"""

from __future__ import annotations

import copy
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from gcp_storage_emulator.server import create_server
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils

from pipeline.kubeflow.task import adapt_executor_input, output_uris, remove_folder_markers

from support.kfp_launcher import EXECUTOR_LOGS
from support.kfp_metadata import KfpMetadata

EXAMPLES_TYPE = {"instanceSchema": "title: tfx.Examples\ntype: object\n"}
INPUTS_SPEC = {
    "artifacts": {"examples": {"artifactType": EXAMPLES_TYPE}},
    "parameters": {"run_fn": {"parameterType": "STRING"}},
}
WRITTEN_METADATA = {
    "shard_sha256": {"train": {"a.gz": "0f"}},
    "splits": ["train"],
    "num_examples_train": 5,
    "split_names": '["train"]',
}


def kfp_executor_input(tmp_path: Path) -> dict:
    """What KFP's driver hands the Trainer: the Examples as MLMD returns them, plus the log output."""
    store = KfpMetadata(tmp_path / "metadata.sqlite")
    examples_id = store.record_artifact(
        "examples",
        {"instanceSchema": "title: tfx.Examples\n"},
        {"uri": "s3://b/examples", "metadata": WRITTEN_METADATA},
    )
    return {
        "inputs": {
            "artifacts": {"examples": {"artifacts": [store.runtime_artifact(examples_id)]}},
            "parameterValues": {"run_fn": "m.run_fn"},
        },
        "outputs": {
            "artifacts": {
                "model": {"artifacts": [{"name": "model", "uri": "s3://b/t/1/model", "type": {"instanceSchema": "x"}}]},
                EXECUTOR_LOGS: {
                    "artifacts": [
                        {
                            "name": EXECUTOR_LOGS,
                            "uri": "s3://b/t/1/executor-logs",
                            "type": {"schemaTitle": "system.Artifact"},
                        }
                    ]
                },
            },
            "outputFile": "/s3/b/t/1/output_metadata.json",
        },
    }


def test_an_untyped_input_gets_the_type_its_task_declares_and_tfx_can_read_it(tmp_path):
    untyped = kfp_executor_input(tmp_path)
    assert untyped["inputs"]["artifacts"]["examples"]["artifacts"][0]["type"] == {"instanceSchema": ""}

    adapted = adapt_executor_input(untyped, INPUTS_SPEC)

    [examples] = adapted["inputs"]["artifacts"]["examples"]["artifacts"]
    assert examples["type"] == EXAMPLES_TYPE
    parsed = json_format.ParseDict(adapted, pipeline_spec_pb2.ExecutorInput(), ignore_unknown_fields=True)
    [tfx_examples] = kubeflow_v2_entrypoint_utils.parse_raw_artifact_dict(parsed.inputs.artifacts)["examples"]
    assert tfx_examples.type_name == "Examples"


def test_metadata_that_went_through_mlmd_reads_as_it_was_written(tmp_path):
    wrapped = kfp_executor_input(tmp_path)["inputs"]["artifacts"]["examples"]["artifacts"][0]["metadata"]
    assert wrapped["shard_sha256"] == {"struct": WRITTEN_METADATA["shard_sha256"]}
    assert wrapped["splits"] == {"list": ["train"]}

    adapted = adapt_executor_input(kfp_executor_input(tmp_path), INPUTS_SPEC)

    metadata = adapted["inputs"]["artifacts"]["examples"]["artifacts"][0]["metadata"]
    assert {name: metadata[name] for name in WRITTEN_METADATA} == {**WRITTEN_METADATA, "num_examples_train": 5.0}


def test_the_launchers_own_log_output_is_not_handed_to_tfx(tmp_path):
    adapted = adapt_executor_input(kfp_executor_input(tmp_path), INPUTS_SPEC)
    assert list(adapted["outputs"]["artifacts"]) == ["model"]
    assert output_uris(adapted) == ["s3://b/t/1/model"]


def test_vertex_ais_executor_input_is_left_as_it_is(tmp_path):
    """Declared types, metadata verbatim, no launcher outputs."""
    vertex = kfp_executor_input(tmp_path)
    [examples] = vertex["inputs"]["artifacts"]["examples"]["artifacts"]
    examples.update(type=EXAMPLES_TYPE, metadata=WRITTEN_METADATA)
    del vertex["outputs"]["artifacts"][EXECUTOR_LOGS]
    assert adapt_executor_input(copy.deepcopy(vertex), INPUTS_SPEC) == vertex


@pytest.fixture
def gcs(monkeypatch) -> Iterator[storage.Bucket]:
    """A local GCS server (gcp-storage-emulator) with a bucket, which google-cloud-storage reaches
    through STORAGE_EMULATOR_HOST, as the task command's clean-up does."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="bucket")
    server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    yield storage.Client(project="test", credentials=AnonymousCredentials()).bucket("bucket")
    server.stop()


def test_folder_markers_under_an_output_are_removed_on_gcs(gcs):
    """The empty `name/` objects TensorFlow's GCS filesystem writes, on which KFP's launcher fails."""
    for name, content in [
        ("root/task/examples/", b""),
        ("root/task/examples/Split-train/", b""),
        ("root/task/examples/Split-train/data.gz", b"data"),
        ("root/other/", b""),
    ]:
        gcs.blob(name).upload_from_string(content)

    removed = remove_folder_markers("gs://bucket/root/task/examples")

    assert removed == ["gs://bucket/root/task/examples/", "gs://bucket/root/task/examples/Split-train/"]
    assert sorted(blob.name for blob in gcs.client.list_blobs("bucket")) == [
        "root/other/",
        "root/task/examples/Split-train/data.gz",
    ]
