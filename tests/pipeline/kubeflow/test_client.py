"""Tests for `submit` (pipeline/kubeflow/client.py): the real kfp client against a fake KFP API.

tests/support/fake_kfp_server.py answers the v2beta1 calls kfp.Client makes and records them, so the
tests check what is sent (experiment, namespace, credentials, the compiled spec, the service
account, the schedule, the uploaded version) and how each answer is reported.
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
from pipeline.kubeflow.compiler import compile_pipeline, run_parameters

from conftest import run_cli
from support.fake_kfp_server import FakeKfp, serve
from support.kubeflow_args import (
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
    assert sent["runtime_config"] == {"pipeline_root": PIPELINE_ROOT, "parameters": run_parameters(kubeflow_config())}
    assert sent["pipeline_spec"] == expected_spec(tmp_path)
    assert "service_account" not in sent and "pipeline_version_reference" not in sent
    assert kfp_api.calls("GET", "/runs/run-1") == []  # no --wait: no polling
    assert f"Submitted run run-1: {kfp_api.url}/#/runs/details/run-1" in capsys.readouterr().out


def test_no_cache_sends_the_spec_without_caching_options(kfp_api, tmp_path):
    """KFP's driver reuses a task's outputs only when its `cachingOptions.enableCache` is set."""
    assert submit(kfp_api, "--no-cache") == 0

    [create_run] = kfp_api.calls("POST", "/runs")
    cached = expected_spec(tmp_path)
    assert [name for name, task in tasks(cached).items() if task.get("cachingOptions", {}).get("enableCache")]
    for task in tasks(cached).values():
        task.pop("cachingOptions", None)
    assert create_run.body["pipeline_spec"] == cached


def test_submit_sends_the_service_account(kfp_api):
    assert submit(kfp_api, "--service-account", "mnist-runner") == 0
    assert kfp_api.calls("POST", "/runs")[0].body["service_account"] == "mnist-runner"


def test_schedule_creates_a_recurring_run(kfp_api, tmp_path, capsys):
    args = ("--schedule", "0 0 2 * * *", "--run-name", "nightly", "--service-account", "mnist-runner")
    assert submit(kfp_api, *args) == 0

    assert kfp_api.calls("POST", "/runs") == []
    [create] = kfp_api.calls("POST", "/recurringruns")
    sent = create.body
    assert sent["trigger"] == {"cron_schedule": {"cron": "0 0 2 * * *"}}
    assert sent["mode"] == "ENABLE"
    assert sent["display_name"] == "nightly"
    assert sent["service_account"] == "mnist-runner"
    assert sent["experiment_id"] == kfp_api.experiments["mnist"]["experiment_id"]
    assert sent["runtime_config"] == {"pipeline_root": PIPELINE_ROOT, "parameters": run_parameters(kubeflow_config())}
    assert sent["pipeline_spec"] == expected_spec(tmp_path)
    url = f"{kfp_api.url}/#/recurringrun/details/recurring-run-1"
    assert f"Submitted recurring run recurring-run-1: {url}" in capsys.readouterr().out


def test_a_cron_without_seconds_is_refused_before_anything_is_sent(kfp_api, capsys):
    """KFP would take `0 2 * * *` and read it seconds first: hourly at minute 2, not at 02:00."""
    assert submit(kfp_api, "--schedule", "0 2 * * *") == 1
    assert error_lines(capsys.readouterr().err) == [
        "error: schedule '0 2 * * *' has 5 fields: KFP's cron needs a seconds field first, "
        "e.g. '0 0 2 * * *' for 02:00 every day, or a descriptor such as @daily"
    ]
    assert kfp_api.requests == []


def test_a_cron_the_server_refuses_gives_its_message(kfp_api, capsys):
    assert submit(kfp_api, "--schedule", "@nightly") == 1
    assert error_lines(capsys.readouterr().err) == [
        f"error: the KFP API at {kfp_api.url} answered 400 Bad Request: Failed to create a recurring run due to "
        "conversion error: Invalid input error: Schedule cron is not a supported "
        "format(https://godoc.org/github.com/robfig/cron). Error: Unrecognized descriptor: @nightly"
    ]


def test_wait_is_refused_with_a_schedule(kfp_api, capsys):
    assert submit(kfp_api, "--schedule", "@daily", "--wait") == 1
    assert error_lines(capsys.readouterr().err) == [
        "error: --wait follows one run; a recurring run (--schedule) starts its runs later"
    ]
    assert kfp_api.requests == []


def test_upload_creates_the_pipeline_and_runs_the_uploaded_version(kfp_api, tmp_path, capsys):
    pipeline_name = kubeflow_config().pipeline_name
    assert submit(kfp_api, "--upload", "v1") == 0

    [find_pipeline] = kfp_api.calls("GET", "/pipelines")
    assert json.loads(find_pipeline.query["filter"])["predicates"] == [
        {"operation": "EQUALS", "key": "name", "stringValue": pipeline_name}
    ]
    [create_pipeline] = kfp_api.calls("POST", "/pipelines")
    assert create_pipeline.body == {"display_name": pipeline_name}
    [upload] = kfp_api.calls("POST", "/pipelines/upload_version")
    assert upload.query == {"name": "v1", "pipelineid": "pipeline-1"}
    package = compile_pipeline(kubeflow_config(), tmp_path / "expected.yaml")
    assert upload.files["uploadfile"].content == package.read_bytes()
    [create_run] = kfp_api.calls("POST", "/runs")
    assert create_run.body["pipeline_version_reference"] == {
        "pipeline_id": "pipeline-1",
        "pipeline_version_id": "version-1",
    }
    assert "pipeline_spec" not in create_run.body
    assert create_run.body["runtime_config"]["pipeline_root"] == PIPELINE_ROOT
    out = capsys.readouterr().out
    assert f"Uploaded version v1: {kfp_api.url}/#/pipelines/details/pipeline-1/version/version-1" in out
    assert f"Submitted run run-1: {kfp_api.url}/#/runs/details/run-1" in out


def test_upload_adds_a_version_to_the_pipeline_and_schedules_it(kfp_api):
    pipeline_name = kubeflow_config().pipeline_name
    kfp_api.pipelines["pipeline-7"] = {
        "pipeline_id": "pipeline-7",
        "name": pipeline_name,
        "display_name": pipeline_name,
    }
    assert submit(kfp_api, "--upload", "v2", "--schedule", "@daily", "--namespace", "team-a") == 0

    assert kfp_api.calls("GET", "/pipelines")[0].query["namespace"] == "team-a"
    assert kfp_api.calls("POST", "/pipelines") == []
    [upload] = kfp_api.calls("POST", "/pipelines/upload_version")
    assert upload.query == {"name": "v2", "pipelineid": "pipeline-7"}
    [create] = kfp_api.calls("POST", "/recurringruns")
    assert create.body["pipeline_version_reference"] == {
        "pipeline_id": "pipeline-7",
        "pipeline_version_id": "version-1",
    }
    assert create.body["trigger"] == {"cron_schedule": {"cron": "@daily"}}


def test_an_existing_version_name_is_one_clear_line(kfp_api, capsys):
    pipeline_name = kubeflow_config().pipeline_name
    kfp_api.pipelines["pipeline-7"] = {
        "pipeline_id": "pipeline-7",
        "name": pipeline_name,
        "display_name": pipeline_name,
    }
    kfp_api.pipeline_versions["version-3"] = {
        "pipeline_id": "pipeline-7",
        "pipeline_version_id": "version-3",
        "name": "v1",
    }
    assert submit(kfp_api, "--upload", "v1") == 1

    assert error_lines(capsys.readouterr().err) == [
        f"error: pipeline '{pipeline_name}' already has a version 'v1'; versions are never replaced: "
        "give a new version name"
    ]
    assert kfp_api.calls("POST", "/runs") == []


def test_no_cache_is_refused_with_upload(kfp_api, capsys):
    assert submit(kfp_api, "--upload", "v1", "--no-cache") == 1
    assert error_lines(capsys.readouterr().err) == [
        "error: --no-cache would stay in version 'v1' for every run of it: upload without --no-cache"
    ]
    assert kfp_api.requests == []


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


def expected_spec(tmp_path) -> dict:
    """The PipelineSpec `submit` sends with the test's flags, as kfp sends it (through its protos)."""
    package = compile_pipeline(kubeflow_config(), tmp_path / "expected.yaml")
    spec = json_format.ParseDict(yaml.safe_load(package.read_text()), pipeline_spec_pb2.PipelineSpec())
    return json_format.MessageToDict(spec)


def tasks(spec: dict) -> dict[str, dict]:
    return spec["root"]["dag"]["tasks"]


def test_set_gives_the_run_its_parameters(kfp_api):
    """`submit --set` changes the run's values of the spec's run-time parameters, which KFP shows
    on the run's page (and the spec's defaults, as it is compiled with the same config)."""
    assert submit(kfp_api, "--set", "training.learning_rate=0.02", "--set", "training.train_steps=300") == 0
    [create_run] = kfp_api.calls("POST", "/runs")
    parameters = create_run.body["runtime_config"]["parameters"]
    assert (parameters["learning_rate"], parameters["train_steps"]) == (0.02, 300)
    root_inputs = create_run.body["pipeline_spec"]["root"]["inputDefinitions"]["parameters"]
    assert root_inputs["learning_rate"]["defaultValue"] == 0.02
