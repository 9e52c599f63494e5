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

What a user changes between runs are the spec's run-time parameters, the settings the config
lists in kubeflow.run_parameters (run_parameter_settings): each is a parameter of the component
that uses it (pipeline.create_pipeline), or the data dir; TFX RuntimeParameters, compiled into
root inputs that tasks read (`componentInputParameter`), named as the setting's key in its
section and given here the config's values as defaults, which TFX 1.16 never writes (KFP refuses a run without a
value for each: apiserver/template/v2_template.go validatePipelineJobInputs). Every task gets
the configured CPU and memory (and the Trainer an accelerator), a retry policy, and each Beam
task as many DirectRunner workers as its CPU limit.

Output formats, both from KubeflowV2DagRunner:
    *.json  a PipelineJob (spec plus runtime config), the template Vertex AI Pipelines takes
    *.yaml  the PipelineSpec alone, the package the KFP API and UI take (what `submit` sends)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import tensorflow as tf
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.dsl.components.base import base_beam_component, base_node
from tfx.orchestration import data_types
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from components import parameters
from components.errors import PipelineError
from components.object_storage import BEAM_WORKER_PLUGIN_ARG, enable_s3
from pipeline import node_ids
from pipeline.config import PROJECT_ROOT
from pipeline.kubeflow import client
from pipeline.kubeflow.run_report import RUN_ID_PLACEHOLDER, RunReport
from pipeline.kubeflow.settings import BEAM_WORKERS_FLAG, KubeflowConfig, KubeflowSettings, RetryPolicy, TaskResources
from pipeline.pipeline import PipelinePaths, component_settings, create_pipeline
from pipeline.schema_staging import SCHEMAS_DIR, staged_path

log = logging.getLogger(__name__)

# Every task's command: TFX's executor runner, adapted to open-source KFP (pipeline/kubeflow/task.py).
TASK_COMMAND = ["python", "-m", "pipeline.kubeflow.task"]
TFX_PRODUCER_SUFFIX = "_task"  # what TFX 1.16 appends to a probe's node id in a parameter's producerTask
IMAGE_PROJECT_ROOT = PurePosixPath("/pipeline")  # the Dockerfile's WORKDIR and PYTHONPATH
OUTPUT_SUFFIXES = (".json", ".yaml", ".yml")
# The placeholders configs/pipeline.yaml ships with: a run with them could only fail.
PLACEHOLDERS = ("YOUR_BUCKET", "ghcr.io/example/")
# The one run-time parameter that is not a component's setting: where a run reads the IDX files.
DATA_DIR_SETTING = "kubeflow.data_dir"
ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec


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


def run_parameter_settings(config: KubeflowConfig) -> dict[str, str]:
    """The spec's run-time parameters, what a run may set (KFP's "Create run" form, `submit
    --set`): root input, named as the setting's key in its section -> the dotted setting, from
    kubeflow.run_parameters, each checked to be the data dir or a setting some component takes
    as a parameter."""
    listed = config.kubeflow.run_parameters
    settable = [DATA_DIR_SETTING, *component_settings(config)]
    for key in listed:
        if key not in settable:
            raise KubeflowError(
                f"kubeflow.run_parameters: {key!r} is not a setting a run may set; those are {', '.join(settable)}"
            )
    return {key.rpartition(".")[2]: key for key in listed}  # each name its own (tests/pipeline/kubeflow)


def run_parameters(config: KubeflowConfig) -> dict[str, parameters.ParameterValue]:
    """The value of each run-time parameter in `config`, as the component's parameter holds it:
    the spec's defaults, and what `submit` gives the run (so the run's page shows them)."""
    values = {DATA_DIR_SETTING: config.kubeflow.data_dir, **component_settings(config)}
    return {name: values[key] for name, key in run_parameter_settings(config).items()}


def compile_pipeline(config: KubeflowConfig, output: Path, enable_cache: bool = True) -> Path:
    """Writes the KFP v2 spec of the pipeline to `output` (.json or .yaml, see the module doc).

    With `enable_cache=False` no task has `cachingOptions`, which KFP reads as "never reuse"
    (backend/src/v2/driver/cache.go): the spec's runs reuse nothing (`submit --no-cache`)."""
    settings = config.kubeflow
    if output.suffix not in OUTPUT_SUFFIXES:
        raise KubeflowError(f"{output}: the spec file must end with one of {', '.join(OUTPUT_SUFFIXES)}")
    if not settings.image:
        raise KubeflowError("no image: set kubeflow.image or --image")
    _check_storage(settings)
    settings_of = run_parameter_settings(config)
    defaults = run_parameters(config)
    runtime = {
        settings_of[name]: data_types.RuntimeParameter(name, ptype=type(value), default=value)
        for name, value in defaults.items()
    }
    paths = PipelinePaths(
        data_dir=runtime.pop(DATA_DIR_SETTING, settings.data_dir),
        pipeline_root=settings.pipeline_root,
        serving_dir=settings.serving_dir,
        schema_file=str(image_schema_file(config.validation.schema_path)),
    )
    # The report task is KFP's only: Vertex AI has no MLMD service for it to read.
    pipeline = create_pipeline(
        config,
        paths,
        _beam_args(settings),
        enable_cache=enable_cache,
        run_parameters=runtime,
        add_nodes=None if output.suffix == ".json" else _run_report,
    )
    _bound_beam_workers(pipeline, settings)
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        # Schema 2.1 is what the KFP 2 backend reads (`constant` parameter values); Vertex AI reads it too.
        kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
            default_image=settings.image, default_commands=TASK_COMMAND, use_pipeline_spec_2_1=True
        )
    )
    job = runner.run(pipeline, write_out=False)
    spec = job["pipelineSpec"]
    # TFX keeps the root in the PipelineJob's runtime config only; the .yaml has none. KFP's UI
    # gives a run created from the uploaded spec the spec's defaultPipelineRoot
    # (frontend/src/pages/NewRunV2.tsx); without it KFP writes to minio://mlpipeline/v2/artifacts
    # (backend/src/v2/driver/root_dag.go, v2/config/env.go), a scheme TensorFlow cannot open.
    spec["defaultPipelineRoot"] = settings.pipeline_root
    _set_task_env(spec, settings.env())
    _connect_probes(spec["root"]["dag"]["tasks"])
    _declare_run_parameters(spec, defaults, settings_of)
    _set_resources(spec, settings)
    _set_retries(spec["root"]["dag"]["tasks"], settings.retry)
    spec["root"]["dag"]["tasks"].get(node_ids.REPORT, {}).pop("cachingOptions", None)  # it describes this run
    _write_spec(job, _platform_spec(spec, settings.secret_env()), output)
    return output


def submit_pipeline(config: KubeflowConfig, host: str, submission: client.Submission) -> client.Submitted:
    """Compiles the pipeline and submits it as `submission` asks: a run, a recurring run, of the
    spec or of a version uploaded first (client.submit)."""
    placeholders = placeholders_in(config.kubeflow)
    if placeholders:
        raise KubeflowError(f"still the example value: {', '.join(placeholders)}; give your own (see docs/kubeflow.md)")
    with tempfile.TemporaryDirectory() as work_dir:
        package = compile_pipeline(config, Path(work_dir) / "pipeline.yaml", enable_cache=submission.use_cache)
        return client.submit(
            package, host, config.kubeflow.pipeline_root, config.pipeline_name, submission, run_parameters(config)
        )


def _run_report(nodes: dict[str, base_node.BaseNode]) -> list[base_node.BaseNode]:
    """The report task (pipeline/kubeflow/run_report.py), after the test Evaluator and the Pusher."""
    report = RunReport(
        test_evaluation=nodes[node_ids.TEST_EVALUATOR].outputs["evaluation"],
        pushed_model=nodes[node_ids.PUSHER].outputs["pushed_model"],
        run_id=RUN_ID_PLACEHOLDER,
    )
    return [report.with_id(node_ids.REPORT)]


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


def _resources(settings: KubeflowSettings, task: str) -> TaskResources:
    """The task's entry in kubeflow.resources: configs/pipeline.yaml names every task."""
    if task not in settings.resources:
        raise KubeflowError(f"kubeflow.resources has no entry for task {task}: give its cpu and memory")
    return settings.resources[task]


def _bound_beam_workers(pipeline: tfx_pipeline.Pipeline, settings: KubeflowSettings) -> None:
    """Gives each Beam task as many DirectRunner workers as its CPU limit, at least one: by
    default Beam starts one per core of the node, not of the pod's share, each importing
    TensorFlow (apache_beam fn_runner.py: multiprocessing.cpu_count()). Other runners ignore it."""
    for node in pipeline.components:
        if isinstance(node, base_beam_component.BaseBeamComponent):
            workers = max(1, int(_resources(settings, node.id).cpu_limit))
            node.with_beam_pipeline_args([f"{BEAM_WORKERS_FLAG}={workers}"])


def _declare_run_parameters(
    spec: dict, defaults: dict[str, parameters.ParameterValue], settings_of: dict[str, str]
) -> None:
    """Gives each root input its default and the setting it comes from, and makes it optional:
    TFX 1.16 compiles a RuntimeParameter into a root input with its type only, and KFP then
    refuses a run that does not give it (v2_template.go validatePipelineJobInputs), while it
    fills a default in (compiler/argocompiler/argo.go Compile)."""
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    for name, value in defaults.items():
        inputs[name].update(
            defaultValue=value, isOptional=True, description=f"{settings_of[name]} (configs/pipeline.yaml)"
        )


def _set_resources(spec: dict, settings: KubeflowSettings) -> None:
    """Every task's CPU and memory (kubeflow.resources) and the Trainer's accelerator, in TFX's
    ResourceSpec, which KFP's driver reads (driver.go initPodSpecPatch). Written here for every
    task: TFX's with_platform_config writes the same, but not on every compile path."""
    for name, task in spec["root"]["dag"]["tasks"].items():
        wanted = _resources(settings, name)
        resources = ResourceSpec(
            cpu_request=wanted.cpu_request,
            cpu_limit=wanted.cpu_limit,
            memory_request=wanted.memory_request_gb,
            memory_limit=wanted.memory_limit_gb,
        )
        if name == node_ids.TRAINER and settings.trainer_accelerator:
            resources.accelerator.type = settings.trainer_accelerator.type
            resources.accelerator.count = settings.trainer_accelerator.count
        label = spec["components"][task["componentRef"]["name"]]["executorLabel"]
        spec["deploymentSpec"]["executors"][label]["container"]["resources"] = json_format.MessageToDict(resources)


def _set_retries(tasks: dict[str, dict], retry: RetryPolicy) -> None:
    """Every task runs again after it failed, as `retry` says (KFP: compiler/argocompiler/
    container.go, an Argo retryStrategy on the task's pod). Every task may: each writes only its
    own outputs (the Trainer empties them first, components/trainer/executor.py), and the Pusher
    publishes by compare-and-swap under the serving dir's lock, recording a version its failed
    attempt published instead of publishing again (components/pusher/executor.py)."""
    if retry.max_retries == 0:
        return
    policy = pipeline_spec_pb2.PipelineTaskSpec.RetryPolicy(
        max_retry_count=retry.max_retries, backoff_factor=retry.backoff_factor
    )
    policy.backoff_duration.FromSeconds(retry.backoff_seconds)
    policy.backoff_max_duration.FromSeconds(retry.window_seconds)  # Argo's maxDuration: since the first attempt
    for task in tasks.values():
        task["retryPolicy"] = json_format.MessageToDict(policy)


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
