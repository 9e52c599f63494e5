"""The whole compiled Kubeflow spec, run task by task as KFP would, on a local S3 server.

No cluster runs here: tests/kfp_launcher.py plays KFP's launcher. Every task of `compile`'s
output runs its own command and arguments with the executor input KFP would give it, in
dependency order, with the data, the pipeline root and the serving dir in `s3://`. The spec runs
twice on one serving dir: the first run pushes a model (nothing is served yet, so the threshold
alone blesses it); the second run's ServedModel finds that model and its validation Evaluator
compares the new model with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
import yaml

from conftest import REPO_ROOT, SMALL_RUN, run_cli
from components import serving_dir
from components.idx_example_gen import idx
from kfp_launcher import FakeLauncher, PipelineRun
from pipeline import kubeflow_runner, node_ids
from pipeline.config import load_config
from pipeline.schema_staging import SCHEMAS_DIR
from s3_server import BUCKET, S3Server, environment_with

pytestmark = pytest.mark.e2e

DATA_DIR = f"s3://{BUCKET}/data"
PIPELINE_ROOT = f"s3://{BUCKET}/kfp/root"
SERVING_DIR = f"s3://{BUCKET}/kfp/serving"
IMAGE = "registry.example.com/team/mnist-pipeline:test"  # named in the spec, never pulled here
# Beam in each task's own process: the default starts a worker process per core, each importing
# TensorFlow again (tests/e2e/test_object_storage.py runs such workers on s3://).
IN_PROCESS_BEAM = ["--set", 'kubeflow.beam_pipeline_args=["--direct_running_mode=in_memory", "--direct_num_workers=1"]']
# Loads a pushed version from s3:// as a serving side with tensorflow-io would, and prints its
# accuracy on the images and labels of an .npz file. In a process of its own: after using s3://,
# tensorflow-io aborts the process that exits without components.object_storage.exit_process.
SCORE_SCRIPT = """
import json, sys
import numpy as np
from components.object_storage import enable_s3, exit_process
enable_s3()
import tensorflow as tf
model_dir, test_set = sys.argv[1:]
data = np.load(test_set)
predict = tf.saved_model.load(model_dir).signatures["predict_images"]
classes = predict(images=tf.constant(data["images"]))["classes"].numpy()
print(json.dumps({"accuracy": float(np.mean(classes == data["labels"]))}))
exit_process(0)
"""


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`compile`'s output (the .yaml `submit` sends) for the test bucket, with small settings.

    The spec names the schema where the image holds it, /pipeline/schemas/<hash>/schema.pbtxt.
    Here the image's project root is a temporary folder: the compiler is told so
    (IMAGE_PROJECT_ROOT) and the Dockerfile's own staging command fills it, so the spec is
    otherwise exactly `compile`'s, and the staging and the compiler must agree on the path.
    """
    image_root = tmp_path_factory.mktemp("image")
    subprocess.run([sys.executable, "-m", "pipeline.schema_staging", str(image_root / SCHEMAS_DIR)],
                   cwd=REPO_ROOT, check=True, capture_output=True)
    output = image_root / "pipeline.yaml"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kubeflow_runner, "IMAGE_PROJECT_ROOT", PurePosixPath(image_root))
        exit_code = run_cli("compile", "--output", output, "--image", IMAGE, "--pipeline-root", PIPELINE_ROOT,
                            "--data-dir", DATA_DIR, "--serving-dir", SERVING_DIR, *SMALL_RUN, *IN_PROCESS_BEAM)
    assert exit_code == 0
    return output


@pytest.fixture(scope="module")
def spec(spec_file: Path) -> dict:
    return yaml.safe_load(spec_file.read_text())


@pytest.fixture(scope="module")
def runs(s3: S3Server, spec: dict, tmp_path_factory: pytest.TempPathFactory) -> tuple[PipelineRun, PipelineRun]:
    """The whole spec run twice on the same serving dir."""
    launcher = FakeLauncher(spec, PIPELINE_ROOT, tmp_path_factory.mktemp("launcher"), environment_with(s3))
    return launcher.run("run-1"), launcher.run("run-2")


@pytest.fixture(scope="module")
def first_version(runs: tuple[PipelineRun, PipelineRun]) -> int:
    """The version the first run pushed."""
    pushed = runs[0].tasks[node_ids.PUSHER].outputs["pushed_model"]["metadata"]
    assert pushed["pushed"] == 1, pushed
    return int(pushed["pushed_version"])


def keys_under(s3: S3Server, uri: str) -> list[str]:
    prefix = uri.removeprefix(f"s3://{BUCKET}/").rstrip("/") + "/"
    return [key for key in s3.keys(BUCKET) if key.startswith(prefix)]


def test_every_task_runs_after_the_tasks_it_depends_on(spec, runs):
    tasks = spec["root"]["dag"]["tasks"]
    for run in runs:
        assert set(run.tasks) == set(tasks)
        for name, task in run.tasks.items():
            for upstream in tasks[name].get("dependentTasks", []):
                assert run.tasks[upstream].finished <= task.started, (upstream, name)


def test_the_ingest_runs_its_driver_and_writes_the_splits_to_s3(s3, runs):
    ingest = runs[0].tasks[node_ids.INGEST]
    # The driver fingerprinted the IDX files in the bucket; the executor read its parameters.
    assert ingest.driver_output["parameterValues"]["input_fingerprint"].count("num_files:1,") == 4
    examples = ingest.outputs["examples"]
    assert examples["uri"] == f"{PIPELINE_ROOT}/mnist/run-1/{node_ids.INGEST}/examples"
    assert examples["metadata"]["num_examples_validation"] == 100
    assert examples["metadata"]["input_file_train_images"] == "train-images-idx3-ubyte.gz"
    assert examples["metadata"]["input_fingerprint"] == ingest.driver_output["parameterValues"]["input_fingerprint"]
    keys = keys_under(s3, runs[0].root)
    for split in ("train", "validation", "test"):
        assert any(key.startswith(f"kfp/root/mnist/run-1/IdxExampleGen/examples/Split-{split}/") for key in keys)
        assert f"kfp/root/mnist/run-1/StatisticsGen/statistics/Split-{split}/FeatureStats.pb" in keys
    # TFX's StatisticsGen got the ingest's artifact as its input, by URI, as KFP passes it.
    assert runs[0].tasks[node_ids.STATISTICS].input("examples")["uri"] == examples["uri"]


def test_the_first_run_has_no_baseline_and_pushes_its_model(s3, runs, first_version):
    first = runs[0]
    assert first.tasks[node_ids.SERVED_MODEL].outputs["baseline"]["metadata"]["served"] == 0
    assert "Nothing is served yet" in first.tasks[node_ids.SERVED_MODEL].log.read_text()
    blessing = first.tasks[node_ids.BLESSING_EVALUATOR].outputs["blessing"]["metadata"]
    assert blessing["blessed"] == 1 and "baseline_model" not in blessing  # the threshold alone blessed

    version_dir = f"{SERVING_DIR}/{first_version}"
    assert first.tasks[node_ids.PUSHER].outputs["pushed_model"]["metadata"]["pushed_destination"] == version_dir
    keys = keys_under(s3, SERVING_DIR)
    assert f"kfp/serving/{first_version}/saved_model.pb" in keys
    assert not [key for key in keys if serving_dir.STAGING_PREFIX in key]
    marker = s3.client().get_object(Bucket=BUCKET, Key=f"kfp/serving/{first_version}/{serving_dir.MARKER_FILE}")
    assert json.loads(marker["Body"].read()) == {"model_uri": first.tasks[node_ids.TRAINER].outputs["model"]["uri"]}


def test_the_second_run_compares_its_model_with_the_first_runs(runs, first_version):
    first, second = runs
    served_model = second.tasks[node_ids.SERVED_MODEL]
    first_model_uri = first.tasks[node_ids.TRAINER].outputs["model"]["uri"]
    assert f"Baseline: version {first_version} in {SERVING_DIR}/{first_version} (model {first_model_uri})" in (
        served_model.log.read_text()
    )

    evaluator = second.tasks[node_ids.BLESSING_EVALUATOR]
    baseline = evaluator.input("baseline_model")
    assert baseline["uri"] == served_model.outputs["baseline"]["uri"]
    assert baseline["metadata"].items() >= {
        "served": 1,
        "served_version": first_version,
        "served_path": f"{SERVING_DIR}/{first_version}",
        "source_model_uri": first_model_uri,
    }.items()
    blessing = evaluator.outputs["blessing"]["metadata"]
    assert blessing["baseline_model"] == baseline["uri"]
    assert blessing["baseline_model_id"] == baseline["name"]  # the id KFP gave the ServedModel output
    assert blessing["current_model"] == second.tasks[node_ids.TRAINER].outputs["model"]["uri"]


def test_the_pushed_model_loads_from_s3_and_scores_above_the_threshold(s3, runs, first_version, fake_mnist_dir,
                                                                     tmp_path):
    images, labels = (
        np.concatenate(list(idx.iter_records(str(fake_mnist_dir / f"{name}.gz"), dims, 0, 200, chunk_records=200)))
        for name, dims in (("t10k-images-idx3-ubyte", 3), ("t10k-labels-idx1-ubyte", 1))
    )
    np.savez(tmp_path / "test_set.npz", images=images, labels=labels)
    result = subprocess.run(
        [sys.executable, "-c", SCORE_SCRIPT, f"{SERVING_DIR}/{first_version}", str(tmp_path / "test_set.npz")],
        cwd=REPO_ROOT, env=environment_with(s3), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    evaluation = load_config(overrides=[override for override in SMALL_RUN if override != "--set"]).evaluation
    assert json.loads(result.stdout.splitlines()[-1])["accuracy"] > evaluation.accuracy_threshold
