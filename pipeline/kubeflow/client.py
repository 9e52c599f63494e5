"""The Kubeflow Pipelines API as `submit` uses it: start a run or a recurring run of a compiled
spec, or of a version of the pipeline uploaded first; follow a run; and turn every way it can fail
(unreachable, refused credentials, an error answer) into one line."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import kfp
import kfp_server_api
import urllib3
from kfp.client import KF_PIPELINES_SA_TOKEN_ENV, ServiceAccountTokenVolumeCredentials

from components.errors import PipelineError

log = logging.getLogger(__name__)

FINAL_STATES = ("SUCCEEDED", "SKIPPED", "FAILED", "CANCELED")
POLL_SECONDS = 10.0
CRON_FIELDS = 6  # seconds, minutes, hours, day of month, month, day of week
CRON_EXAMPLE = "0 0 2 * * *"  # 02:00 every day
MESSAGE_KEYS = ("error_message", "message", "error")  # of the API's error answers, see _message


class KfpApiError(PipelineError):
    """The KFP API cannot be reached, refuses us, or answers an error."""


class SubmissionError(PipelineError):
    """A submission KFP would misread, or whose effect would outlast its run."""


@dataclass(frozen=True)
class Submission:
    """What `submit` asks of KFP; each field is a flag of `mnist-pipeline submit`.

    With `schedule` (a cron) it is a recurring run instead of one run. With `version` the spec is
    first uploaded as that version of the pipeline (created when missing), and the run or
    recurring run is one of that version, as runs started from KFP's UI are: the run's page names
    the version, and "Create run" on the version starts it again. `submit` always starts
    something; to upload only, `compile` a .yaml spec and upload it in the UI.
    `use_cache=False` is compiled into the spec (KFP has no per-run cache switch), so it is refused
    with a version: every later run of that version would reuse nothing either.
    """

    experiment: str = "mnist"
    run_name: str | None = None  # default: the pipeline's name and the time
    namespace: str | None = None
    service_account: str | None = None  # default: the server's (`pipeline-runner`)
    schedule: str | None = None
    version: str | None = None
    use_cache: bool = True

    def __post_init__(self) -> None:
        if self.schedule is not None:
            _check_cron(self.schedule)
        if self.version is not None and not self.use_cache:
            raise SubmissionError(
                f"--no-cache would stay in version {self.version!r} for every run of it: upload without --no-cache"
            )


@dataclass(frozen=True)
class Submitted:
    """A started run or recurring run: its id, its page in the KFP UI, and the uploaded version's page."""

    run_id: str  # the recurring run's id for a recurring run
    url: str
    recurring: bool = False
    version_url: str | None = None


def submit(
    package: Path,
    host: str,
    pipeline_root: str,
    pipeline_name: str,
    submission: Submission,
    arguments: Mapping[str, Any] | None = None,
) -> Submitted:
    """Starts a run, or a recurring run, of the compiled spec `package` or of a version of it
    uploaded first (see Submission), in the experiment (created when missing). `arguments`: the
    values of the spec's run-time parameters (its root inputs), which the run's page shows."""
    client = _connect(host, submission.namespace)
    run_name = submission.run_name or f"{pipeline_name} {time.strftime('%Y-%m-%d %H-%M-%S')}"
    # kfp prints the experiment's, version's and run's links itself; the CLI prints its own lines.
    with _api_errors(host), contextlib.redirect_stdout(io.StringIO()):
        version = (
            _upload_version(client, package, pipeline_name, submission.version, submission.namespace)
            if submission.version
            else None
        )
        experiment_id = client.create_experiment(submission.experiment, namespace=submission.namespace).experiment_id
        run_options = {
            "pipeline_root": pipeline_root,
            "service_account": submission.service_account,
            "params": dict(arguments or {}),
            **_pipeline_source(package, version),
        }
        if submission.schedule:
            recurring_run = client.create_recurring_run(
                experiment_id, run_name, cron_expression=submission.schedule, **run_options
            )
            run_id, page = recurring_run.recurring_run_id, "recurringrun/details"
        else:
            run_id, page = client.run_pipeline(experiment_id, run_name, **run_options).run_id, "runs/details"
    kind = "recurring run" if submission.schedule else "run"
    log.info("Created %s '%s' in experiment '%s'", kind, run_name, submission.experiment)
    version_page = version and f"pipelines/details/{version.pipeline_id}/version/{version.pipeline_version_id}"
    return Submitted(
        run_id=run_id,
        url=_ui_url(host, f"{page}/{run_id}"),
        recurring=bool(submission.schedule),
        version_url=_ui_url(host, version_page) if version_page else None,
    )


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
            raise KfpApiError(
                f"run {run_id} is still {state} after {timeout:g} s: {_ui_url(host, f'runs/details/{run_id}')}"
            )
        time.sleep(POLL_SECONDS)


class _Client(kfp.Client):
    """kfp.Client with one health check at start, not five tries 5 s apart each logged with a traceback."""

    def get_kfp_healthz(self, sleep_duration: int = 5) -> kfp_server_api.V2beta1GetHealthzResponse:
        return self._healthz_api.get_healthz()

    def create_pipeline(self, name: str, namespace: str | None) -> str:
        """Creates a pipeline without versions; returns its id. (kfp.Client has only upload_pipeline,
        whose first version KFP names after the pipeline: 2.17.0 pipeline_upload_server.go uploadPipeline.)"""
        pipeline = kfp_server_api.V2beta1Pipeline(display_name=name, namespace=namespace)
        return self._pipelines_api.create_pipeline(body=pipeline).pipeline_id


def _connect(host: str, namespace: str | None) -> _Client:
    """A kfp client for `host`, with kfp's own auth: KF_PIPELINES_* variables, IAP, cookies.

    kfp reads a token file (KF_PIPELINES_SA_TOKEN_PATH) by itself only inside a pod; here it is
    read whenever the variable is set, so `kubectl create token ...` works from a workstation.
    """
    token_path = os.environ.get(KF_PIPELINES_SA_TOKEN_ENV)
    if token_path and not os.path.isfile(token_path):
        raise KfpApiError(f"{KF_PIPELINES_SA_TOKEN_ENV}={token_path}: no such file")
    credentials = ServiceAccountTokenVolumeCredentials(token_path) if token_path else None
    namespace_argument = {"namespace": namespace} if namespace else {}  # kfp's default is "kubeflow"
    with _api_errors(host):
        return _Client(host=host, credentials=credentials, **namespace_argument)


def _upload_version(
    client: _Client, package: Path, pipeline_name: str, version: str, namespace: str | None
) -> kfp_server_api.V2beta1PipelineVersion:
    """Uploads the spec as version `version` of the pipeline `pipeline_name`, created when missing."""
    pipeline_id = _pipeline_id(client, pipeline_name, namespace) or client.create_pipeline(pipeline_name, namespace)
    try:
        return client.upload_pipeline_version(str(package), version, pipeline_id=pipeline_id)
    except kfp_server_api.ApiException as error:
        # The one conflict KFP answers here (2.17.0 pipeline_upload_server.go uploadPipelineVersion).
        if error.status == HTTPStatus.CONFLICT:
            raise KfpApiError(
                f"pipeline {pipeline_name!r} already has a version {version!r}; versions are never replaced: "
                "give a new version name"
            ) from error
        raise


def _pipeline_id(client: kfp.Client, name: str, namespace: str | None) -> str | None:
    """The id of the pipeline named `name` in `namespace`, None when there is none. Found by its
    name, unique in a namespace (2.17.0 backend/src/apiserver/model/pipeline.go
    pipelineAPIToModelFieldMap), where kfp.Client.get_pipeline_id looks in no namespace by display name."""
    by_name = json.dumps({"predicates": [{"operation": "EQUALS", "key": "name", "stringValue": name}]})
    found = client.list_pipelines(filter=by_name, namespace=namespace).pipelines
    return found[0].pipeline_id if found else None


def _pipeline_source(package: Path, version: kfp_server_api.V2beta1PipelineVersion | None) -> dict[str, str]:
    """What a run runs, as kfp.Client takes it: the uploaded version (sent as the run's
    `pipeline_version_reference`), else the spec itself (sent as its `pipeline_spec`)."""
    if version:
        return {"pipeline_id": version.pipeline_id, "version_id": version.pipeline_version_id}
    return {"pipeline_package_path": str(package)}


def _check_cron(cron: str) -> None:
    """Lets through what KFP reads as meant: 6 fields, seconds first, or a descriptor like @daily.

    KFP 2.17.0 parses crons with robfig/cron v1.2.0 `cron.Parse` (api_converter.go toModelJob;
    the controller too, crd/controller/scheduledworkflow/util/cron_schedule.go), whose fields
    start with seconds and whose 6th field is optional: a usual 5-field cron is accepted but read
    one field off (`0 2 * * *` runs hourly at minute 2, not at 02:00). The server checks the rest.
    """
    fields = len(cron.split())
    if not cron.startswith("@") and fields != CRON_FIELDS:
        raise SubmissionError(
            f"schedule {cron!r} has {fields} fields: KFP's cron needs a seconds field first, "
            f"e.g. {CRON_EXAMPLE!r} for 02:00 every day, or a descriptor such as @daily"
        )


def _ui_url(host: str, page: str) -> str:
    """A page of the KFP UI, e.g. runs/details/RUN_ID (at KF_PIPELINES_UI_ENDPOINT when set, as kfp does)."""
    ui = os.environ.get("KF_PIPELINES_UI_ENDPOINT") or host
    return f"{ui.rstrip('/')}/#/{page}"


@contextlib.contextmanager
def _api_errors(host: str) -> Iterator[None]:
    """Turns an unreachable host, refused credentials or an error answer into one KfpApiError."""
    try:
        yield
    except kfp_server_api.ApiException as error:
        raise KfpApiError(_describe_answer(host, error)) from error
    except urllib3.exceptions.HTTPError as error:
        raise KfpApiError(f"cannot reach the KFP API at {host}: {_reason(error)}") from error


def _describe_answer(host: str, error: kfp_server_api.ApiException) -> str:
    if not error.status:  # kfp_server_api reports TLS failures with status 0
        return f"cannot reach the KFP API at {host}: {error.reason}"
    answer = f"{error.status} {error.reason}: {_message(error.body)}".rstrip(": ")
    if error.status in (401, 403):
        return (
            f"the KFP API at {host} refused the credentials ({answer}); "
            f"give a token file in {KF_PIPELINES_SA_TOKEN_ENV} or an IAP client id in KF_PIPELINES_IAP_OAUTH2_CLIENT_ID"
        )
    return f"the KFP API at {host} answered {answer}"


def _message(body: str | bytes | None) -> str:
    """The message of the API's JSON error answer, else the start of the answer's text. The gRPC
    gateway answers `message`; the upload endpoints `error_message` (their `error_details` is a
    stack trace: 2.17.0 pipeline_upload_server.go writeErrorToResponse)."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body or ""
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        text = str(next((answer[key] for key in MESSAGE_KEYS if answer.get(key)), text))
    return " ".join(str(text).split())[:300]


def _reason(error: urllib3.exceptions.HTTPError) -> str:
    """urllib3's reason without the connection object's repr, e.g. `[Errno 111] Connection refused`."""
    reason = str(getattr(error, "reason", None) or error)
    return reason.split(">: ", 1)[-1]
