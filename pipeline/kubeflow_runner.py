"""Runs the pipeline on Kubeflow: compile it with TFX's KubeflowV2DagRunner, submit it with kfp.

The one pipeline definition (pipeline.create_pipeline) is compiled into a KFP v2 pipeline
spec whose every task runs the project's image (Dockerfile). In that image the project lives
at /pipeline, so the spec names code by module path and the schema by its path there; data,
pipeline root and pushed models live in object storage.

Output formats, both from KubeflowV2DagRunner:
    *.json  a PipelineJob (spec plus runtime config), the template Vertex AI Pipelines takes
    *.yaml  the PipelineSpec alone, the package the KFP API and UI take (what `submit` sends)
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import kfp
import kfp_server_api
import tensorflow as tf
import urllib3
import yaml
from kfp.client import KF_PIPELINES_SA_TOKEN_ENV, ServiceAccountTokenVolumeCredentials
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from components.errors import PipelineError
from components.object_storage import enable_s3
from pipeline.config import PROJECT_ROOT, PipelineConfig
from pipeline.fingerprint import content_addressed
from pipeline.pipeline import PipelinePaths, create_pipeline

log = logging.getLogger(__name__)

# Every task's command: TFX's executor runner with s3:// registered (pipeline/kfp_task.py).
TASK_COMMAND = ["python", "-m", "pipeline.kfp_task"]
IMAGE_PROJECT_ROOT = PurePosixPath("/pipeline")  # the Dockerfile's WORKDIR and PYTHONPATH
SCHEMAS_DIR = "schemas"  # under the project root, in the image
OUTPUT_SUFFIXES = (".json", ".yaml", ".yml")
FINAL_STATES = ("SUCCEEDED", "SKIPPED", "FAILED", "CANCELED")
POLL_SECONDS = 10.0
# The placeholders configs/pipeline.yaml ships with: a run with them could only fail.
PLACEHOLDERS = ("YOUR_BUCKET", "ghcr.io/example/")


class KubeflowError(PipelineError):
    """Bad Kubeflow settings, or the KFP API cannot be reached, refuses us, or answers an error."""


@dataclass(frozen=True)
class KubeflowSettings:
    """Where and how the pipeline runs on Kubeflow (the `kubeflow` section, maybe overridden)."""

    image: str
    pipeline_root: str
    data_dir: str
    serving_dir: str
    beam_pipeline_args: tuple[str, ...]
    task_env: tuple[tuple[str, str], ...] = ()  # (NAME, VALUE)
    task_secret_env: tuple[tuple[str, str, str], ...] = ()  # (NAME, SECRET, KEY)

    @classmethod
    def from_config(
        cls, config: PipelineConfig, image: str | None, pipeline_root: str | None, data_dir: str | None
    ) -> KubeflowSettings:
        """The config's `kubeflow` section; arguments that are not None win."""
        kubeflow = config.kubeflow
        return cls(
            image=image or kubeflow.image,
            pipeline_root=pipeline_root or kubeflow.pipeline_root,
            data_dir=data_dir or kubeflow.data_dir,
            serving_dir=kubeflow.serving_dir,
            beam_pipeline_args=tuple(kubeflow.beam_pipeline_args),
            task_env=tuple(_split_assignment("kubeflow.task_env", item) for item in kubeflow.task_env),
            task_secret_env=tuple(_secret_reference(item) for item in kubeflow.task_secret_env),
        )

    def storage_uris(self) -> dict[str, str]:
        """The object-storage locations, by the setting (and flag) that names each."""
        return {
            "kubeflow.pipeline_root (--pipeline-root)": self.pipeline_root,
            "kubeflow.data_dir (--data-dir)": self.data_dir,
            "kubeflow.serving_dir": self.serving_dir,
        }


@dataclass(frozen=True)
class SubmittedRun:
    """A started run: its id and its page in the KFP UI."""

    run_id: str
    url: str


def compile_pipeline(config: PipelineConfig, settings: KubeflowSettings, output: Path) -> Path:
    """Writes the KFP v2 spec of the pipeline to `output` (.json or .yaml, see the module doc)."""
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
    tfx_pipeline = create_pipeline(config, paths, list(settings.beam_pipeline_args), for_kubeflow=True)
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        # Schema 2.1 is what the KFP 2 backend reads (`constant` parameter values); Vertex AI reads it too.
        kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
            default_image=settings.image, default_commands=TASK_COMMAND, use_pipeline_spec_2_1=True
        )
    )
    job = runner.run(tfx_pipeline, write_out=False)
    _set_task_env(job["pipelineSpec"], settings.task_env)
    _write_spec(job, _platform_spec(job["pipelineSpec"], settings.task_secret_env), output)
    return output


def _set_task_env(spec: dict, task_env: tuple[tuple[str, str], ...]) -> None:
    """Gives every task container the variables (KubeflowV2DagRunner has no option for them)."""
    if not task_env:
        return
    for executor in spec["deploymentSpec"]["executors"].values():
        if "container" in executor:
            executor["container"]["env"] = [{"name": name, "value": value} for name, value in task_env]


def _platform_spec(spec: dict, task_secret_env: tuple[tuple[str, str, str], ...]) -> dict | None:
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


def _split_assignment(setting: str, item: str) -> tuple[str, str]:
    name, separator, value = item.partition("=")
    if not separator or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise KubeflowError(f"{setting}: expected NAME=VALUE with a variable name, got {item!r}")
    return name, value


def _secret_reference(item: str) -> tuple[str, str, str]:
    name, reference = _split_assignment("kubeflow.task_secret_env", item)
    secret, separator, key = reference.partition("/")
    if not separator or not secret or not key:
        raise KubeflowError(f"kubeflow.task_secret_env: expected NAME=SECRET/KEY, got {item!r}")
    return name, secret, key


def image_schema_file(schema_path: Path) -> PurePosixPath:
    """Where the image holds a schema: under its content hash, as stage_image_schemas puts it.

    ImportSchemaGen's cache key holds the path, not the content; a path per content makes an
    edited schema re-run validation even when the image keeps its tag.
    """
    if schema_path.suffix != ".pbtxt" or schema_path.resolve().parent != PROJECT_ROOT / "configs":
        raise KubeflowError(
            f"{schema_path}: on Kubeflow the schema must be a .pbtxt file in configs/, which the image holds"
        )
    if not schema_path.is_file():
        raise KubeflowError(f"{schema_path}: schema file not found")
    return IMAGE_PROJECT_ROOT / SCHEMAS_DIR / content_addressed(schema_path)


def stage_image_schemas(project_root: Path = PROJECT_ROOT) -> list[Path]:
    """Copies every configs/*.pbtxt to schemas/<hash>/ under `project_root`. Runs in `docker build`."""
    staged = []
    for schema_path in sorted((project_root / "configs").glob("*.pbtxt")):
        target = project_root / SCHEMAS_DIR / content_addressed(schema_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(schema_path.read_bytes())
        staged.append(target)
    return staged


def submit_pipeline(
    config: PipelineConfig,
    settings: KubeflowSettings,
    host: str,
    namespace: str | None = None,
    experiment: str = "mnist",
    run_name: str | None = None,
) -> SubmittedRun:
    """Compiles the pipeline and starts a run of it in `experiment` (created when missing)."""
    placeholders = [
        f"{name}={value}"
        for name, value in {"kubeflow.image (--image)": settings.image, **settings.storage_uris()}.items()
        if any(placeholder in value for placeholder in PLACEHOLDERS)
    ]
    if placeholders:
        raise KubeflowError(f"still the example value: {', '.join(placeholders)}; give your own (see docs/kubeflow.md)")
    run_name = run_name or f"{config.pipeline_name} {time.strftime('%Y-%m-%d %H-%M-%S')}"
    with tempfile.TemporaryDirectory() as work_dir:
        package = compile_pipeline(config, settings, Path(work_dir) / "pipeline.yaml")
        client = _connect(host, namespace)
        # kfp prints the experiment's and the run's links itself; the CLI prints its own line.
        with _api_errors(host), contextlib.redirect_stdout(io.StringIO()):
            result = client.create_run_from_pipeline_package(
                str(package),
                arguments={},
                run_name=run_name,
                experiment_name=experiment,
                namespace=namespace,
                pipeline_root=settings.pipeline_root,
            )
    log.info("Created run '%s' in experiment '%s'", run_name, experiment)
    return SubmittedRun(run_id=result.run_id, url=_run_url(host, result.run_id))


def wait_for_run(host: str, run_id: str, namespace: str | None = None, timeout: float = 3600) -> str:
    """Polls the run until it ends; returns its final state, e.g. SUCCEEDED or FAILED."""
    client = _connect(host, namespace)
    deadline = time.monotonic() + timeout
    last_state = None
    while True:
        with _api_errors(host):
            run = client.get_run(run_id)
        state = str(run.state)
        if state != last_state:
            log.info("Run %s: %s", run_id, state)
            last_state = state
        if state in FINAL_STATES:
            if run.error and run.error.message:
                log.info("Run %s: %s", run_id, run.error.message)
            return state
        if time.monotonic() >= deadline:
            raise KubeflowError(f"run {run_id} is still {state} after {timeout:g} s: {_run_url(host, run_id)}")
        time.sleep(POLL_SECONDS)


class _Client(kfp.Client):
    """kfp.Client with one health check at start, not five tries 5 s apart each logged with a traceback."""

    def get_kfp_healthz(self, sleep_duration: int = 5) -> kfp_server_api.V2beta1GetHealthzResponse:
        return self._healthz_api.get_healthz()


def _connect(host: str, namespace: str | None) -> kfp.Client:
    """A kfp client for `host`, with kfp's own auth: KF_PIPELINES_* variables, IAP, cookies.

    kfp reads a token file (KF_PIPELINES_SA_TOKEN_PATH) by itself only inside a pod; here it is
    read whenever the variable is set, so `kubectl create token ...` works from a workstation.
    """
    token_path = os.environ.get(KF_PIPELINES_SA_TOKEN_ENV)
    if token_path and not os.path.isfile(token_path):
        raise KubeflowError(f"{KF_PIPELINES_SA_TOKEN_ENV}={token_path}: no such file")
    credentials = ServiceAccountTokenVolumeCredentials(token_path) if token_path else None
    namespace_argument = {"namespace": namespace} if namespace else {}  # kfp's default is "kubeflow"
    with _api_errors(host):
        return _Client(host=host, credentials=credentials, **namespace_argument)


def _run_url(host: str, run_id: str) -> str:
    """The run's page in the KFP UI (at KF_PIPELINES_UI_ENDPOINT when set, as kfp does)."""
    ui = os.environ.get("KF_PIPELINES_UI_ENDPOINT") or host
    return f"{ui.rstrip('/')}/#/runs/details/{run_id}"


@contextlib.contextmanager
def _api_errors(host: str) -> Iterator[None]:
    """Turns an unreachable host, refused credentials or an error answer into one KubeflowError."""
    try:
        yield
    except kfp_server_api.ApiException as error:
        raise KubeflowError(_describe_answer(host, error)) from error
    except urllib3.exceptions.HTTPError as error:
        raise KubeflowError(f"cannot reach the KFP API at {host}: {_reason(error)}") from error


def _describe_answer(host: str, error: kfp_server_api.ApiException) -> str:
    if not error.status:  # kfp_server_api reports TLS failures with status 0
        return f"cannot reach the KFP API at {host}: {error.reason}"
    answer = f"{error.status} {error.reason}: {_message(error.body)}".rstrip(": ")
    if error.status in (401, 403):
        return (
            f"the KFP API at {host} refused the credentials ({answer}); "
            f"give a token file in {KF_PIPELINES_SA_TOKEN_ENV} or an IAP client id in KF_PIPELINES_IAP_OAUTH2_CLIENT_ID"
        )
    hint = ""
    if "resolver" in answer.lower():
        hint = " (the open-source KFP backend cannot run TFX Resolver tasks: submit with --set evaluation.compare_with_blessed=false)"
    return f"the KFP API at {host} answered {answer}{hint}"


def _message(body: str | bytes | None) -> str:
    """The message of the API's JSON error answer, else the start of the answer's text."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body or ""
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and (answer.get("message") or answer.get("error")):
        text = answer.get("message") or answer.get("error")
    return " ".join(str(text).split())[:300]


def _reason(error: urllib3.exceptions.HTTPError) -> str:
    """urllib3's reason without the connection object's repr, e.g. `[Errno 111] Connection refused`."""
    reason = str(getattr(error, "reason", None) or error)
    return reason.split(">: ", 1)[-1]


def _check_storage(settings: KubeflowSettings) -> None:
    """Pods share no disk: each location must be a URI; warns when TensorFlow cannot open it."""
    enable_s3()
    schemes = set(tf.io.gfile.get_registered_schemes()) - {"", "file", "ram"}
    for name, uri in settings.storage_uris().items():
        scheme, separator, _ = uri.partition("://")
        if not separator or scheme in ("file", "ram"):
            raise KubeflowError(f"{name} must be an object-storage URI such as gs://BUCKET/PATH, got {uri!r}")
        if scheme not in schemes:
            # The image has the same packages: its pods will fail the same way.
            log.warning(
                "%s: TensorFlow cannot open %s:// URIs (it can: gs://, s3://); "
                "for MinIO give s3:// URIs and its endpoint (see docs/kubeflow.md)",
                name, scheme,
            )
