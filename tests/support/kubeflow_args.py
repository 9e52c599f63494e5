"""The Kubeflow settings the compile and submit tests give, as flags and as a config."""

from __future__ import annotations

import dataclasses
import json

from pipeline.kubeflow.compiler import with_overrides
from pipeline.kubeflow.settings import KubeflowConfig, load_kubeflow_config

IMAGE = "registry.example.com/team/mnist-pipeline:test"
PIPELINE_ROOT = "gs://test-bucket/mnist/root"
DATA_DIR = "gs://test-bucket/mnist/data"
SERVING_DIR = "gs://test-bucket/mnist/serving"
KUBEFLOW_ARGS = [
    "--image",
    IMAGE,
    "--pipeline-root",
    PIPELINE_ROOT,
    "--data-dir",
    DATA_DIR,
    "--serving-dir",
    SERVING_DIR,
]
# The object store KFP installs (from 2.15 SeaweedFS, whose service `seaweedfs` maps port 9000 to
# its S3 port: manifests/kustomize/third-party/seaweedfs/base/seaweedfs/seaweedfs-service.yaml)
# as plain variables, its credentials from KFP's own secret (still named for MinIO).
OBJECT_STORE_ENV = ["AWS_ENDPOINT_URL_S3=http://seaweedfs.kubeflow:9000", "AWS_REGION=us-east-1"]
OBJECT_STORE_SECRET_ENV = [
    "AWS_ACCESS_KEY_ID=mlpipeline-minio-artifact/accesskey",
    "AWS_SECRET_ACCESS_KEY=mlpipeline-minio-artifact/secretkey",
]
TASK_ENV_ARGS = [
    "--set",
    f"kubeflow.task_env={json.dumps(OBJECT_STORE_ENV)}",
    "--set",
    f"kubeflow.task_secret_env={json.dumps(OBJECT_STORE_SECRET_ENV)}",
]


def kubeflow_config(*overrides: str, **flags: str) -> KubeflowConfig:
    """The config `compile` builds from KUBEFLOW_ARGS, `--set` overrides and other `flags`."""
    config = load_kubeflow_config(overrides=overrides)
    settings = with_overrides(
        config.kubeflow,
        **{
            "image": IMAGE,
            "pipeline_root": PIPELINE_ROOT,
            "data_dir": DATA_DIR,
            "serving_dir": SERVING_DIR,
            **flags,
        },
    )
    return dataclasses.replace(config, kubeflow=settings)


def container_executors(spec: dict) -> dict[str, dict]:
    """The spec's container executors by label."""
    return {label: e["container"] for label, e in spec["deploymentSpec"]["executors"].items() if "container" in e}


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]
