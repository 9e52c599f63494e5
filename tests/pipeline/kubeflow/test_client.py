"""Tests for `submit` (pipeline/kubeflow/client.py): the real kfp client against a fake KFP API.

tests/fake_kfp_server.py answers the v2beta1 calls kfp.Client makes and records them, so the
tests check what is sent (experiment, namespace, credentials, the compiled spec) and how each
answer is reported.
"""

from __future__ import annotations

import json
import socket

import kfp
import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from pipeline.kubeflow import client
from pipeline.kubeflow.client import KfpApiError
from pipeline.kubeflow.compiler import compile_pipeline

from conftest import run_cli
from fake_kfp_server import FakeKfp, serve
from kubeflow_args import (
    IMAGE,
    KUBEFLOW_ARGS,
    PIPELINE_ROOT,
    TASK_ENV_ARGS,
    container_executors,
    error_lines,
    kubeflow_config,
)


@pytest.fixture
def kfp_api(monkeypatch, tmp_path):
    """A fake KFP API on 127.0.0.1; no KF_PIPELINES_* settings or kfp context of this machine."""
    for name in (
        "KF_PIPELINES_UI_ENDPOINT",
        "KF_PIPELINES_SA_TOKEN_PATH",
        "KF_PIPELINES_IAP_OAUTH2_CLIENT_ID",
        "KF_PIPELINES_DEFAULT_EXPERIMENT_NAME",
        "KF_PIPELINES_OVERRIDE_EXPERIMENT_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(kfp.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "kfp-context.json"))
    monkeypatch.setattr(client, "POLL_SECONDS", 0.01)
    with serve(FakeKfp()) as fake:
        yield fake


def submit(fake: FakeKfp, *args: str) -> int:
    return run_cli("submit", "--host", fake.url, *KUBEFLOW_ARGS, *args)


def test_submit_sends_the_compiled_spec_to_a_new_experiment(kfp_api, tmp_path, capsys):
    assert submit(kfp_api, "--experiment", "nightly", "--run-name", "run one") == 0

    [list_call] = kfp_api.calls("GET", "/experiments")
    assert json.loads(list_call.query["filter"])["predicates"][0]["stringValue"] == "nightly"
    [create_experiment] = kfp_api.calls("POST", "/experiments")
    assert create_experiment.body["display_name"] == "nightly"
    [create_run] = kfp_api.calls("POST", "/runs")
    sent = create_run.body
    assert sent["display_name"] == "run one"
    assert sent["experiment_id"] == kfp_api.experiments["nightly"]["experiment_id"]
    assert sent["runtime_config"] == {"pipeline_root": PIPELINE_ROOT, "parameters": {}}
    package = compile_pipeline(kubeflow_config(), tmp_path / "expected.yaml")
    expected = json_format.ParseDict(yaml.safe_load(package.read_text()), pipeline_spec_pb2.PipelineSpec())
    assert sent["pipeline_spec"] == json_format.MessageToDict(expected)
    assert kfp_api.calls("GET", "/runs/run-1") == []  # no --wait: no polling
    assert f"Submitted run run-1: {kfp_api.url}/#/runs/details/run-1" in capsys.readouterr().out


def test_submit_sends_the_platform_spec_with_the_secret_env(kfp_api):
    assert submit(kfp_api, *TASK_ENV_ARGS) == 0

    [create_run] = kfp_api.calls("POST", "/runs")
    sent = create_run.body["pipeline_spec"]  # kfp sends {pipeline_spec, platform_spec} when there is one
    assert set(sent) == {"pipeline_spec", "platform_spec"}
    executors = sent["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(container_executors(sent["pipeline_spec"]))


def test_submit_reuses_an_existing_experiment(kfp_api):
    kfp_api.experiments["mnist"] = {"experiment_id": "experiment-7", "display_name": "mnist"}
    assert submit(kfp_api) == 0
    assert kfp_api.calls("POST", "/experiments") == []
    assert kfp_api.calls("POST", "/runs")[0].body["experiment_id"] == "experiment-7"


def test_submit_sends_the_namespace(kfp_api):
    assert submit(kfp_api, "--namespace", "team-a") == 0
    assert kfp_api.calls("GET", "/experiments")[0].query["namespace"] == "team-a"
    assert kfp_api.calls("POST", "/experiments")[0].body["namespace"] == "team-a"


def test_submit_sends_the_token_file_as_bearer_token(kfp_api, monkeypatch, tmp_path):
    token = tmp_path / "token"
    token.write_text("secret-token\n")
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token))
    assert submit(kfp_api) == 0
    assert {request.headers.get("authorization") for request in kfp_api.requests} == {"Bearer secret-token"}


def test_a_missing_token_file_is_one_clear_line(kfp_api, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(tmp_path / "no-token"))
    assert submit(kfp_api) == 1
    missing = tmp_path / "no-token"
    assert error_lines(capsys.readouterr().err) == [f"error: KF_PIPELINES_SA_TOKEN_PATH={missing}: no such file"]
    assert kfp_api.requests == []


@pytest.mark.parametrize(
    ("states", "exit_code"),
    [(["PENDING", "RUNNING", "SUCCEEDED"], 0), (["RUNNING", "FAILED"], 1), (["CANCELED"], 1)],
)
def test_submit_wait_follows_the_run_to_its_end(kfp_api, capsys, states, exit_code):
    kfp_api.run_states = list(states)
    assert submit(kfp_api, "--wait") == exit_code
    assert len(kfp_api.calls("GET", "/runs/run-1")) == len(states)
    assert f"Run run-1 ended: {states[-1]}" in capsys.readouterr().out


def test_wait_gives_up_after_the_timeout(kfp_api):
    kfp_api.runs["run-1"] = {"run_id": "run-1", "display_name": "stuck"}
    kfp_api.run_states = ["RUNNING"]
    with pytest.raises(KfpApiError, match=r"run run-1 is still RUNNING after 0 s"):
        client.wait_for_run(kfp_api.url, "run-1", timeout=0)


def test_unreachable_host_gives_one_clear_line(capsys):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        host = f"http://127.0.0.1:{probe.getsockname()[1]}"
    assert run_cli("submit", "--host", host, *KUBEFLOW_ARGS) == 1
    error = capsys.readouterr().err
    assert error_lines(error) == [
        f"error: cannot reach the KFP API at {host}: Failed to establish a new connection: "
        "[Errno 111] Connection refused"
    ]
    assert "Traceback" not in error


def test_refused_credentials_give_one_clear_line(kfp_api, capsys):
    kfp_api.error = (401, "Jwt is missing")
    assert submit(kfp_api) == 1
    error = capsys.readouterr().err
    assert error_lines(error) == [
        f"error: the KFP API at {kfp_api.url} refused the credentials (401 Unauthorized: Jwt is missing); "
        "give a token file in KF_PIPELINES_SA_TOKEN_PATH or an IAP client id in KF_PIPELINES_IAP_OAUTH2_CLIENT_ID"
    ]
    assert "Traceback" not in error and len(kfp_api.requests) == 1  # one health check, no retries


def test_error_answer_gives_its_status_and_message(kfp_api, capsys):
    kfp_api.run_error = (400, "Failed to create a run: invalid pipeline spec")
    assert submit(kfp_api) == 1
    error = capsys.readouterr().err
    assert error_lines(error) == [
        f"error: the KFP API at {kfp_api.url} answered 400 Bad Request: Failed to create a run: invalid pipeline spec"
    ]
    assert "Traceback" not in error


def test_example_values_are_refused_before_submitting(kfp_api, capsys):
    assert run_cli("submit", "--host", kfp_api.url, "--image", IMAGE) == 1
    [line] = error_lines(capsys.readouterr().err)
    assert line.startswith("error: still the example value: kubeflow.pipeline_root (--pipeline-root)=gs://YOUR_BUCKET/")
    assert kfp_api.requests == []
