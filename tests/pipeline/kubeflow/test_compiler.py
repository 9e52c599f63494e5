"""Tests for compiling the pipeline for Kubeflow (pipeline/kubeflow/compiler.py) and for the image.

No Kubeflow cluster and no Docker engine run here: the spec is checked against the local
pipeline and kfp's protos, the Dockerfile and the locks are read. Running the compiled spec is
tests/e2e/test_kubeflow_spec.py's; submitting it, tests/pipeline/kubeflow/test_client.py's.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.metadata
import inspect
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import tomli
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from packaging.requirements import Requirement
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils
from tfx.utils import import_utils

from components.publish_lock import LEASE_SECONDS, PublishLock
from pipeline import node_ids
from pipeline.kubeflow import compiler, task
from pipeline.kubeflow.compiler import TASK_COMMAND, KubeflowError, compile_pipeline, with_overrides
from pipeline.kubeflow.settings import load_kubeflow_config
from pipeline.pipeline import PipelinePaths, component_settings, create_pipeline
from pipeline.schema_staging import SCHEMAS_DIR

from conftest import REPO_ROOT, run_cli
from support.kfp_launcher import (
    ARGO_NAME,
    ARGO_NAME_MAX_LENGTH,
    DRIVER_SUFFIX,
    RunRejected,
    pod_resources,
    retry_strategy,
    runtime_parameters,
)
from support.kfp_metadata import KfpMetadata
from support.kubeflow_args import (
    DATA_DIR,
    IMAGE,
    KUBEFLOW_ARGS,
    PIPELINE_ROOT,
    SERVING_DIR,
    TASK_ENV_ARGS,
    container_executors,
    error_lines,
    kubeflow_config,
)


@pytest.fixture(scope="module")
def config():
    return kubeflow_config()


@pytest.fixture(scope="module")
def compiled(config, tmp_path_factory) -> dict[str, Path]:
    """The pipeline compiled once as a PipelineJob (.json) and as a PipelineSpec (.yaml)."""
    directory = tmp_path_factory.mktemp("compiled")
    return {suffix: compile_pipeline(config, directory / f"pipeline{suffix}") for suffix in (".json", ".yaml")}


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


def input_artifact(spec: dict, task: str, key: str) -> dict:
    """Where the task's input artifact comes from: {producerTask, outputArtifactKey}."""
    return spec["root"]["dag"]["tasks"][task]["inputs"]["artifacts"][key]["taskOutputArtifact"]


def node_edges(tfx_pipeline) -> set[tuple[str, str]]:
    return {(upstream.id, node.id) for node in tfx_pipeline.components for upstream in node.upstream_nodes}


# --- the compiled spec ------------------------------------------------------------------------


def test_compiled_files_parse_with_the_pipeline_spec_protos(compiled, job):
    parsed_job = json_format.ParseDict(job, pipeline_spec_pb2.PipelineJob())
    assert parsed_job.pipeline_spec["schemaVersion"] == "2.1.0"
    parsed_spec = json_format.ParseDict(yaml.safe_load(compiled[".yaml"].read_text()), pipeline_spec_pb2.PipelineSpec())
    assert parsed_spec.pipeline_info.name == "mnist"
    # One spec, two packagings; KFP's has the report task, which reads KFP's metadata service.
    kfp_spec = json_format.MessageToDict(parsed_spec)
    report = kfp_spec["root"]["dag"]["tasks"].pop(node_ids.REPORT)
    kfp_spec["deploymentSpec"]["executors"].pop(
        kfp_spec["components"].pop(report["componentRef"]["name"])["executorLabel"]
    )
    assert kfp_spec == job["pipelineSpec"]


def test_tasks_and_dependencies_are_the_local_pipelines_components_and_edges(config, spec):
    """One pipeline for every orchestrator: no resolver tasks, nothing left out, no extra edge."""
    paths = PipelinePaths(data_dir="data", pipeline_root="root", serving_dir="serving", schema_file="schema.pbtxt")
    local = create_pipeline(config, paths, [])
    tasks = spec["root"]["dag"]["tasks"]
    compiled_edges = {
        (upstream, task) for task, task_spec in tasks.items() for upstream in task_spec.get("dependentTasks", [])
    }
    assert set(tasks) == {node.id for node in local.components}
    assert compiled_edges == node_edges(local)


def test_the_validation_evaluators_baseline_is_the_served_model(spec):
    """The model the serving dir serves now, found by the ServedModel task: no Resolver, which
    open-source KFP cannot run."""
    assert input_artifact(spec, node_ids.BLESSING_EVALUATOR, "baseline_model") == {
        "producerTask": node_ids.SERVED_MODEL,
        "outputArtifactKey": "baseline",
    }
    assert "baseline_model" not in spec["root"]["dag"]["tasks"][node_ids.TEST_EVALUATOR]["inputs"]["artifacts"]
    assert parameter(spec, node_ids.SERVED_MODEL, "serving_dir") == SERVING_DIR
    assert not [name for name in spec["root"]["dag"]["tasks"] if "resolver" in name.lower()]


def test_only_the_probes_are_never_cached(spec):
    """What a probe answers depends on the world (the IDX files, the serving dir), not on its inputs."""
    caching = {name: task.get("cachingOptions") for name, task in spec["root"]["dag"]["tasks"].items()}
    assert [caching.pop(probe) for probe in node_ids.PROBES] == [None, None]
    assert set(map(json.dumps, caching.values())) == {json.dumps({"enableCache": True})}


def test_the_probes_hand_their_findings_on_as_parameters(spec):
    """By value, so that KFP's cache key holds them (it holds input artifacts by id)."""
    tasks = spec["root"]["dag"]["tasks"]
    handed_on = {
        (consumer, name): parameter["taskOutputParameter"]
        for consumer, task in tasks.items()
        for name, parameter in task.get("inputs", {}).get("parameters", {}).items()
        if "taskOutputParameter" in parameter
    }
    assert handed_on == {
        (node_ids.INGEST, "data_fingerprint"): {"producerTask": node_ids.DATA_PROBE, "outputParameterKey": "value"},
        (node_ids.SERVED_MODEL, "served_fingerprint"): {
            "producerTask": node_ids.SERVING_PROBE,
            "outputParameterKey": "value",
        },
    }


def test_the_trainer_reads_the_schema_the_data_gate_passed(spec):
    """A data edge, not only an order: the gate stands on every model's lineage."""
    assert input_artifact(spec, node_ids.TRAINER, "schema") == {
        "producerTask": node_ids.DATA_GATE,
        "outputArtifactKey": "validated_schema",
    }


def test_every_task_runs_the_given_image_with_the_project_task_command(spec):
    executors = spec["deploymentSpec"]["executors"]
    containers = container_executors(spec)
    assert len(containers) == len(executors) == len(spec["root"]["dag"]["tasks"])  # no resolver executors
    assert {container["image"] for container in containers.values()} == {IMAGE}
    assert all(container["command"] == TASK_COMMAND for container in containers.values())


def test_no_task_relies_on_a_lifecycle_hook(spec):
    """Vertex AI runs a container's lifecycle.preCacheCheck; no code of open-source KFP reads it."""
    assert not [label for label, container in container_executors(spec).items() if "lifecycle" in container]


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
    assert default_args == ["--direct_running_mode=multi_processing"]
    worker_plugin = "--beam_plugin=components.beam_worker"  # s3:// and a clean exit in each worker
    sdk_image = f"--sdk_container_image={IMAGE}"  # TFX then packages no sdist of itself for the workers
    for name in (node_ids.INGEST, node_ids.STATISTICS, node_ids.BLESSING_EVALUATOR):
        assert executor_of(spec, name)["container"]["args"][-4:-1] == [*default_args, worker_plugin, sdk_image]
    dataflow_args = ["--runner=DataflowRunner", "--project=p", "--region=r", "--temp_location=gs://b/tmp"]
    dataflow_config = kubeflow_config(f"kubeflow.beam_pipeline_args={json.dumps(dataflow_args)}")
    output = compile_pipeline(dataflow_config, tmp_path / "dataflow.json")
    dataflow_spec = json.loads(output.read_text())["pipelineSpec"]
    assert executor_of(dataflow_spec, "StatisticsGen")["container"]["args"][-7:-3] == dataflow_args


def beam_workers(spec: dict, task: str) -> list[str]:
    return [arg for arg in executor_of(spec, task)["container"]["args"] if arg.startswith("--direct_num_workers")]


def test_each_beam_task_runs_as_many_workers_as_its_cpu_limit(config, spec, tmp_path):
    """Not one per core of the node (Beam's --direct_num_workers=0), each importing TensorFlow."""
    beam_tasks = (node_ids.INGEST, node_ids.STATISTICS, node_ids.BLESSING_EVALUATOR, node_ids.TEST_EVALUATOR)
    for name in beam_tasks:
        assert beam_workers(spec, name) == [f"--direct_num_workers={int(config.kubeflow.resources[name].cpu_limit)}"]
    assert [name for name in spec["root"]["dag"]["tasks"] if name not in beam_tasks and beam_workers(spec, name)] == []
    smaller = kubeflow_config(
        "kubeflow.resources.StatisticsGen.cpu_limit=3.5",
        "kubeflow.resources.Evaluator-test.cpu_request=0.5",
        "kubeflow.resources.Evaluator-test.cpu_limit=0.5",
    )
    changed = json.loads(compile_pipeline(smaller, tmp_path / "pipeline.json").read_text())["pipelineSpec"]
    assert beam_workers(changed, node_ids.STATISTICS) == ["--direct_num_workers=3"]
    assert beam_workers(changed, node_ids.TEST_EVALUATOR) == ["--direct_num_workers=1"]  # at least one


def test_a_worker_count_in_the_beam_args_is_one_clear_error(tmp_path, capsys):
    args = ["--set", 'kubeflow.beam_pipeline_args=["--direct_num_workers=0"]']
    assert run_cli("compile", "--output", tmp_path / "pipeline.yaml", *KUBEFLOW_ARGS, *args) == 1
    assert error_lines(capsys.readouterr().err) == [
        "error: 'kubeflow.beam_pipeline_args' must not set --direct_num_workers=0: "
        "each Beam task runs one worker per core of its cpu_limit"
    ]


def test_storage_and_runtime_settings_are_the_configured_ones(config, job, spec):
    assert job["runtimeConfig"] == {"gcsOutputDirectory": PIPELINE_ROOT}  # a run's values: the defaults
    assert root_input(spec, "data_dir")["defaultValue"] == DATA_DIR
    push_destination = json.loads(parameter(spec, "Pusher", "push_destination"))
    assert push_destination == {"filesystem": {"base_directory": SERVING_DIR}}
    assert parameter(spec, "Trainer", "batch_size") == config.training.batch_size


def test_the_yaml_spec_names_the_pipeline_root_a_run_created_in_the_ui_takes(compiled):
    """The .yaml has no runtime config: KFP's "Create run" form fills the run's pipeline root
    from the spec's defaultPipelineRoot (frontend/src/pages/NewRunV2.tsx); without one the
    driver falls back to the kfp-launcher ConfigMap's or minio://mlpipeline/v2/artifacts
    (backend/src/v2/driver/root_dag.go, v2/config/env.go), where TensorFlow cannot write."""
    [package] = yaml.safe_load_all(compiled[".yaml"].read_text())
    assert package["defaultPipelineRoot"] == PIPELINE_ROOT


# --- run-time parameters ------------------------------------------------------------------


def root_input(spec: dict, name: str) -> dict:
    return spec["root"]["inputDefinitions"]["parameters"][name]


def test_what_users_change_between_runs_are_root_inputs_with_the_configs_defaults(config, spec):
    """Typed (KFP 2.17 refuses an untyped one), optional, the config's value as default (TFX 1.16
    writes none, and KFP then refuses a run without the value: v2_template.go)."""
    assert spec["root"]["inputDefinitions"]["parameters"] == {
        "data_dir": {
            "parameterType": "STRING",
            "defaultValue": DATA_DIR,
            "isOptional": True,
            "description": "kubeflow.data_dir (configs/pipeline.yaml)",
        },
        "learning_rate": {
            "parameterType": "NUMBER_DOUBLE",
            "defaultValue": config.training.learning_rate,
            "isOptional": True,
            "description": "training.learning_rate (configs/pipeline.yaml)",
        },
        "train_steps": {
            "parameterType": "NUMBER_INTEGER",
            "defaultValue": config.training.train_steps,
            "isOptional": True,
            "description": "training.train_steps (configs/pipeline.yaml)",
        },
        "min_precision_at_1": {
            "parameterType": "NUMBER_DOUBLE",
            "defaultValue": config.evaluation.min_precision_at_1,
            "isOptional": True,
            "description": "evaluation.min_precision_at_1 (configs/pipeline.yaml)",
        },
    }
    assert compiler.run_parameters(config) == {
        name: definition["defaultValue"] for name, definition in spec["root"]["inputDefinitions"]["parameters"].items()
    }


def test_the_tasks_read_the_run_time_parameters_and_nothing_else_holds_their_values(config, spec):
    """The data dir reaches both tasks that read it, the learning rate and the step count the
    Trainer, the floor the validation Evaluator; no constant holds them besides (the Trainer's
    custom_config and train_args; the Evaluator has no eval_config, its executor builds it), so
    what a run sets is what runs."""
    read = {
        (task, name): source["componentInputParameter"]
        for task, task_spec in spec["root"]["dag"]["tasks"].items()
        for name, source in task_spec.get("inputs", {}).get("parameters", {}).items()
        if "componentInputParameter" in source
    }
    assert read == {
        (node_ids.DATA_PROBE, "input_base"): "data_dir",
        (node_ids.INGEST, "input_base"): "data_dir",
        (node_ids.TRAINER, "learning_rate"): "learning_rate",
        (node_ids.TRAINER, "train_steps"): "train_steps",
        (node_ids.BLESSING_EVALUATOR, "min_precision_at_1"): "min_precision_at_1",
    }
    trainer_inputs = spec["components"][node_ids.TRAINER]["inputDefinitions"]["parameters"]
    assert (trainer_inputs["learning_rate"], trainer_inputs["train_steps"]) == (
        {"parameterType": "NUMBER_DOUBLE"},
        {"parameterType": "NUMBER_INTEGER"},  # TFX's runner then hands the executor an int
    )
    custom_config = json.loads(parameter(spec, node_ids.TRAINER, "custom_config"))
    assert "training" not in custom_config
    assert "num_steps" not in json.loads(parameter(spec, node_ids.TRAINER, "train_args"))
    validation = spec["root"]["dag"]["tasks"][node_ids.BLESSING_EVALUATOR]["inputs"]["parameters"]
    assert "eval_config" not in validation
    assert parameter(spec, node_ids.BLESSING_EVALUATOR, "max_precision_at_1_regression") == (
        config.evaluation.max_precision_at_1_regression
    )


def test_kfp_creates_a_run_with_the_values_given_and_the_defaults_of_the_others(config, spec):
    """What the KFP API server accepts as a run's parameters (tests/support/kfp_launcher.py
    runtime_parameters); without the defaults the compiler writes, a run would need every one."""
    assert runtime_parameters(spec, {"learning_rate": 0.02}) == {
        **compiler.run_parameters(config),
        "learning_rate": 0.02,
    }
    with pytest.raises(RunRejected, match="not required by pipeline: steps"):
        runtime_parameters(spec, {"steps": 3})
    with pytest.raises(RunRejected, match="input parameter learning_rate requires type NUMBER_DOUBLE"):
        runtime_parameters(spec, {"learning_rate": "fast"})
    as_tfx_compiles_it = copy.deepcopy(spec)
    for definition in as_tfx_compiles_it["root"]["inputDefinitions"]["parameters"].values():
        del definition["defaultValue"], definition["isOptional"]
    with pytest.raises(RunRejected, match="is not optional, yet has neither default value nor user provided value"):
        runtime_parameters(as_tfx_compiles_it, {})


def test_submit_gives_the_run_the_configs_values(config):
    changed = kubeflow_config("training.learning_rate=0.01", "training.train_steps=300", data_dir="gs://b/other")
    assert compiler.run_parameters(changed) == {
        "data_dir": "gs://b/other",
        "learning_rate": 0.01,
        "train_steps": 300,
        "min_precision_at_1": config.evaluation.min_precision_at_1,
    }


def test_the_run_time_parameters_are_those_the_config_lists(tmp_path):
    """Any setting a component takes as a parameter may be one, a list as JSON text and a bool as
    0 or 1 (as TFX compiles them); the data dir then is a constant of the tasks that read it."""
    listed = kubeflow_config("kubeflow.run_parameters=[training.hidden_units, training.cosine_decay]")
    spec = json.loads(compile_pipeline(listed, tmp_path / "pipeline.json").read_text())["pipelineSpec"]
    assert spec["root"]["inputDefinitions"]["parameters"] == {
        "hidden_units": {
            "parameterType": "STRING",
            "defaultValue": "[128, 32]",
            "isOptional": True,
            "description": "training.hidden_units (configs/pipeline.yaml)",
        },
        "cosine_decay": {
            "parameterType": "NUMBER_INTEGER",
            "defaultValue": 1,
            "isOptional": True,
            "description": "training.cosine_decay (configs/pipeline.yaml)",
        },
    }
    trainer = spec["root"]["dag"]["tasks"][node_ids.TRAINER]["inputs"]["parameters"]
    assert trainer["hidden_units"] == {"componentInputParameter": "hidden_units"}
    assert parameter(spec, node_ids.TRAINER, "learning_rate") == listed.training.learning_rate
    assert parameter(spec, node_ids.INGEST, "input_base") == DATA_DIR


def test_a_listed_setting_no_component_takes_is_refused_naming_it(tmp_path):
    with pytest.raises(KubeflowError) as refused:
        compile_pipeline(kubeflow_config("kubeflow.run_parameters=[ingest.validation_size]"), tmp_path / "p.json")
    assert str(refused.value).startswith(
        "kubeflow.run_parameters: 'ingest.validation_size' is not a setting a run may set; "
        "those are kubeflow.data_dir, training.hidden_units, training.optimizer,"
    )


def test_each_setting_a_run_may_set_has_a_name_of_its_own(config):
    """Root inputs are named as the setting's key in its section (`--param learning_rate=...`)."""
    settable = [compiler.DATA_DIR_SETTING, *component_settings(config)]
    assert len({key.rpartition(".")[2] for key in settable}) == len(settable)


# --- resources and retries -----------------------------------------------------------------


def test_every_task_requests_and_limits_the_configured_cpu_and_memory(config, compiled):
    """In the fields of TFX's ResourceSpec, which KFP's driver turns into the pod's resources."""
    [spec] = yaml.safe_load_all(compiled[".yaml"].read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == set(config.kubeflow.resources)  # configs/pipeline.yaml names every task, no other
    for name in tasks:
        resources = executor_of(spec, name)["container"]["resources"]
        json_format.ParseDict(resources, compiler.ResourceSpec())
        wanted = config.kubeflow.resources[name]
        assert pod_resources(executor_of(spec, name)["container"]) == {
            "limits": {"cpu": _go(wanted.cpu_limit), "memory": f"{_go(wanted.memory_limit_gb)}G"},
            "requests": {"cpu": _go(wanted.cpu_request), "memory": f"{_go(wanted.memory_request_gb)}G"},
        }, name
    assert pod_resources(executor_of(spec, node_ids.TRAINER)["container"]) == {
        "limits": {"cpu": "4", "memory": "3G"},
        "requests": {"cpu": "2", "memory": "1.5G"},
    }


def _go(number: float) -> str:
    return f"{number:g}"


def test_resources_follow_the_settings_and_the_trainer_may_ask_for_a_gpu(tmp_path):
    config = kubeflow_config(
        "kubeflow.resources.Trainer={cpu_request: 1.5, cpu_limit: 3, memory_request_gb: 0.5, memory_limit_gb: 6}",
        "kubeflow.trainer_accelerator={type: nvidia.com/gpu, count: 1}",
    )
    spec = json.loads(compile_pipeline(config, tmp_path / "pipeline.json").read_text())["pipelineSpec"]
    assert pod_resources(executor_of(spec, node_ids.TRAINER)["container"]) == {
        "limits": {"cpu": "3", "memory": "6G", "nvidia.com/gpu": "1"},
        "requests": {"cpu": "1.5", "memory": "0.5G"},
    }
    accelerated = [
        name
        for name in spec["root"]["dag"]["tasks"]
        if "accelerator" in executor_of(spec, name)["container"]["resources"]
    ]
    assert accelerated == [node_ids.TRAINER]


@pytest.mark.parametrize(
    "override, error",
    [
        (
            "kubeflow.resources.Trainer.cpu_request=8",
            "'kubeflow.resources.Trainer.cpu_request' must not exceed cpu_limit, got 8.0 > 4.0",
        ),
        (
            "kubeflow.resources.Pusher.memory_request_gb=0",
            "'kubeflow.resources.Pusher.memory_request_gb' must be > 0 and <= 16384, got 0.0",
        ),
        (
            "kubeflow.trainer_accelerator={type: nvidia.com/gpu, count: 0}",
            "'kubeflow.trainer_accelerator.count' must be in 1..64, got 0",
        ),
        ("kubeflow.retry.backoff_factor=0.5", "'kubeflow.retry.backoff_factor' must be in 1..100, got 0.5"),
    ],
)
def test_bad_resources_and_retries_are_one_clear_error(tmp_path, capsys, override, error):
    assert run_cli("compile", "--output", tmp_path / "pipeline.yaml", *KUBEFLOW_ARGS, "--set", override) == 1
    assert error_lines(capsys.readouterr().err) == [f"error: {error}"]


def test_a_task_without_resources_is_refused(tmp_path):
    config = kubeflow_config()
    resources = {name: wanted for name, wanted in config.kubeflow.resources.items() if name != node_ids.PUSHER}
    config = dataclasses.replace(config, kubeflow=dataclasses.replace(config.kubeflow, resources=resources))
    with pytest.raises(KubeflowError, match="kubeflow.resources has no entry for task Pusher"):
        compile_pipeline(config, tmp_path / "pipeline.json")


def test_every_task_may_retry_with_the_configured_backoff(config, spec):
    """Each task writes only its own outputs; the Pusher publishes by compare-and-swap and
    records a version its failed attempt published (components/pusher/executor.py)."""
    retry = config.kubeflow.retry
    assert retry.max_retries > 0
    for name, task_spec in spec["root"]["dag"]["tasks"].items():
        assert retry_strategy(task_spec) == {
            "limit": str(retry.max_retries),
            "backoff": {
                "duration": str(retry.backoff_seconds),
                "factor": _go(retry.backoff_factor),
                "maxDuration": str(retry.window_seconds),
            },
        }, name
        json_format.ParseDict(task_spec["retryPolicy"], pipeline_spec_pb2.PipelineTaskSpec.RetryPolicy())


def test_the_pushers_retries_outlast_the_lease_of_an_attempt_that_died_publishing(config):
    """A killed Pusher's lease on the serving dir is taken over once LEASE_SECONDS old; each
    attempt waits for it up to PublishLock's timeout: some retry must still be waiting then."""
    retry = config.kubeflow.retry
    lock_timeout = inspect.signature(PublishLock).parameters["timeout_seconds"].default
    started, takes_over = 0.0, False  # the dead attempt took the lease at about 0
    for retry_number in range(retry.max_retries):
        started += retry.backoff_seconds * retry.backoff_factor**retry_number  # Argo's backoff
        if started > retry.window_seconds:
            break
        if started + lock_timeout >= LEASE_SECONDS:
            takes_over = True
            break
        started += lock_timeout  # this attempt gives up
    assert takes_over


def test_no_retries_leave_the_tasks_without_a_policy(tmp_path):
    config = kubeflow_config("kubeflow.retry.max_retries=0")
    spec = json.loads(compile_pipeline(config, tmp_path / "pipeline.json").read_text())["pipelineSpec"]
    assert [name for name, task in spec["root"]["dag"]["tasks"].items() if retry_strategy(task)] == []


def test_schema_is_named_by_content_hash_where_the_image_stages_it(config, spec, tmp_path):
    schema_file = parameter(spec, "ImportSchemaGen", "schema_file")
    assert schema_file == str(compiler.image_schema_file(config.validation.schema_path))
    assert re.fullmatch(r"/pipeline/schemas/[0-9a-f]{16}/schema\.pbtxt", schema_file)
    # The Dockerfile's staging command, with a temporary folder for the image's /pipeline.
    staging = dockerfile_schema_staging()
    subprocess.run(
        [sys.executable, *staging[1:-1], str(tmp_path / SCHEMAS_DIR)], cwd=REPO_ROOT, check=True, capture_output=True
    )
    staged = tmp_path / PurePosixPath(schema_file).relative_to(compiler.IMAGE_PROJECT_ROOT)
    assert staged.read_bytes() == config.validation.schema_path.read_bytes()


def test_spec_holds_no_local_paths(compiled):
    for path in compiled.values():
        text = path.read_text()
        for local in ("/work/", "/tmp/", "/home/", f"{REPO_ROOT}/", f"{Path.home()}/"):
            assert local not in text, f"{path.name} holds {local}"


def test_compiling_twice_gives_identical_files(config, compiled, tmp_path):
    for suffix, first in compiled.items():
        again = compile_pipeline(config, tmp_path / f"again{suffix}")
        assert again.read_bytes() == first.read_bytes()


def test_cli_compile_writes_the_spec_with_the_given_settings(tmp_path, capsys):
    output = tmp_path / "out" / "pipeline.json"
    assert run_cli("compile", "--output", output, *KUBEFLOW_ARGS, "--set", "training.train_steps=7") == 0
    spec = json.loads(output.read_text())["pipelineSpec"]
    assert executor_of(spec, "Trainer")["container"]["image"] == IMAGE
    assert root_input(spec, "train_steps")["defaultValue"] == 7
    captured = capsys.readouterr()
    assert f"Wrote {output} (image {IMAGE}, pipeline root {PIPELINE_ROOT})" in captured.out
    assert "warning" not in captured.err  # every location is the user's own


def test_cli_compile_serving_dir_is_where_models_are_pushed_and_found(tmp_path):
    """--serving-dir overrides kubeflow.serving_dir for both tasks that use it."""
    output = tmp_path / "pipeline.json"
    assert run_cli("compile", "--output", output, *KUBEFLOW_ARGS, "--serving-dir", "s3://other-bucket/models") == 0
    spec = json.loads(output.read_text())["pipelineSpec"]
    assert json.loads(parameter(spec, "Pusher", "push_destination")) == {
        "filesystem": {"base_directory": "s3://other-bucket/models"}
    }
    assert parameter(spec, node_ids.SERVED_MODEL, "serving_dir") == "s3://other-bucket/models"


def test_cli_compile_warns_about_the_example_values_it_still_holds(tmp_path, capsys):
    """configs/pipeline.yaml's image and bucket are examples: a spec with them compiles (to be
    looked at), with a warning naming each setting and its flag; `submit` refuses them."""
    output = tmp_path / "pipeline.json"
    assert run_cli("compile", "--output", output, "--data-dir", DATA_DIR) == 0
    defaults = load_kubeflow_config().kubeflow
    [warning] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warning == (
        f"warning: the spec holds example values: kubeflow.image (--image)={defaults.image}, "
        f"kubeflow.pipeline_root (--pipeline-root)={defaults.pipeline_root}, "
        f"kubeflow.serving_dir (--serving-dir)={defaults.serving_dir}; "
        "give your own before submitting (see docs/kubeflow.md)"
    )
    assert output.exists()


def test_flags_override_only_the_settings_they_give(config):
    settings = load_kubeflow_config().kubeflow
    assert with_overrides(settings, image=None, pipeline_root=None, data_dir=None, serving_dir=None) == settings
    changed = with_overrides(settings, image=IMAGE, data_dir=None, serving_dir=SERVING_DIR)
    assert (changed.image, changed.data_dir, changed.serving_dir) == (IMAGE, settings.data_dir, SERVING_DIR)
    assert changed.beam_pipeline_args == settings.beam_pipeline_args and changed.pipeline_root == settings.pipeline_root


@pytest.mark.parametrize("data_dir", ["/data/mnist", "data/mnist", "file:///data/mnist"])
def test_local_paths_are_refused(tmp_path, capsys, data_dir):
    output = tmp_path / "pipeline.json"
    assert run_cli("compile", "--output", output, *KUBEFLOW_ARGS, "--data-dir", data_dir) == 1
    error = capsys.readouterr().err
    assert error_lines(error) == [
        "error: kubeflow.data_dir (--data-dir) must be an object-storage URI such as gs://BUCKET/PATH, "
        f"got '{data_dir}'"
    ]
    assert "Traceback" not in error and not output.exists()


def test_schema_outside_configs_is_refused(tmp_path):
    schema = tmp_path / "schema.pbtxt"
    schema.write_text("")
    with pytest.raises(KubeflowError, match="the schema must be a .pbtxt file in configs/"):
        compile_pipeline(kubeflow_config(f"validation.schema_file={schema}"), tmp_path / "pipeline.json")


def test_schemes_tensorflow_cannot_open_are_warned_about(tmp_path, caplog):
    """KFP's own default root scheme, minio://, is no filesystem TensorFlow knows; s3:// is."""
    config = kubeflow_config(pipeline_root="s3://test-bucket/root", data_dir="minio://test-bucket/mnist/data")
    compile_pipeline(config, tmp_path / "pipeline.json")
    [warning] = [record.getMessage() for record in caplog.records if record.name == "pipeline.kubeflow.compiler"]
    assert warning.startswith("kubeflow.data_dir (--data-dir): TensorFlow cannot open minio:// URIs")


def test_task_env_and_secret_env_reach_every_task(tmp_path):
    """The object store's endpoint as plain variables, its credentials from KFP's own secret (a PlatformSpec)."""
    assert run_cli("compile", "--output", tmp_path / "pipeline.yaml", *KUBEFLOW_ARGS, *TASK_ENV_ARGS) == 0

    spec, platform = yaml.safe_load_all((tmp_path / "pipeline.yaml").read_text())
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    json_format.ParseDict(platform, pipeline_spec_pb2.PlatformSpec())
    containers = container_executors(spec)
    assert all(
        container["env"]
        == [
            {"name": "AWS_ENDPOINT_URL_S3", "value": "http://seaweedfs.kubeflow:9000"},
            {"name": "AWS_REGION", "value": "us-east-1"},
        ]
        for container in containers.values()
    )
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(containers)
    assert all(
        executor["secretAsEnv"]
        == [
            {
                "secretName": "mlpipeline-minio-artifact",
                "keyToEnv": [
                    {"secretKey": "accesskey", "envVar": "AWS_ACCESS_KEY_ID"},
                    {"secretKey": "secretkey", "envVar": "AWS_SECRET_ACCESS_KEY"},
                ],
            }
        ]
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


@pytest.mark.parametrize(
    "setting, value",
    [
        ("task_env", "AWS_REGION"),
        ("task_env", "not a name=1"),
        ("task_secret_env", "AWS_ACCESS_KEY_ID=just-a-secret"),
        ("task_secret_env", "AWS_ACCESS_KEY_ID=/key"),
    ],
)
def test_malformed_task_env_is_one_clear_error(tmp_path, capsys, setting, value):
    args = ["--set", f"kubeflow.{setting}={json.dumps([value])}"]
    assert run_cli("compile", "--output", tmp_path / "pipeline.yaml", *KUBEFLOW_ARGS, *args) == 1
    expected = "NAME=VALUE with a variable name" if setting == "task_env" else "NAME=SECRET/KEY"
    assert error_lines(capsys.readouterr().err) == [f"error: 'kubeflow.{setting}' expected {expected}, got {value!r}"]


# --- the contract with the backends: what open-source KFP and Vertex AI need of a spec -----------
# Cheap checks of `compile`'s output; tests/e2e/test_kubeflow_spec.py runs it as each backend would.


def test_every_task_name_is_an_argo_task_name(spec):
    """KFP's Argo compiler makes NAME and NAME-driver Argo tasks of every task (tests/support/kfp_launcher.py)."""
    names = [name + suffix for name in spec["root"]["dag"]["tasks"] for suffix in ("", DRIVER_SUFFIX)]
    assert [name for name in names if not ARGO_NAME.fullmatch(name) or len(name) > ARGO_NAME_MAX_LENGTH] == []


def test_every_producer_is_a_task_of_the_dag_that_runs_before(spec):
    """KFP's driver finds an input's producer among the DAG's tasks by name, else fails."""
    tasks = spec["root"]["dag"]["tasks"]
    for name, task_spec in tasks.items():
        inputs = task_spec.get("inputs", {})
        sources = [
            *(source["taskOutputArtifact"] for source in inputs.get("artifacts", {}).values()),
            *(
                source["taskOutputParameter"]
                for source in inputs.get("parameters", {}).values()
                if "taskOutputParameter" in source
            ),
        ]
        for source in sources:
            assert source["producerTask"] in tasks, (name, source)
            assert source["producerTask"] in task_spec["dependentTasks"], (name, source)


def test_a_pipeline_root_with_a_query_string_is_refused(job, capsys, tmp_path):
    assert "?" not in job["runtimeConfig"]["gcsOutputDirectory"]
    root = "s3://bucket/root?region=us-east-1&endpoint=minio-service.kubeflow:9000"
    assert run_cli("compile", "--output", tmp_path / "p.yaml", *KUBEFLOW_ARGS, "--pipeline-root", root) == 1
    assert error_lines(capsys.readouterr().err) == [
        f"error: kubeflow.pipeline_root (--pipeline-root) must not hold a query string, got {root!r}: give an S3 "
        "endpoint through kubeflow.task_env and KFP's kfp-launcher ConfigMap (see docs/kubeflow.md)"
    ]


def test_every_input_artifacts_type_is_recoverable_from_its_tasks_own_arguments(spec, tmp_path):
    """Open-source KFP hands inputs over untyped; the task command (pipeline/kubeflow/task.py) takes
    the type from its `--json_serialized_inputs_spec_args`, which must name a class TFX imports."""
    store = KfpMetadata(tmp_path / "metadata.sqlite")
    untyped = store.runtime_artifact(
        store.record_artifact("out", {"schemaTitle": "system.Artifact"}, {"uri": "s3://b/a"})
    )
    for name, task_spec in spec["root"]["dag"]["tasks"].items():
        component = spec["components"][task_spec["componentRef"]["name"]]
        args = executor_of(spec, name)["container"]["args"]
        inputs_spec = json.loads(args[args.index("--json_serialized_inputs_spec_args") + 1])
        for key in task_spec.get("inputs", {}).get("artifacts", {}):
            executor_input = {"inputs": {"artifacts": {key: {"artifacts": [untyped]}}}}
            [recovered] = task.adapt_executor_input(executor_input, inputs_spec)["inputs"]["artifacts"][key][
                "artifacts"
            ]
            assert recovered["type"] == component["inputDefinitions"]["artifacts"][key]["artifactType"], (name, key)
            artifact_type = json_format.ParseDict(recovered["type"], pipeline_spec_pb2.ArtifactTypeSchema())
            import_utils.import_class_by_path(kubeflow_v2_entrypoint_utils._retrieve_class_path(artifact_type))


# --- the image ------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO_ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1]) for line in lines]


def dockerfile_run_commands() -> list[list[str]]:
    """Every command of the Dockerfile's RUN instructions (split at &&), as words."""
    return [
        shlex.split(command)
        for name, arguments in dockerfile_instructions()
        if name == "RUN"
        for command in arguments.split("&&")
    ]


def dockerfile_schema_staging() -> list[str]:
    [command] = [
        words for words in dockerfile_run_commands() if words[:3] == ["python", "-m", "pipeline.schema_staging"]
    ]
    return command


def locked_versions(lock_file: str = "requirements.lock") -> dict[str, str]:
    lines = (REPO_ROOT / lock_file).read_text().splitlines()
    pins = [line.split("#")[0].strip().split("==") for line in lines if "==" in line]
    return {_normalize(name): version for name, version in pins}


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()


def dependency_closure(requirements: list[str]) -> set[str]:
    """The requirements and, recursively, what the venv's installed distributions require for
    them (with the extras asked for, markers evaluated for this Python and platform)."""
    found: set[tuple[str, frozenset[str]]] = set()
    pending = [Requirement(text) for text in requirements]
    while pending:
        requirement = pending.pop()
        key = (_normalize(requirement.name), frozenset(requirement.extras))
        if key in found:
            continue
        found.add(key)
        for text in importlib.metadata.distribution(requirement.name).requires or []:
            dependency = Requirement(text)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": extra}) for extra in extras):
                pending.append(dependency)
    return {name for name, _ in found}


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
        assert words[words.index("install") + 1 :].count("requirements.lock") == 1, words
        pins = [word.split("==") for word in words if "==" in word]
        assert all(locked.get(_normalize(name)) == version for name, version in pins), pins


def test_image_lock_is_the_venv_lock_without_the_dev_only_packages():
    """requirements.lock holds exactly the venv's pins that the runtime dependencies need: the
    dev extra's tools and what only they pull in (trio for selenium, ...) stay out of the image."""
    project = tomli.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    runtime = dependency_closure(project["dependencies"])
    dev_only = dependency_closure(project["optional-dependencies"]["dev"]) - runtime
    image_pins, venv_pins = locked_versions(), locked_versions("requirements-dev.lock")

    assert {"pytest", "hypothesis", "selenium", "trio", "sortedcontainers", "pysocks"} <= dev_only
    assert image_pins.items() <= venv_pins.items(), set(image_pins.items()) - set(venv_pins.items())
    assert runtime <= image_pins.keys(), runtime - image_pins.keys()
    assert venv_pins.keys() - image_pins.keys() == dev_only


def test_image_holds_the_project_where_the_spec_expects_it():
    instructions = dockerfile_instructions()
    assert ("WORKDIR", str(compiler.IMAGE_PROJECT_ROOT)) in instructions
    assert any(
        name == "ENV" and f"PYTHONPATH={compiler.IMAGE_PROJECT_ROOT}" in arguments for name, arguments in instructions
    )
    copied = [arguments.split()[0] for name, arguments in instructions if name == "COPY"]
    assert {"configs", "components", "pipeline", "requirements.lock"} <= set(copied)
    # The schemas go where the compiled spec names them (image_schema_file).
    assert dockerfile_schema_staging()[3:] == [str(compiler.IMAGE_PROJECT_ROOT / SCHEMAS_DIR)]
    # The build imports every module the spec's commands run.
    [imports] = [words for words in dockerfile_run_commands() if words[:2] == ["python", "-c"]]
    imported = {name.strip() for name in imports[2].removeprefix("import ").split(",")}
    assert TASK_COMMAND[-1] in imported
    user = [arguments for name, arguments in instructions if name == "USER"][-1]
    assert user not in ("0", "root")
    allowed = {line[1:] for line in (REPO_ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")}
    assert set(copied) <= allowed  # .dockerignore keeps what the Dockerfile copies
