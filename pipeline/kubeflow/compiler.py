"""Compiles the pipeline for Kubeflow with TFX's KubeflowV2DagRunner, and submits it.

The one pipeline definition (pipeline.create_pipeline) is compiled into a KFP v2 pipeline
spec whose every task runs the project's image (Dockerfile). In that image the project lives
at /pipeline, so the spec names code by module path and the schema by its path there; data,
pipeline root and pushed models live in object storage. After compiling, what TFX's compiler
has no option for, or gets wrong: every task gets the configured environment (and Kubernetes
secrets); the probes' tasks are never cached (they look outside the pipeline, see
components/probe.py); and the parameters a probe hands on name the probe's task, which TFX 1.16
names `<node id>_task`, a task the DAG does not have (KFP's driver then fails: "producer task
... not in tasks", backend/src/v2/driver/resolve.go resolveUpstreamParameters).

Output formats, both from KubeflowV2DagRunner:
    *.json  a PipelineJob (spec plus runtime config), the template Vertex AI Pipelines takes
    *.yaml  the PipelineSpec alone, the package the KFP API and UI take (what `submit` sends)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import time
from pathlib import Path, PurePosixPath
from typing import Any

import tensorflow as tf
import yaml
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from components.errors import PipelineError
from components.object_storage import BEAM_WORKER_PLUGIN_ARG, enable_s3
from pipeline import node_ids
from pipeline.config import PROJECT_ROOT, KubeflowSettings, PipelineConfig
from pipeline.kubeflow import client
from pipeline.pipeline import PipelinePaths, create_pipeline
from pipeline.schema_staging import SCHEMAS_DIR, staged_path

log = logging.getLogger(__name__)

# Every task's command: TFX's executor runner, adapted to open-source KFP (pipeline/kubeflow/task.py).
TASK_COMMAND = ["python", "-m", "pipeline.kubeflow.task"]
TFX_PRODUCER_SUFFIX = "_task"  # what TFX 1.16 appends to a probe's node id in a parameter's producerTask
IMAGE_PROJECT_ROOT = PurePosixPath("/pipeline")  # the Dockerfile's WORKDIR and PYTHONPATH
OUTPUT_SUFFIXES = (".json", ".yaml", ".yml")
# The placeholders configs/pipeline.yaml ships with: a run with them could only fail.
PLACEHOLDERS = ("YOUR_BUCKET", "ghcr.io/example/")


class KubeflowError(PipelineError):
    """Bad Kubeflow settings."""


def with_overrides(settings: KubeflowSettings, **flags: str | None) -> KubeflowSettings:
    """The config's `kubeflow` section with the command line's flags (those not None) applied."""
    given: dict[str, Any] = {name: value for name, value in flags.items() if value is not None}
    return dataclasses.replace(settings, **given)


def placeholders_in(settings: KubeflowSettings) -> list[str]:
    """The settings that still hold the example values of configs/pipeline.yaml."""
    values = {"kubeflow.image (--image)": settings.image, **settings.storage_uris()}
    return [f"{name}={value}" for name, value in values.items() if any(p in value for p in PLACEHOLDERS)]


def compile_pipeline(config: PipelineConfig, output: Path) -> Path:
    """Writes the KFP v2 spec of the pipeline to `output` (.json or .yaml, see the module doc)."""
    settings = config.kubeflow
    if output.suffix not in OUTPUT_SUFFIXES:
        raise KubeflowError(f"{output}: the spec file must end with one of {', '.join(OUTPUT_SUFFIXES)}")
    if not settings.image:
        raise KubeflowError("no image: set kubeflow.image or --image")
    _check_storage(settings)
    paths = PipelinePaths(
        data_dir=settings.data_dir,
        pipeline_root=settings.pipeline_root,
        serving_dir=settings.serving_dir,
        schema_file=str(image_schema_file(config.validation.schema_path)),
    )
    tfx_pipeline = create_pipeline(config, paths, _beam_args(settings))
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        # Schema 2.1 is what the KFP 2 backend reads (`constant` parameter values); Vertex AI reads it too.
        kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
            default_image=settings.image, default_commands=TASK_COMMAND, use_pipeline_spec_2_1=True
        )
    )
    job = runner.run(tfx_pipeline, write_out=False)
    spec = job["pipelineSpec"]
    _set_task_env(spec, settings.env())
    _connect_probes(spec["root"]["dag"]["tasks"])
    _write_spec(job, _platform_spec(spec, settings.secret_env()), output)
    return output


def submit_pipeline(
    config: PipelineConfig,
    host: str,
    namespace: str | None = None,
    experiment: str = "mnist",
    run_name: str | None = None,
) -> client.SubmittedRun:
    """Compiles the pipeline and starts a run of it in `experiment` (created when missing)."""
    placeholders = placeholders_in(config.kubeflow)
    if placeholders:
        raise KubeflowError(f"still the example value: {', '.join(placeholders)}; give your own (see docs/kubeflow.md)")
    run_name = run_name or f"{config.pipeline_name} {time.strftime('%Y-%m-%d %H-%M-%S')}"
    with tempfile.TemporaryDirectory() as work_dir:
        package = compile_pipeline(config, Path(work_dir) / "pipeline.yaml")
        return client.submit(package, host, config.kubeflow.pipeline_root, run_name, namespace, experiment)


def _beam_args(settings: KubeflowSettings) -> list[str]:
    """The configured Beam args, the worker plugin, and the image as the Beam SDK's container:
    it holds TFX and the project, so TFX's Beam executors need not package TFX as an sdist for
    the workers in every task (they do when no such flag is given; DirectRunner ignores it)."""
    staging_flags = ("--sdk_container_image", "--extra_package", "--setup_file", "--requirements_file")
    image = (
        []
        if any(arg.startswith(staging_flags) for arg in settings.beam_pipeline_args)
        else [f"--sdk_container_image={settings.image}"]
    )
    return [*settings.beam_pipeline_args, BEAM_WORKER_PLUGIN_ARG, *image]


def image_schema_file(schema_path: Path) -> PurePosixPath:
    """Where the image holds a schema: under its content hash, as `docker build` stages it
    (pipeline/schema_staging.py)."""
    if schema_path.suffix != ".pbtxt" or schema_path.resolve().parent != PROJECT_ROOT / "configs":
        raise KubeflowError(
            f"{schema_path}: on Kubeflow the schema must be a .pbtxt file in configs/, which the image holds"
        )
    if not schema_path.is_file():
        raise KubeflowError(f"{schema_path}: schema file not found")
    return PurePosixPath(staged_path(schema_path, IMAGE_PROJECT_ROOT / SCHEMAS_DIR))


def _set_task_env(spec: dict, task_env: list[tuple[str, str]]) -> None:
    """Gives every task container the variables (KubeflowV2DagRunner has no option for them)."""
    if not task_env:
        return
    for executor in spec["deploymentSpec"]["executors"].values():
        if "container" in executor:
            executor["container"]["env"] = [{"name": name, "value": value} for name, value in task_env]


def _connect_probes(tasks: dict[str, dict]) -> None:
    """Names each probe's task as the producer of the parameters it hands on, and never caches it."""
    for task in tasks.values():
        for parameter in task.get("inputs", {}).get("parameters", {}).values():
            producer = parameter.get("taskOutputParameter")
            if producer and producer["producerTask"] not in tasks:
                producer["producerTask"] = producer["producerTask"].removesuffix(TFX_PRODUCER_SUFFIX)
    for probe in node_ids.PROBES:
        tasks[probe].pop("cachingOptions", None)


def _platform_spec(spec: dict, task_secret_env: list[tuple[str, str, str]]) -> dict | None:
    """KFP's Kubernetes PlatformSpec that sets the variables from secrets in every task, as
    kfp-kubernetes' use_secret_as_env writes it; None without such variables."""
    if not task_secret_env:
        return None
    secrets: dict[str, list[dict[str, str]]] = {}
    for name, secret, key in task_secret_env:
        secrets.setdefault(secret, []).append({"secretKey": key, "envVar": name})
    secret_as_env = [{"secretName": secret, "keyToEnv": keys} for secret, keys in secrets.items()]
    executors = {
        label: {"secretAsEnv": secret_as_env}
        for label, executor in spec["deploymentSpec"]["executors"].items()
        if "container" in executor
    }
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}


def _write_spec(job: dict, platform_spec: dict | None, output: Path) -> None:
    """Writes the PipelineJob (.json) or the PipelineSpec and its PlatformSpec (.yaml), keys sorted."""
    if output.suffix == ".json":
        if platform_spec is not None:
            raise KubeflowError(
                "kubeflow.task_secret_env names Kubernetes secrets, which only KFP reads: write a .yaml spec"
            )
        text = json.dumps(job, sort_keys=True, indent=2)
    else:
        documents = [job["pipelineSpec"]] + ([platform_spec] if platform_spec else [])
        text = yaml.safe_dump_all(documents, sort_keys=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)


def _check_storage(settings: KubeflowSettings) -> None:
    """Pods share no disk: each location must be a URI; warns when TensorFlow cannot open it."""
    enable_s3()
    schemes = set(tf.io.gfile.get_registered_schemes()) - {"", "file", "ram"}
    for name, uri in settings.storage_uris().items():
        scheme, separator, _ = uri.partition("://")
        if not separator or scheme in ("file", "ram"):
            raise KubeflowError(f"{name} must be an object-storage URI such as gs://BUCKET/PATH, got {uri!r}")
        if "?" in uri:
            # KFP 2.0.5 fails on a root with a query string (kubeflow/pipelines#10318), later releases
            # drop it from output URIs (backend/src/v2/metadata/client.go GenerateOutputURI), and
            # TensorFlow would read it as part of a path.
            raise KubeflowError(
                f"{name} must not hold a query string, got {uri!r}: give an S3 endpoint "
                "through kubeflow.task_env and KFP's kfp-launcher ConfigMap (see docs/kubeflow.md)"
            )
        if scheme not in schemes:
            # The image has the same packages: its pods will fail the same way.
            log.warning(
                "%s: TensorFlow cannot open %s:// URIs (it can: gs://, s3://); "
                "for MinIO give s3:// URIs and its endpoint (see docs/kubeflow.md)",
                name,
                scheme,
            )
