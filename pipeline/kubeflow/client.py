"""The Kubeflow Pipelines API as `submit` uses it: start a run of a compiled spec, follow it,
and turn every way it can fail (unreachable, refused credentials, an error answer) into one line."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import kfp
import kfp_server_api
import urllib3
from kfp.client import KF_PIPELINES_SA_TOKEN_ENV, ServiceAccountTokenVolumeCredentials

from components.errors import PipelineError

log = logging.getLogger(__name__)

FINAL_STATES = ("SUCCEEDED", "SKIPPED", "FAILED", "CANCELED")
POLL_SECONDS = 10.0


class KfpApiError(PipelineError):
    """The KFP API cannot be reached, refuses us, or answers an error."""


@dataclass(frozen=True)
class SubmittedRun:
    """A started run: its id and its page in the KFP UI."""

    run_id: str
    url: str


def submit(
    package: Path, host: str, pipeline_root: str, run_name: str, namespace: str | None = None, experiment: str = "mnist"
) -> SubmittedRun:
    """Starts a run of the compiled spec `package` in `experiment` (created when missing)."""
    client = _connect(host, namespace)
    # kfp prints the experiment's and the run's links itself; the CLI prints its own line.
    with _api_errors(host), contextlib.redirect_stdout(io.StringIO()):
        result = client.create_run_from_pipeline_package(
            str(package),
            arguments={},
            run_name=run_name,
            experiment_name=experiment,
            namespace=namespace,
            pipeline_root=pipeline_root,
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
            raise KfpApiError(f"run {run_id} is still {state} after {timeout:g} s: {_run_url(host, run_id)}")
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
        raise KfpApiError(f"{KF_PIPELINES_SA_TOKEN_ENV}={token_path}: no such file")
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
    """The message of the API's JSON error answer, else the start of the answer's text."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body or ""
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and (answer.get("message") or answer.get("error")):
        text = str(answer.get("message") or answer.get("error"))
    return " ".join(str(text).split())[:300]


def _reason(error: urllib3.exceptions.HTTPError) -> str:
    """urllib3's reason without the connection object's repr, e.g. `[Errno 111] Connection refused`."""
    reason = str(getattr(error, "reason", None) or error)
    return reason.split(">: ", 1)[-1]
