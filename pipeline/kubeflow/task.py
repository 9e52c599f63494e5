"""The command of every Kubeflow task: TFX's executor runner, made to run on open-source KFP too.

KubeflowV2DagRunner's default command is `python -m
tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor`; the compiled spec names this
module instead (compiler.TASK_COMMAND), with the same arguments. TFX 1.16's runner reads
the executor input as Vertex AI writes it. Open-source KFP's driver and launcher
(kubeflow/pipelines backend/src/v2, 2.x) write it otherwise, so adapt_executor_input rewrites it
first; on Vertex AI it changes nothing:

* input artifacts arrive with an empty type (metadata/client.go: GetOutputArtifactsByExecutionId
  sets `Schema: ""`, OutputArtifact.ToRuntimeArtifact puts it into `instanceSchema`), on which
  TFX's runner crashes (tensorflow/tfx#7768): the type comes from the task's own inputs spec,
  which TFX compiles into the `--json_serialized_inputs_spec_args` argument;
* their metadata went through ML Metadata (metadata/converter.go: StructValueToMLMDValue stores
  a struct as {"struct": ...} and a list as {"list": ...}, toRuntimeArtifact hands them back so):
  unwrapped, so that e.g. the ingest's shard checksums read as they were written;
* the launcher adds an output `executor-logs` of type `system.Artifact` (driver/driver.go
  provisionOutputs, when the API server's PUBLISH_LOGS is true, as KFP's manifests set it) for
  the logs it uploads itself; TFX cannot import that type, and it is not TFX's to write.

After the executor, the objects that only mark a folder (`name/`, which TensorFlow's GCS
filesystem writes for every folder it makes) are deleted under the task's outputs: KFP's
launcher downloads every input artifact into the pod and fails on them
(component/launcher_v2.go downloadArtifacts; kubeflow/pipelines#13476).

The module also registers s3:// (TFX's standard executors do not import tensorflow-io) and ends
the process through components/workarounds.py run_then_exit, which tensorflow-io cannot abort.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

LAUNCHER_OUTPUTS = ("executor-logs",)  # outputs KFP's launcher provisions and writes itself
MLMD_WRAPPERS = ("struct", "list")  # the keys metadata/converter.go wraps struct and list values in


def adapt_executor_input(executor_input: dict[str, Any], inputs_spec: dict[str, Any]) -> dict[str, Any]:
    """The executor input (protojson, as KFP passes it) as TFX's runner needs it; see the module doc."""
    adapted = copy.deepcopy(executor_input)
    declared = inputs_spec.get("artifacts", {})
    for key, artifact_list in adapted.get("inputs", {}).get("artifacts", {}).items():
        for artifact in artifact_list.get("artifacts", []):
            if not _has_type(artifact) and key in declared:
                artifact["type"] = copy.deepcopy(declared[key]["artifactType"])
            artifact["metadata"] = {name: _unwrapped(value) for name, value in artifact.get("metadata", {}).items()}
    outputs = adapted.get("outputs", {}).get("artifacts", {})
    for key in LAUNCHER_OUTPUTS:
        outputs.pop(key, None)
    return adapted


def output_uris(executor_input: dict[str, Any]) -> list[str]:
    """The URIs of the task's output artifacts."""
    return [
        artifact["uri"]
        for artifact_list in executor_input.get("outputs", {}).get("artifacts", {}).values()
        for artifact in artifact_list.get("artifacts", [])
        if artifact.get("uri")
    ]


def _has_type(artifact: dict[str, Any]) -> bool:
    artifact_type = artifact.get("type") or {}
    return bool(artifact_type.get("instanceSchema") or artifact_type.get("schemaTitle"))


def _unwrapped(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in MLMD_WRAPPERS:
        return next(iter(value.values()))
    return value


def remove_folder_markers(uri: str) -> list[str]:
    """Deletes the empty objects named `.../` under `uri` (gs:// or s3://); returns their URIs."""
    scheme, _, path = uri.partition("://")
    bucket, _, prefix = path.partition("/")
    prefix = prefix.rstrip("/") + "/"
    if scheme == "s3":
        import boto3  # the AWS settings and endpoint come from the environment, as for tensorflow-io

        client = boto3.client("s3")
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        markers = [
            item["Key"]
            for page in pages
            for item in page.get("Contents", [])
            if item["Key"].endswith("/") and item["Size"] == 0
        ]
        for key in markers:
            client.delete_object(Bucket=bucket, Key=key)
    elif scheme == "gs":
        from google.cloud import storage

        blobs = [
            blob
            for blob in storage.Client().list_blobs(bucket, prefix=prefix)
            if blob.name.endswith("/") and blob.size == 0
        ]
        for blob in blobs:
            blob.delete()
        markers = [blob.name for blob in blobs]
    else:
        return []
    return [f"{scheme}://{bucket}/{key}" for key in markers]


def _run_task(parsed_argv: tuple[Any, list[str]]) -> None:
    """Adapts the executor input, runs TFX's executor runner, then removes folder markers."""
    from tfx.orchestration.kubeflow.v2 import compiler_utils
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

    from pipeline.kubeflow.run_report import UI_ARTIFACT_CLASSES

    # TFX's entrypoint imports an artifact's class by its schema title: the KFP UI's types are ours.
    compiler_utils.TITLE_TO_CLASS_PATH.update(UI_ARTIFACT_CLASSES)
    args, beam_args = parsed_argv
    executor_input = adapt_executor_input(
        json.loads(args.json_serialized_invocation_args), json.loads(args.json_serialized_inputs_spec_args or "{}")
    )
    args.json_serialized_invocation_args = json.dumps(executor_input)
    kubeflow_v2_run_executor.main((args, beam_args))
    for uri in output_uris(executor_input):
        for marker in remove_folder_markers(uri):
            logging.info("Removed the folder marker %s", marker)


if __name__ == "__main__":
    from absl import app
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

    from components.object_storage import enable_s3
    from components.workarounds import run_then_exit

    enable_s3()
    app.run(
        lambda parsed_argv: run_then_exit(_run_task, parsed_argv, "task"),
        flags_parser=kubeflow_v2_run_executor._parse_flags,
    )  # TFX's own argument parser
