"""The pipeline on object storage: data, artifacts and pushed models in s3://, on a local S3 server.

What a Kubeflow run needs: no component may assume a local path. The run below reads the IDX
files from the bucket and writes every artifact and the pushed model there; only the MLMD
store and the run logs stay on disk. Runs go through the installed command, in a process of
its own, so its exit code is the one a Kubeflow task would report.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, SMALL_RUN
from pipeline.config import load_config
from pipeline.kubeflow_runner import KubeflowSettings, compile_pipeline
from s3_server import S3Server, environment_with, serve_s3

pytestmark = pytest.mark.e2e

CLI = Path(sys.executable).with_name("mnist-pipeline")
BUCKET = "mnist"


@pytest.fixture(scope="module")
def s3(fake_mnist_dir: Path) -> S3Server:
    with serve_s3() as server:
        server.client().create_bucket(Bucket=BUCKET)
        server.upload_dir(fake_mnist_dir, BUCKET, "data")
        yield server


def run_on_s3(s3: S3Server, output_dir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(CLI), "run", "--output-dir", str(output_dir), *SMALL_RUN, *args]
    return subprocess.run(command, env=environment_with(s3), capture_output=True, text=True, timeout=900)


def test_the_whole_pipeline_runs_with_data_artifacts_and_models_in_s3(s3, tmp_path):
    result = run_on_s3(
        s3, tmp_path,
        "--data-dir", f"s3://{BUCKET}/data",
        "--pipeline-root", f"s3://{BUCKET}/root",
        "--serving-dir", f"s3://{BUCKET}/serving",
    )

    assert result.returncode == 0, result.stderr[-3000:]
    keys = s3.keys(BUCKET)
    shards = [key for key in keys if key.startswith("root/IdxExampleGen/examples/")]
    assert {key.split("/")[-2] for key in shards} == {"Split-train", "Split-validation", "Split-test"}
    assert not [key for key in keys if key.endswith(".tmp") or "/.staging-" in key]
    for component in ("StatisticsGen", "Trainer", "Evaluator.validation", "Evaluator.test", "Pusher"):
        assert any(key.startswith(f"root/{component}/") for key in keys), component
    versions = {key.split("/")[1] for key in keys if key.startswith("serving/")}
    [version] = versions
    assert version.isdigit() and f"serving/{version}/saved_model.pb" in keys
    # On disk: only the store, the staged schema and the run's log and summary.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["metadata.sqlite", "runs", "schemas"]
    assert "Pusher done" in result.stderr


def test_missing_data_in_the_bucket_is_one_clear_error(s3, tmp_path):
    result = run_on_s3(s3, tmp_path, "--data-dir", f"s3://{BUCKET}/no-such-dir")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: s3://{BUCKET}/no-such-dir/train-images-idx3-ubyte")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("ending, exit_code", [("pass", 0), ("raise RuntimeError('the work failed')", 1)])
def test_a_beam_worker_that_used_s3_exits_with_its_own_code(s3, ending, exit_code):
    """What components.beam_worker does in each worker process (without it: SIGABRT, -6)."""
    script = "\n".join([
        "import components.beam_worker",
        "import tensorflow as tf",
        f"tf.io.gfile.exists('s3://{BUCKET}/data')",
        ending,
    ])
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=environment_with(s3),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == exit_code, result.stderr[-2000:]
    assert "pure virtual method called" not in result.stderr


# --- Kubeflow tasks ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kubeflow_spec(tmp_path_factory) -> dict:
    """The pipeline compiled for Kubeflow with its storage in the test bucket."""
    config = load_config(overrides=[
        f"kubeflow.serving_dir=s3://{BUCKET}/kfp-serving", "ingest.validation_size=100", "ingest.records_per_shard=250",
    ])
    settings = KubeflowSettings.from_config(config, "mnist-pipeline:test", f"s3://{BUCKET}/kfp-root", f"s3://{BUCKET}/data")
    path = compile_pipeline(config, settings, tmp_path_factory.mktemp("kfp") / "pipeline.json")
    return json.loads(path.read_text())["pipelineSpec"]


def run_kubeflow_task(s3: S3Server, spec: dict, task: str, inputs: dict, work_dir: Path) -> dict:
    """Runs one task of the spec as its pod would: its command and arguments, with the executor
    input KFP would give it (its parameters, `inputs`, URIs for its outputs). Returns its ExecutorOutput."""
    component = spec["components"][task]
    container = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
    parameters = spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"]
    output_file = work_dir / f"{task}-executor_output.json"
    executor_input = {
        "inputs": {
            "parameterValues": {name: value["runtimeValue"]["constant"] for name, value in parameters.items()},
            "artifacts": {
                key: {"artifacts": [{**artifact, "type": component["inputDefinitions"]["artifacts"][key]["artifactType"]}]}
                for key, artifact in inputs.items()
            },
        },
        "outputs": {
            "artifacts": {
                key: {"artifacts": [{
                    "name": f"{task}-{key}", "type": definition["artifactType"],
                    "uri": f"s3://{BUCKET}/kfp-root/{task}/{key}",
                }]}
                for key, definition in component["outputDefinitions"]["artifacts"].items()
            },
            "outputFile": str(output_file),
        },
    }
    args = [json.dumps(executor_input) if arg == "{{$}}" else arg for arg in container["args"]]
    command = [sys.executable, *container["command"][1:], *args]  # `python` is the venv's here
    result = subprocess.run(command, cwd=REPO_ROOT, env=environment_with(s3), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(output_file.read_text())


def test_kubeflow_tasks_read_and_write_s3_through_the_task_command(s3, kubeflow_spec, tmp_path):
    """IdxExampleGen (ours) then StatisticsGen (TFX's, Beam reading the shards from the bucket)."""
    ingested = run_kubeflow_task(s3, kubeflow_spec, "IdxExampleGen", {}, tmp_path)
    [examples] = ingested["artifacts"]["examples"]["artifacts"]
    assert examples["metadata"]["num_examples_validation"] == 100
    assert examples["metadata"]["input_file_train_images"] == "train-images-idx3-ubyte.gz"

    computed = run_kubeflow_task(s3, kubeflow_spec, "StatisticsGen", {"examples": examples}, tmp_path)

    [statistics] = computed["artifacts"]["statistics"]["artifacts"]
    keys = s3.keys(BUCKET)
    for split in ("train", "validation", "test"):
        assert any(key.startswith(f"kfp-root/IdxExampleGen/examples/Split-{split}/") for key in keys)
        assert f"kfp-root/StatisticsGen/statistics/Split-{split}/FeatureStats.pb" in keys
    assert statistics["uri"] == f"s3://{BUCKET}/kfp-root/StatisticsGen/statistics"
