"""Tests for Kubeflow: the compiled spec, the image's Dockerfile, and submit against a fake KFP API.

No Kubeflow cluster runs here: the spec is checked against the local pipeline and kfp's
protos, and `submit` drives the real kfp client against tests/fake_kfp_server.py.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import kfp
import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from conftest import run_cli
from fake_kfp_server import FakeKfp, serve
from pipeline import kubeflow_runner
from pipeline.config import load_config
from pipeline.kubeflow_runner import KubeflowError, KubeflowSettings, compile_pipeline
from pipeline.pipeline import PipelinePaths, create_pipeline

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE = "registry.example.com/team/mnist-pipeline:test"
PIPELINE_ROOT = "gs://test-bucket/mnist/root"
DATA_DIR = "gs://test-bucket/mnist/data"
SERVING_DIR = "gs://test-bucket/mnist/serving"
KUBEFLOW_ARGS = [
    "--image", IMAGE,
    "--pipeline-root", PIPELINE_ROOT,
    "--data-dir", DATA_DIR,
    "--set", f"kubeflow.serving_dir={SERVING_DIR}",
]
TASK_COMMAND = ["python", "-m", "pipeline.kfp_task"]  # TFX's executor runner, s3:// registered
RESOLVER = "latest_blessed_model_resolver"


def settings_for(config) -> KubeflowSettings:
    return KubeflowSettings.from_config(config, IMAGE, PIPELINE_ROOT, DATA_DIR)


@pytest.fixture(scope="module")
def config():
    return load_config(overrides=[f"kubeflow.serving_dir={SERVING_DIR}"])


@pytest.fixture(scope="module")
def compiled(config, tmp_path_factory) -> dict[str, Path]:
    """The pipeline compiled once as a PipelineJob (.json) and as a PipelineSpec (.yaml)."""
    directory = tmp_path_factory.mktemp("compiled")
    return {
        suffix: compile_pipeline(config, settings_for(config), directory / f"pipeline{suffix}")
        for suffix in (".json", ".yaml")
    }


@pytest.fixture(scope="module")
def job(compiled) -> dict:
    return json.loads(compiled[".json"].read_text())


@pytest.fixture(scope="module")
def spec(job) -> dict:
    return job["pipelineSpec"]


def executor_of(spec: dict, task: str) -> dict:
    return spec["deploymentSpec"]["executors"][spec["components"][task]["executorLabel"]]


def parameter(spec: dict, task: str, name: str):
    return spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"][name]["runtimeValue"]["constant"]


def node_edges(tfx_pipeline) -> set[tuple[str, str]]:
    return {(upstream.id, node.id) for node in tfx_pipeline.components for upstream in node.upstream_nodes}


# --- the compiled spec ------------------------------------------------------------------------


def test_compiled_files_parse_with_the_pipeline_spec_protos(compiled, job):
    parsed_job = json_format.ParseDict(job, pipeline_spec_pb2.PipelineJob())
    assert parsed_job.pipeline_spec["schemaVersion"] == "2.1.0"
    parsed_spec = json_format.ParseDict(yaml.safe_load(compiled[".yaml"].read_text()), pipeline_spec_pb2.PipelineSpec())
    assert parsed_spec.pipeline_info.name == "mnist"
    assert json_format.MessageToDict(parsed_spec) == job["pipelineSpec"]  # one spec, two packagings


def test_tasks_and_dependencies_are_the_local_pipelines_components_and_edges(config, spec):
    paths = PipelinePaths(data_dir="data", pipeline_root="root", serving_dir="serving", schema_file="schema.pbtxt")
    local = create_pipeline(config, paths, [])
    on_kubeflow = create_pipeline(config, paths, [], for_kubeflow=True)
    node_ids = {node.id for node in local.components}

    # TFX compiles the stock LatestBlessedModelStrategy into two resolver tasks, one per channel.
    def node_of(task: str) -> str:
        return RESOLVER if task.startswith(f"{RESOLVER}-") and task.endswith("-resolver") else task

    tasks = spec["root"]["dag"]["tasks"]
    compiled_edges = {
        (node_of(upstream), node_of(task))
        for task, task_spec in tasks.items()
        for upstream in task_spec.get("dependentTasks", [])
        if node_of(upstream) != node_of(task)
    }
    assert {node_of(task) for task in tasks} == node_ids
    assert compiled_edges == node_edges(on_kubeflow)
    # The only difference from the local run: the local strategy also takes the new model.
    assert node_edges(local) - compiled_edges == {("Trainer", RESOLVER)}
    assert compiled_edges <= node_edges(local)


def test_without_the_comparison_there_is_no_resolver_task(tmp_path):
    """What open-source KFP, which cannot run resolver tasks, is given."""
    config = load_config(overrides=[f"kubeflow.serving_dir={SERVING_DIR}", "evaluation.compare_with_blessed=false"])
    path = compile_pipeline(config, settings_for(config), tmp_path / "pipeline.json")
    tasks = json.loads(path.read_text())["pipelineSpec"]["root"]["dag"]["tasks"]
    assert not [task for task in tasks if "resolver" in task]
    assert "Evaluator.validation" in tasks and "Pusher" in tasks


def test_every_task_runs_the_given_image_with_the_project_task_command(spec):
    executors = spec["deploymentSpec"]["executors"]
    containers = {label: executor["container"] for label, executor in executors.items() if "container" in executor}
    resolvers = {label for label, executor in executors.items() if "resolver" in executor}
    assert {container["image"] for container in containers.values()} == {IMAGE}
    assert all(container["command"] == TASK_COMMAND for container in containers.values())
    assert resolvers == {f"{RESOLVER}-model-resolver_executor", f"{RESOLVER}-model-blessing-resolver_executor"}
    assert len(containers) + len(resolvers) == len(executors)


def test_code_is_referenced_by_module_path_inside_the_image(spec):
    assert parameter(spec, "Trainer", "run_fn") == "components.trainer.module.run_fn"
    executor_classes = {
        task: executor_of(spec, task)["container"]["args"][1] for task in ("IdxExampleGen", "SplitValidator", "Pusher")
    }
    assert executor_classes == {
        "IdxExampleGen": "components.idx_example_gen.executor.Executor",
        "SplitValidator": "components.split_validator.SplitValidator_Executor",
        "Pusher": "components.pusher.executor.Executor",
    }


def test_beam_components_get_the_kubeflow_beam_args(config, spec, tmp_path):
    default_args = list(config.kubeflow.beam_pipeline_args)
    assert default_args == ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]
    worker_plugin = "--beam_plugin=components.beam_worker"  # s3:// and a clean exit in each worker
    for task in ("IdxExampleGen", "StatisticsGen", "Evaluator.validation"):
        assert executor_of(spec, task)["container"]["args"][-3:] == [*default_args, worker_plugin]
    dataflow_args = ["--runner=DataflowRunner", "--project=p", "--region=r", "--temp_location=gs://b/tmp"]
    dataflow_config = load_config(overrides=[f"kubeflow.beam_pipeline_args={json.dumps(dataflow_args)}"])
    output = compile_pipeline(dataflow_config, settings_for(dataflow_config), tmp_path / "dataflow.json")
    dataflow_spec = json.loads(output.read_text())["pipelineSpec"]
    assert executor_of(dataflow_spec, "StatisticsGen")["container"]["args"][-5:-1] == dataflow_args


def test_storage_and_runtime_settings_are_the_configured_ones(config, job, spec):
    assert job["runtimeConfig"] == {"gcsOutputDirectory": PIPELINE_ROOT}
    assert "inputDefinitions" not in spec["root"]  # no runtime parameters: a run takes none
    assert parameter(spec, "IdxExampleGen", "input_base") == DATA_DIR
    push_destination = json.loads(parameter(spec, "Pusher", "push_destination"))
    assert push_destination == {"filesystem": {"base_directory": SERVING_DIR}}
    custom_config = json.loads(parameter(spec, "Trainer", "custom_config"))
    assert custom_config["train_steps"] == config.training.train_steps
    assert json.loads(parameter(spec, "Trainer", "train_args"))["num_steps"] == config.training.train_steps


def test_schema_is_named_by_content_hash_where_the_image_stages_it(config, spec, tmp_path):
    schema_file = parameter(spec, "ImportSchemaGen", "schema_file")
    assert schema_file == str(kubeflow_runner.image_schema_file(config.validation.schema_path))
    assert re.fullmatch(r"/pipeline/schemas/[0-9a-f]{16}/schema\.pbtxt", schema_file)
    # What the Dockerfile's staging step does in /pipeline, done in a copy of configs/.
    (tmp_path / "configs").mkdir()
    for source in (REPO_ROOT / "configs").iterdir():
        (tmp_path / "configs" / source.name).write_bytes(source.read_bytes())
    kubeflow_runner.stage_image_schemas(tmp_path)
    staged = tmp_path / Path(schema_file).relative_to("/pipeline")
    assert staged.read_bytes() == config.validation.schema_path.read_bytes()


def test_spec_holds_no_local_paths(compiled):
    for path in compiled.values():
        text = path.read_text()
        for local in ("/work/", "/tmp/", "/home/", f"{REPO_ROOT}/", f"{Path.home()}/"):
            assert local not in text, f"{path.name} holds {local}"


def test_compiling_twice_gives_identical_files(config, compiled, tmp_path):
    for suffix, first in compiled.items():
        again = compile_pipeline(config, settings_for(config), tmp_path / f"again{suffix}")
        assert again.read_bytes() == first.read_bytes()


def test_cli_compile_writes_the_spec_with_the_given_settings(tmp_path, capsys):
    output = tmp_path / "out" / "pipeline.json"
    assert run_cli("compile", "--output", output, *KUBEFLOW_ARGS, "--set", "training.train_steps=7") == 0
    spec = json.loads(output.read_text())["pipelineSpec"]
    assert executor_of(spec, "Trainer")["container"]["image"] == IMAGE
    assert json.loads(parameter(spec, "Trainer", "train_args"))["num_steps"] == 7
    assert f"Wrote {output} (image {IMAGE}, pipeline root {PIPELINE_ROOT})" in capsys.readouterr().out


def test_settings_fall_back_to_the_config(config):
    settings = KubeflowSettings.from_config(config, None, None, None)
    assert settings == KubeflowSettings(
        image=config.kubeflow.image,
        pipeline_root=config.kubeflow.pipeline_root,
        data_dir=config.kubeflow.data_dir,
        serving_dir=SERVING_DIR,
        beam_pipeline_args=config.kubeflow.beam_pipeline_args,
    )


@pytest.mark.parametrize("data_dir", ["/data/mnist", "data/mnist", "file:///data/mnist"])
def test_local_paths_are_refused(tmp_path, capsys, data_dir):
    output = tmp_path / "pipeline.json"
    assert run_cli("compile", "--output", output, *KUBEFLOW_ARGS, "--data-dir", data_dir) == 1
    error = capsys.readouterr().err
    assert error_lines(error) == [
        f"error: kubeflow.data_dir (--data-dir) must be an object-storage URI such as gs://BUCKET/PATH, got '{data_dir}'"
    ]
    assert "Traceback" not in error and not output.exists()


def test_schema_outside_configs_is_refused(config, tmp_path):
    schema = tmp_path / "schema.pbtxt"
    schema.write_text("")
    outside = load_config(overrides=[f"validation.schema_file={schema}"])
    with pytest.raises(KubeflowError, match="the schema must be a .pbtxt file in configs/"):
        compile_pipeline(outside, settings_for(outside), tmp_path / "pipeline.json")


def test_schemes_tensorflow_cannot_open_are_warned_about(config, tmp_path, caplog):
    """KFP's own default root scheme, minio://, is no filesystem TensorFlow knows; s3:// is."""
    settings = KubeflowSettings.from_config(config, IMAGE, "s3://test-bucket/root", "minio://test-bucket/mnist/data")
    compile_pipeline(config, settings, tmp_path / "pipeline.json")
    [warning] = [record.getMessage() for record in caplog.records if record.name == "pipeline.kubeflow_runner"]
    assert warning.startswith("kubeflow.data_dir (--data-dir): TensorFlow cannot open minio:// URIs")


MINIO_ENV = ["AWS_ENDPOINT_URL_S3=http://minio-service.kubeflow:9000", "AWS_REGION=us-east-1"]
MINIO_SECRET_ENV = [
    "AWS_ACCESS_KEY_ID=mlpipeline-minio-artifact/accesskey",
    "AWS_SECRET_ACCESS_KEY=mlpipeline-minio-artifact/secretkey",
]
TASK_ENV_ARGS = ["--set", f"kubeflow.task_env={json.dumps(MINIO_ENV)}",
                 "--set", f"kubeflow.task_secret_env={json.dumps(MINIO_SECRET_ENV)}"]


def container_executors(spec: dict) -> dict[str, dict]:
    return {label: e["container"] for label, e in spec["deploymentSpec"]["executors"].items() if "container" in e}


def test_task_env_and_secret_env_reach_every_task(tmp_path):
    """MinIO's endpoint as plain variables, its credentials from KFP's own secret (a PlatformSpec)."""
    assert run_cli("compile", "--output", tmp_path / "pipeline.yaml", *KUBEFLOW_ARGS, *TASK_ENV_ARGS) == 0

    spec, platform = yaml.safe_load_all((tmp_path / "pipeline.yaml").read_text())
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    json_format.ParseDict(platform, pipeline_spec_pb2.PlatformSpec())
    containers = container_executors(spec)
    assert all(
        container["env"] == [
            {"name": "AWS_ENDPOINT_URL_S3", "value": "http://minio-service.kubeflow:9000"},
            {"name": "AWS_REGION", "value": "us-east-1"},
        ]
        for container in containers.values()
    )
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(containers)
    assert all(
        executor["secretAsEnv"] == [{
            "secretName": "mlpipeline-minio-artifact",
            "keyToEnv": [
                {"secretKey": "accesskey", "envVar": "AWS_ACCESS_KEY_ID"},
                {"secretKey": "secretkey", "envVar": "AWS_SECRET_ACCESS_KEY"},
            ],
        }]
        for executor in executors.values()
    )


def test_without_task_env_the_spec_has_no_env_and_no_platform_spec(compiled):
    documents = list(yaml.safe_load_all(compiled[".yaml"].read_text()))
    assert len(documents) == 1
    assert not [container for container in container_executors(documents[0]).values() if "env" in container]


def test_secret_env_is_refused_for_vertex_ais_json(tmp_path, capsys):
    assert run_cli("compile", "--output", tmp_path / "pipeline.json", *KUBEFLOW_ARGS, *TASK_ENV_ARGS) == 1
    assert "task_secret_env names Kubernetes secrets, which only KFP reads" in capsys.readouterr().err
    assert not (tmp_path / "pipeline.json").exists()


@pytest.mark.parametrize("setting, value", [
    ("task_env", "AWS_REGION"),
    ("task_env", "not a name=1"),
    ("task_secret_env", "AWS_ACCESS_KEY_ID=just-a-secret"),
    ("task_secret_env", "AWS_ACCESS_KEY_ID=/key"),
])
def test_malformed_task_env_is_one_clear_error(tmp_path, capsys, setting, value):
    args = ["--set", f"kubeflow.{setting}={json.dumps([value])}"]
    assert run_cli("compile", "--output", tmp_path / "pipeline.yaml", *KUBEFLOW_ARGS, *args) == 1
    assert error_lines(capsys.readouterr().err) == [
        f"error: kubeflow.{setting}: expected {'NAME=VALUE with a variable name' if setting == 'task_env' else 'NAME=SECRET/KEY'}, got {value!r}"
    ]


# --- the image ------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO_ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1]) for line in lines]


def locked_versions(lock_file: str = "requirements.lock") -> dict[str, str]:
    lines = (REPO_ROOT / lock_file).read_text().splitlines()
    pins = [line.split("#")[0].strip().split("==") for line in lines if "==" in line]
    return {_normalize(name): version for name, version in pins}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()


def test_dockerfile_passes_hadolint():
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run([hadolint, "Dockerfile"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_installs_the_locked_versions():
    instructions = dockerfile_instructions()
    locked = locked_versions()
    assert instructions[0] == ("FROM", f"tensorflow/tfx:{locked['tfx']}")
    assert ("COPY", "requirements.lock ./") in instructions
    pip_installs = [shlex.split(arguments) for name, arguments in instructions if "pip install" in arguments]
    assert pip_installs, "the Dockerfile installs nothing with pip"
    for words in pip_installs:
        assert {"--requirement", "-r", "--constraint", "-c"} & set(words), words
        assert words[words.index("install") + 1:].count("requirements.lock") == 1, words
        pins = [word.split("==") for word in words if "==" in word]
        assert all(locked.get(_normalize(name)) == version for name, version in pins), pins


def test_image_lock_is_the_venv_lock_without_the_test_tools():
    image_pins, venv_pins = locked_versions(), locked_versions("requirements-dev.lock")
    assert image_pins.items() <= venv_pins.items(), set(image_pins.items()) - set(venv_pins.items())
    dev_extra = re.search(r"^dev = \[(.*)\]$", (REPO_ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    dev_tools = {_normalize(name) for name in re.findall(r'"([^"]+)"', dev_extra.group(1))}
    assert dev_tools <= venv_pins.keys()
    assert not dev_tools & image_pins.keys()


def test_image_holds_the_project_where_the_spec_expects_it():
    instructions = dockerfile_instructions()
    assert ("WORKDIR", "/pipeline") in instructions
    assert any(name == "ENV" and "PYTHONPATH=/pipeline" in arguments for name, arguments in instructions)
    copied = [arguments.split()[0] for name, arguments in instructions if name == "COPY"]
    assert {"configs", "components", "pipeline", "requirements.lock"} <= set(copied)
    assert any("stage_image_schemas()" in arguments for name, arguments in instructions if name == "RUN")
    user = [arguments for name, arguments in instructions if name == "USER"][-1]
    assert user not in ("0", "root")
    allowed = {line[1:] for line in (REPO_ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")}
    assert set(copied) <= allowed  # .dockerignore keeps what the Dockerfile copies


# --- submit against a fake KFP API ----------------------------------------------------------


@pytest.fixture
def kfp_api(monkeypatch, tmp_path):
    """A fake KFP API on 127.0.0.1; no KF_PIPELINES_* settings or kfp context of this machine."""
    for name in ("KF_PIPELINES_UI_ENDPOINT", "KF_PIPELINES_SA_TOKEN_PATH", "KF_PIPELINES_IAP_OAUTH2_CLIENT_ID",
                 "KF_PIPELINES_DEFAULT_EXPERIMENT_NAME", "KF_PIPELINES_OVERRIDE_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(kfp.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "kfp-context.json"))
    monkeypatch.setattr(kubeflow_runner, "POLL_SECONDS", 0.01)
    with serve(FakeKfp()) as fake:
        yield fake


def submit(fake: FakeKfp, *args: str) -> int:
    return run_cli("submit", "--host", fake.url, *KUBEFLOW_ARGS, *args)


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def test_submit_sends_the_compiled_spec_to_a_new_experiment(kfp_api, config, tmp_path, capsys):
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
    package = compile_pipeline(config, settings_for(config), tmp_path / "expected.yaml")
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
    with pytest.raises(KubeflowError, match=r"run run-1 is still RUNNING after 0 s"):
        kubeflow_runner.wait_for_run(kfp_api.url, "run-1", timeout=0)


def test_unreachable_host_gives_one_clear_line(capsys):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        host = f"http://127.0.0.1:{probe.getsockname()[1]}"
    assert run_cli("submit", "--host", host, *KUBEFLOW_ARGS) == 1
    error = capsys.readouterr().err
    assert error_lines(error) == [
        f"error: cannot reach the KFP API at {host}: Failed to establish a new connection: [Errno 111] Connection refused"
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
    kfp_api.run_error = (400, "Failed to create a run: resolver executors not implemented")
    assert submit(kfp_api) == 1
    error = capsys.readouterr().err
    assert error_lines(error) == [
        f"error: the KFP API at {kfp_api.url} answered 400 Bad Request: Failed to create a run: resolver executors "
        "not implemented (the open-source KFP backend cannot run TFX Resolver tasks: submit with --set evaluation.compare_with_blessed=false)"
    ]
    assert "Traceback" not in error


def test_example_values_are_refused_before_submitting(kfp_api, capsys):
    assert run_cli("submit", "--host", kfp_api.url, "--image", IMAGE) == 1
    [line] = error_lines(capsys.readouterr().err)
    assert line.startswith("error: still the example value: kubeflow.pipeline_root (--pipeline-root)=gs://YOUR_BUCKET/")
    assert kfp_api.requests == []
