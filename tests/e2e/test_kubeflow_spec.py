"""The whole compiled Kubeflow spec, run task by task as open-source KFP and as Vertex AI would, on a local S3 server.

No cluster runs here: tests/support/kfp_launcher.py plays the backend (KFP 2.17.0's driver and launcher,
or Vertex AI). Every task of `compile`'s output runs its own command with the executor input
the backend would give it, in dependency order, with the data, the pipeline root and the serving
dir in `s3://`.

On open-source KFP the spec runs four times on one serving dir: the first run pushes a model;
the second compares its (cached) model with the one the first pushed, as a local rerun does; the
third, with nothing changed, runs only the never-cached probes; the fourth, after one IDX file
under the same data dir was replaced, re-runs the ingest and everything after it. On Vertex AI
it runs once.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
import yaml

from components import serving_dir
from components.idx_example_gen import idx
from components.trainer.settings import FIT_FILE, TENSORBOARD_DIR
from pipeline import node_ids
from pipeline.config import load_config
from pipeline.inspect import store as inspect_store
from pipeline.kubeflow import compiler, task
from pipeline.schema_staging import SCHEMAS_DIR

from conftest import REPO_ROOT, SMALL_RUN, run_cli
from support import mlmd_grpc
from support.cli_process import FAULTS_DIR, cli
from support.fake_mnist import balanced_labels, fake_images, write_idx
from support.kfp_launcher import EXECUTOR_LOGS, Harness, Mode, PipelineRun, RunRejected, TaskFailed
from support.report_page import Page
from support.s3_server import BUCKET, S3Server, environment_with

pytestmark = pytest.mark.e2e

IMAGE = "registry.example.com/team/mnist-pipeline:test"  # named in the spec, never pulled here
# Beam in each task's own process: the default starts a worker process per core, each importing
# TensorFlow again (tests/e2e/test_object_storage.py runs such workers on s3://).
IN_PROCESS_BEAM = ["--set", 'kubeflow.beam_pipeline_args=["--direct_running_mode=in_memory"]']
REPLACED_FILE = "train-images-idx3-ubyte.gz"  # what the fourth KFP run finds changed
REPLACED_ROLE = "train_images"  # its role, as the ingest records it
# Loads a pushed version from s3:// as a serving side with tensorflow-io would, and prints its
# Precision@1 on the images and labels of an .npz file. In a process of its own: after using s3://,
# tensorflow-io aborts the process that exits without components.workarounds.exit_process.
SCORE_SCRIPT = """
import json, sys
import numpy as np
from components.object_storage import enable_s3
from components.workarounds import exit_process
enable_s3()
import tensorflow as tf
model_dir, test_set = sys.argv[1:]
data = np.load(test_set)
predict = tf.saved_model.load(model_dir).signatures["predict_images"]
classes = predict(images=tf.constant(data["images"]))["classes"].numpy()
print(json.dumps({"precision_at_1": float(np.mean(classes == data["labels"]))}))
exit_process(0)
"""
# Look outside the pipeline (the probes) or describe the run (the report): run every time.
NEVER_CACHED = {node_ids.DATA_PROBE, node_ids.SERVING_PROBE, node_ids.REPORT}
# What reads the Examples, directly or through another task (all but the schema's import and the serving side).
AFTER_THE_INGEST = {
    node_ids.INGEST,
    node_ids.STATISTICS,
    node_ids.SCHEMA_VALIDATOR,
    node_ids.SPLIT_VALIDATOR,
    node_ids.DATA_GATE,
    node_ids.TRAINER,
    node_ids.TEST_EVALUATOR,
    node_ids.BLESSING_EVALUATOR,
    node_ids.PUSHER,
}


class Place:
    """Where one backend's runs read and write in the test bucket."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.data_dir = f"s3://{BUCKET}/{prefix}/data"
        self.pipeline_root = f"s3://{BUCKET}/{prefix}/root"
        self.serving_dir = f"s3://{BUCKET}/{prefix}/serving"


KFP, VERTEX = Place("kfp"), Place("vertex")


def compile_spec(place: Place, image_root: Path, suffix: str) -> dict:
    """`compile`'s output for `place` (.yaml: the spec `submit` sends to KFP; .json: Vertex AI's
    PipelineJob, whose spec is returned), with small settings.

    The spec names the schema where the image holds it, /pipeline/schemas/<hash>/schema.pbtxt.
    Here the image's project root is a temporary folder: the compiler is told so
    (IMAGE_PROJECT_ROOT) and the Dockerfile's own staging command fills it, so the spec is
    otherwise exactly `compile`'s, and the staging and the compiler must agree on the path.
    """
    output = image_root / f"{place.prefix}{suffix}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compiler, "IMAGE_PROJECT_ROOT", PurePosixPath(image_root))
        exit_code = run_cli(
            "compile",
            "--output",
            output,
            "--image",
            IMAGE,
            "--pipeline-root",
            place.pipeline_root,
            "--data-dir",
            place.data_dir,
            "--serving-dir",
            place.serving_dir,
            *SMALL_RUN,
            *IN_PROCESS_BEAM,
        )
    assert exit_code == 0
    return json.loads(output.read_text())["pipelineSpec"] if suffix == ".json" else yaml.safe_load(output.read_text())


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("image")
    subprocess.run(
        [sys.executable, "-m", "pipeline.schema_staging", str(root / SCHEMAS_DIR)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    return root


@pytest.fixture(scope="module")
def kfp_spec(image_root: Path) -> dict:
    return compile_spec(KFP, image_root, ".yaml")


def harness(spec: dict, mode: Mode, place: Place, s3: S3Server, work_dir: Path) -> Harness:
    return Harness(spec, mode, place.pipeline_root, s3, work_dir, environment_with(s3))


@pytest.fixture(scope="module")
def kfp_backend(s3: S3Server, kfp_spec: dict, tmp_path_factory: pytest.TempPathFactory) -> Harness:
    """Open-source KFP, with the ML Metadata store its launcher writes."""
    return harness(kfp_spec, Mode.OPEN_SOURCE_KFP, KFP, s3, tmp_path_factory.mktemp("kfp"))


@pytest.fixture(scope="module")
def kfp_runs(
    s3: S3Server, kfp_backend: Harness, fake_mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[PipelineRun]:
    """The spec run four times on open-source KFP; before the fourth, REPLACED_FILE is replaced."""
    s3.upload_dir(fake_mnist_dir, BUCKET, f"{KFP.prefix}/data")
    backend = kfp_backend
    runs = [backend.run() for _ in range(3)]
    replaced = tmp_path_factory.mktemp("replaced")
    labels = balanced_labels(600, seed=1)  # the same labels, the images drawn anew
    write_idx(replaced / REPLACED_FILE, fake_images(labels, seed=33))
    s3.client().upload_file(str(replaced / REPLACED_FILE), BUCKET, f"{KFP.prefix}/data/{REPLACED_FILE}")
    runs.append(backend.run())
    return runs


@pytest.fixture(scope="module")
def vertex_run(
    s3: S3Server, image_root: Path, fake_mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> PipelineRun:
    s3.upload_dir(fake_mnist_dir, BUCKET, f"{VERTEX.prefix}/data")
    spec = compile_spec(VERTEX, image_root, ".json")
    return harness(spec, Mode.VERTEX, VERTEX, s3, tmp_path_factory.mktemp("vertex")).run()


def pushed_version(run: PipelineRun) -> int:
    pushed = run.tasks[node_ids.PUSHER].outputs["pushed_model"]["metadata"]
    assert pushed["pushed"] == 1, pushed
    return int(pushed["pushed_version"])


def ran(run: PipelineRun) -> set[str]:
    return {name for name, status in run.statuses().items() if status == "ran"}


def test_argo_refuses_a_task_name_with_a_dot_and_the_compiled_spec_has_none(kfp_spec, s3, tmp_path):
    dotted = json.loads(json.dumps(kfp_spec).replace(f'"{node_ids.TEST_EVALUATOR}"', '"Evaluator.test"'))
    with pytest.raises(RunRejected, match=r"Evaluator\.test name must consist of alpha-numeric"):
        harness(dotted, Mode.OPEN_SOURCE_KFP, KFP, s3, tmp_path).run()


def test_every_task_runs_after_the_tasks_it_depends_on(kfp_spec, kfp_runs, vertex_run):
    tasks = kfp_spec["root"]["dag"]["tasks"]
    assert set(vertex_run.tasks) == set(tasks) - {node_ids.REPORT}  # Vertex AI's spec has no report task
    for run in [*kfp_runs, vertex_run]:
        for name, task_run in run.tasks.items():
            for upstream in tasks[name].get("dependentTasks", []):
                assert run.tasks[upstream].finished <= task_run.started, (upstream, name)


def test_on_kfp_the_trainer_gets_untyped_inputs_with_wrapped_metadata_and_trains(kfp_runs):
    trainer = kfp_runs[0].tasks[node_ids.TRAINER]
    examples = trainer.input("examples")
    assert examples["type"] == {"instanceSchema": ""}  # as KFP's MLMD client hands it over
    checksums = examples["metadata"]["shard_sha256"]
    assert set(checksums) == {"struct"} and set(checksums["struct"]) == {"train", "validation", "test"}
    assert examples["metadata"]["num_examples_validation"] == 100.0
    assert trainer.status == "ran" and "Step 60: loss" in trainer.log.read_text()
    # The launcher downloaded every input into the pod, and uploaded its log.
    local_examples = trainer.pod / "s3" / examples["uri"].removeprefix("s3://")
    assert sorted(path.name for path in local_examples.iterdir()) == ["Split-test", "Split-train", "Split-validation"]
    logs = trainer.outputs[EXECUTOR_LOGS]
    assert logs["uri"].startswith(f"{kfp_runs[0].root}/{node_ids.TRAINER}/")


def test_the_first_kfp_run_has_no_baseline_and_pushes_its_model(s3, kfp_runs):
    first = kfp_runs[0]
    assert ran(first) == set(first.tasks)
    assert first.tasks[node_ids.SERVED_MODEL].outputs["baseline"]["metadata"]["served"] == 0
    blessing = first.tasks[node_ids.BLESSING_EVALUATOR].outputs["blessing"]["metadata"]
    assert blessing["blessed"] == 1 and "baseline_model" not in blessing  # the threshold alone blessed
    version = pushed_version(first)
    keys = s3.keys(BUCKET, f"{KFP.prefix}/serving/")
    assert f"{KFP.prefix}/serving/{version}/saved_model.pb" in keys
    assert not [key for key in keys if serving_dir.STAGING_PREFIX in key]
    marker = s3.client().get_object(Bucket=BUCKET, Key=f"{KFP.prefix}/serving/{version}/{serving_dir.MARKER_FILE}")
    assert json.loads(marker["Body"].read())["model_uri"] == first.tasks[node_ids.TRAINER].outputs["model"]["uri"]


def test_the_second_kfp_run_compares_the_cached_model_with_the_one_the_first_pushed(kfp_runs):
    first, second = kfp_runs[:2]
    assert ran(second) == {*NEVER_CACHED, node_ids.SERVED_MODEL, node_ids.BLESSING_EVALUATOR, node_ids.PUSHER}
    baseline = second.tasks[node_ids.BLESSING_EVALUATOR].input("baseline_model")
    assert baseline["metadata"]["served_version"] == pushed_version(first)
    assert baseline["metadata"]["source_model_uri"] == first.tasks[node_ids.TRAINER].outputs["model"]["uri"]
    blessing = second.tasks[node_ids.BLESSING_EVALUATOR].outputs["blessing"]["metadata"]
    assert blessing["blessed"] == 1 and blessing["baseline_model_id"] == baseline["name"]
    assert pushed_version(second) == pushed_version(first)  # the served model already: recorded, not copied


def test_the_third_kfp_run_with_nothing_changed_runs_only_the_probes_and_the_report(kfp_runs):
    third = kfp_runs[2]
    assert ran(third) == NEVER_CACHED
    for name in set(third.tasks) - NEVER_CACHED:  # the cached tasks hand on the same artifacts
        assert third.tasks[name].outputs == kfp_runs[1].tasks[name].outputs, name


def test_a_replaced_idx_file_reruns_the_ingest_and_everything_after_it(kfp_runs):
    third, fourth = kfp_runs[2:]
    data_fingerprint = fourth.tasks[node_ids.INGEST].parameter("data_fingerprint")
    assert (
        json.loads(data_fingerprint)[REPLACED_FILE]
        != json.loads(third.tasks[node_ids.INGEST].parameter("data_fingerprint"))[REPLACED_FILE]
    )
    assert ran(fourth) == {*NEVER_CACHED, *AFTER_THE_INGEST}
    assert fourth.statuses()[node_ids.SERVED_MODEL] == "cached"  # the same model is served


def assert_the_pushed_model_scores(s3: S3Server, run: PipelineRun, fake_mnist_dir: Path, work_dir: Path) -> None:
    """The version the run's Pusher pushed loads from s3:// and scores above the threshold on the test images."""
    images, labels = (
        np.concatenate(list(idx.iter_records(str(fake_mnist_dir / f"{name}.gz"), dims, 0, 200, chunk_records=200)))
        for name, dims in (("t10k-images-idx3-ubyte", 3), ("t10k-labels-idx1-ubyte", 1))
    )
    np.savez(work_dir / "test_set.npz", images=images, labels=labels)
    version_dir = run.tasks[node_ids.PUSHER].outputs["pushed_model"]["metadata"]["pushed_destination"]
    result = subprocess.run(
        [sys.executable, "-c", SCORE_SCRIPT, version_dir, str(work_dir / "test_set.npz")],
        cwd=REPO_ROOT,
        env=environment_with(s3),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    evaluation = load_config(overrides=[override for override in SMALL_RUN if override != "--set"]).evaluation
    assert json.loads(result.stdout.splitlines()[-1])["precision_at_1"] > evaluation.min_precision_at_1


def test_the_pushed_model_loads_from_s3_and_scores_above_the_threshold(s3, kfp_runs, fake_mnist_dir, tmp_path):
    assert_the_pushed_model_scores(s3, kfp_runs[-1], fake_mnist_dir, tmp_path)


def test_on_vertex_the_inputs_keep_their_types_and_the_run_pushes(vertex_run, kfp_spec):
    assert ran(vertex_run) == set(vertex_run.tasks)
    examples = vertex_run.tasks[node_ids.TRAINER].input("examples")
    assert examples["type"]["instanceSchema"].startswith("title: tfx.Examples")
    assert set(examples["metadata"]["shard_sha256"]) == {"train", "validation", "test"}
    assert pushed_version(vertex_run) > 0


def test_a_folder_marker_breaks_kfps_download_until_the_task_command_removes_it(s3, kfp_spec, tmp_path, monkeypatch):
    prefix = f"{KFP.prefix}/markers/examples"
    client = s3.client()
    client.put_object(Bucket=BUCKET, Key=f"{prefix}/Split-train/", Body=b"")  # as TensorFlow's GCS filesystem writes
    client.put_object(Bucket=BUCKET, Key=f"{prefix}/Split-train/data.gz", Body=b"data")
    backend = harness(kfp_spec, Mode.OPEN_SOURCE_KFP, KFP, s3, tmp_path)
    inputs = {"artifacts": {"examples": {"artifacts": [{"uri": f"s3://{BUCKET}/{prefix}"}]}}}
    with pytest.raises(TaskFailed, match="failed to download input artifact 'examples'"):
        backend._download_inputs(inputs, tmp_path / "pod-1")

    for name, value in s3.env.items():  # a task's environment
        monkeypatch.setenv(name, value)
    removed = task.remove_folder_markers(f"s3://{BUCKET}/{prefix}")

    assert removed == [f"s3://{BUCKET}/{prefix}/Split-train/"]
    backend._download_inputs(inputs, tmp_path / "pod-2")
    assert (tmp_path / "pod-2" / "s3" / BUCKET / prefix / "Split-train" / "data.gz").read_bytes() == b"data"


# --- a run with other run-time parameters ------------------------------------------------------

PARAMETERS = Place("parameters")  # a run of KFP's spec created with its own data dir, steps and learning rate
UP_TO_THE_TRAINER = {
    node_ids.DATA_PROBE,
    node_ids.INGEST,
    node_ids.SCHEMA_IMPORTER,
    node_ids.STATISTICS,
    node_ids.SCHEMA_VALIDATOR,
    node_ids.SPLIT_VALIDATOR,
    node_ids.DATA_GATE,
    node_ids.TRAINER,
}


def test_a_run_created_with_other_parameters_reads_and_trains_with_them(s3, kfp_spec, fake_mnist_dir, tmp_path):
    """What KFP's "Create run" form, or `submit --set training.train_steps=40 ...`, gives a run of
    the same spec: the data dir reaches the ingest, the steps and the learning rate run_fn."""
    s3.upload_dir(fake_mnist_dir, BUCKET, f"{PARAMETERS.prefix}/data")
    backend = harness(kfp_spec, Mode.OPEN_SOURCE_KFP, PARAMETERS, s3, tmp_path)
    given = {"data_dir": PARAMETERS.data_dir, "train_steps": 40, "learning_rate": 0.02}
    run = backend.run(tasks=UP_TO_THE_TRAINER, parameters=given)

    defaults = kfp_spec["root"]["inputDefinitions"]["parameters"]
    assert run.parameters == {**given, "min_precision_at_1": defaults["min_precision_at_1"]["defaultValue"]}
    assert defaults["data_dir"]["defaultValue"] == KFP.data_dir and defaults["train_steps"]["defaultValue"] == 60
    assert run.tasks[node_ids.DATA_PROBE].parameter("input_base") == PARAMETERS.data_dir
    assert run.tasks[node_ids.INGEST].parameter("input_base") == PARAMETERS.data_dir
    trainer = run.tasks[node_ids.TRAINER]
    assert (trainer.parameter("train_steps"), trainer.parameter("learning_rate")) == (40, 0.02)
    log = trainer.log.read_text()
    assert "Training 40 steps, learning rate 0.02" in log  # what run_fn read
    assert "Step 40: loss" in log and "Step 60: loss" not in log
    bucket, _, model_run = trainer.outputs["model_run"]["uri"].removeprefix("s3://").partition("/")
    fit = json.loads(s3.client().get_object(Bucket=bucket, Key=f"{model_run}/{FIT_FILE}")["Body"].read())
    assert fit["steps"] == 40


def test_kfp_refuses_a_run_whose_parameter_has_another_type(kfp_spec, s3, tmp_path):
    """apiserver/template/v2_template.go validatePipelineJobInputs: before any task runs."""
    with pytest.raises(RunRejected, match="input parameter train_steps requires type NUMBER_INTEGER"):
        harness(kfp_spec, Mode.OPEN_SOURCE_KFP, PARAMETERS, s3, tmp_path).run(parameters={"train_steps": "many"})


# --- what the KFP UI shows, and lineage on KFP's store ----------------------------------------


def ui_artifacts(backend: Harness, run: PipelineRun) -> dict[str, tuple[str, dict]]:
    """The run's artifacts the KFP UI draws, by MLMD type name, as the UI finds them
    (frontend/src/mlmd/MlmdUtils.ts: the run's context by its id, the executions in it, their
    OUTPUT events' artifacts, filterLinkedArtifactsByType, only those with a display_name):
    type name -> (URI, custom properties)."""
    store = backend.metadata.store
    context = store.get_context_by_type_and_name("system.PipelineRun", run.run_id)
    executions = store.get_executions_by_context(context.id)
    events = store.get_events_by_execution_ids([execution.id for execution in executions])
    artifacts = store.get_artifacts_by_id([event.artifact_id for event in events if event.type == event.OUTPUT])
    types = {t.id: t.name for t in store.get_artifact_types()}
    return {
        types[artifact.type_id]: (artifact.uri, inspect_store._values(artifact.custom_properties))
        for artifact in artifacts
        if types[artifact.type_id].startswith("system.") and artifact.custom_properties["display_name"].string_value
    }


def test_the_report_task_writes_the_page_and_figures_where_the_kfp_ui_reads_them(s3, kfp_backend, kfp_runs):
    first = kfp_runs[0]
    shown = ui_artifacts(kfp_backend, first)
    assert {"system.HTML", "system.Metrics", "system.ClassificationMetrics"} <= set(shown)

    # HTMLViewer reads the object at the URI itself (frontend/server/handlers/artifacts.ts): one object, no folder.
    page_uri, _ = shown["system.HTML"]
    bucket, _, key = page_uri.removeprefix("s3://").partition("/")
    assert key in s3.keys(bucket, key) and not [k for k in s3.keys(bucket, key) if k.startswith(key + "/")]
    page = Page(s3.client().get_object(Bucket=bucket, Key=key)["Body"].read().decode())
    assert list(page.section_text) == ["made", "data", "training", "evaluation", "lineage"]  # complete: no failure

    # The same figures as the Evaluators recorded, on the page and in the UI's metrics table.
    evaluated = {
        split: first.tasks[node_ids.EVALUATOR_PREFIX + split].outputs["evaluation"]["metadata"]["precision_at_1"]
        for split in ("validation", "test")
    }
    _, metrics = shown["system.Metrics"]
    assert {split: metrics[f"{split}_precision_at_1"] for split in evaluated} == evaluated
    assert 0 < metrics["train_precision_at_1"] <= 1
    on_page = {row["split"]: float(row["Precision@1"]) for row in page.table("Precision@1 per split")}
    assert on_page == pytest.approx(evaluated, abs=5e-5)

    # ConfusionMatrixSection reads confusionMatrix.struct: {annotationSpecs: [{displayName}], rows: [{row}]}.
    _, classification = shown["system.ClassificationMetrics"]
    matrix = classification["confusionMatrix"]
    assert [spec["displayName"] for spec in matrix["annotationSpecs"]] == [str(digit) for digit in range(10)]
    rows = [row["row"] for row in matrix["rows"]]
    test_examples = first.tasks[node_ids.TEST_EVALUATOR].outputs["evaluation"]["metadata"]["example_count"]
    assert len(rows) == 10 and all(len(row) == 10 for row in rows) and sum(map(sum, rows)) == test_examples
    correct = sum(rows[digit][digit] for digit in range(10))
    assert correct / test_examples == pytest.approx(evaluated["test"])


def test_the_report_task_records_a_page_per_run_and_the_ui_finds_each(kfp_backend, kfp_runs):
    pages = {ui_artifacts(kfp_backend, run)["system.HTML"][0] for run in kfp_runs}
    assert len(pages) == len(kfp_runs)  # never cached: each run's own page


MnistPipeline = Callable[..., str]


@contextlib.contextmanager
def cli_on_store(backend: Harness, s3: S3Server, work_dir: Path) -> Iterator[MnistPipeline]:
    """`mnist-pipeline ARGS` in a process of its own, as a user runs it, pointed at the harness's
    store served as KFP's metadata-grpc-service serves it, with the S3 server's settings; it
    returns what the command printed, stdout when it exits with `code` (0), else stderr."""
    with mlmd_grpc.serve(backend.metadata.store, backend.metadata.lock) as (host, port):
        service = ["--set", f"metadata.grpc_host={host}", "--set", f"metadata.grpc_port={port}"]

        def mnist_pipeline(*args: str | Path, code: int = 0) -> str:
            result = cli(work_dir, *args, "--output-dir", work_dir, *service, env=s3.env)
            assert result.code == code, result.stderr
            return result.stdout if code == 0 else result.stderr

        yield mnist_pipeline


@pytest.fixture
def kfp_mlmd(kfp_backend, s3, tmp_path):
    with cli_on_store(kfp_backend, s3, tmp_path) as mnist_pipeline:
        yield mnist_pipeline


def test_lineage_runs_lists_the_kfp_runs_with_their_tasks(kfp_runs, kfp_mlmd):
    listed = {run["id"]: run for run in json.loads(kfp_mlmd("lineage", "runs", "--json"))}
    assert set(listed) == {run.run_id for run in kfp_runs}
    for run in kfp_runs:
        assert listed[run.run_id]["status"] == "complete"
        statuses = {component["node_id"]: component["status"] for component in listed[run.run_id]["components"]}
        assert statuses == run.statuses()  # every task, none of KFP's DAG executions


def test_lineage_trace_follows_the_served_model_to_the_idx_files_on_kfps_store(kfp_runs, kfp_mlmd):
    traced = json.loads(kfp_mlmd("lineage", "trace", "pushed:latest", "--serving-dir", KFP.serving_dir, "--json"))
    last = kfp_runs[-1]
    assert traced["artifact"]["uri"] == last.tasks[node_ids.PUSHER].outputs["pushed_model"]["uri"]
    steps = [step["execution"]["node_id"] for step in traced["upstream"]]
    assert {node_ids.PUSHER, node_ids.TRAINER, node_ids.DATA_GATE, node_ids.INGEST} <= set(steps)
    trainer = next(step for step in traced["upstream"] if step["execution"]["node_id"] == node_ids.TRAINER)
    assert trainer["parameters"]["train_steps"] == 60  # SMALL_RUN's, read from KFP's `inputs`
    # The IDX files as the last ingest recorded them: the replaced one with its new content's hash.
    traced_hash = {file["role"]: file["sha256"] for file in traced["input_files"]}[REPLACED_ROLE]
    recorded = [run.tasks[node_ids.INGEST].outputs["examples"]["metadata"] for run in (kfp_runs[0], last)]
    assert [examples[f"input_sha256_{REPLACED_ROLE}"] == traced_hash for examples in recorded] == [False, True]


def test_lineage_diff_and_report_read_kfps_store(kfp_runs, kfp_mlmd, tmp_path):
    first, fourth = kfp_runs[0], kfp_runs[-1]
    assert REPLACED_FILE in kfp_mlmd("lineage", "diff", first.run_id, fourth.run_id)  # the input that changed

    kfp_mlmd("report", fourth.run_id, "--output", tmp_path / "report.html")
    rows = Page.read(tmp_path / "report.html").table("Components, in the order they started")
    assert {row["component"]: row["status"].split()[0] for row in rows} == fourth.statuses()
    made_in = {row["status"].partition("made in run ")[2].rstrip(")") for row in rows if "made in" in row["status"]}
    assert made_in and made_in <= {run.run_id for run in kfp_runs[:3]}  # a cached task names the run that made it


# --- a run created in KFP's UI whose task fails, on a store shared with another pipeline -------

SHARED = Place("shared")
FAILED_RUN, OTHER_PIPELINES_RUN = "failed-run", "another-pipelines-run"


@pytest.fixture(scope="module")
def shared_store(s3: S3Server, kfp_spec: dict, tmp_path_factory: pytest.TempPathFactory) -> Harness:
    """A store holding another pipeline's run (recorded as KFP's launcher records any run) and
    ours: created as KFP's UI creates a run from the uploaded spec (no pipeline root given), with
    a data dir that holds no IDX files, so its first task fails."""
    work_dir = tmp_path_factory.mktemp("shared")
    backend = Harness(kfp_spec, Mode.OPEN_SOURCE_KFP, None, s3, work_dir, environment_with(s3))  # no root
    other = backend.metadata.run_contexts("another-pipeline", OTHER_PIPELINES_RUN, "s3://elsewhere/root", {})
    backend.metadata.publish(
        other, backend.metadata.create_execution(other, node_ids.TRAINER, IMAGE, {}, {}, None), "COMPLETE", {}, {}, None
    )
    with pytest.raises(TaskFailed, match=node_ids.DATA_PROBE):
        backend.run(FAILED_RUN, tasks={node_ids.DATA_PROBE}, parameters={"data_dir": f"{SHARED.data_dir}/none"})
    return backend


def test_a_run_created_in_the_ui_writes_under_the_specs_default_root(s3, kfp_spec, shared_store):
    assert kfp_spec["defaultPipelineRoot"] == KFP.pipeline_root
    store = shared_store.metadata.store
    logs = store.get_artifacts_by_type("system.Artifact")  # one per attempt: the task may retry twice
    task_root = f"{KFP.pipeline_root}/{kfp_spec['pipelineInfo']['name']}/{FAILED_RUN}/{node_ids.DATA_PROBE}/"
    assert [log.uri.removeprefix(task_root).partition("/")[2] for log in logs] == [
        f"{EXECUTOR_LOGS}-{attempt}" for attempt in range(3)
    ]
    for log in logs:
        bucket, _, key = log.uri.removeprefix("s3://").partition("/")
        assert "Traceback" in s3.client().get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def test_a_failed_task_is_failed_in_the_store_in_lineage_and_in_the_report(s3, shared_store, tmp_path):
    store = shared_store.metadata.store
    run = store.get_context_by_type_and_name("system.PipelineRun", FAILED_RUN)
    [failed] = [e for e in store.get_executions_by_context(run.id) if e.custom_properties["task_name"].string_value]
    assert failed.last_known_state == failed.FAILED  # not left RUNNING

    with cli_on_store(shared_store, s3, tmp_path) as mnist_pipeline:
        [listed] = json.loads(mnist_pipeline("lineage", "runs", "--json"))  # ours only
        assert listed["id"] == FAILED_RUN and listed["status"] == "failed"
        assert [(c["node_id"], c["status"]) for c in listed["components"]] == [(node_ids.DATA_PROBE, "failed")]
        assert "not found" in mnist_pipeline("lineage", "diff", FAILED_RUN, OTHER_PIPELINES_RUN, code=1)
        assert "not found" in mnist_pipeline("report", OTHER_PIPELINES_RUN, code=1)
        mnist_pipeline("report", FAILED_RUN, "--output", tmp_path / "report.html")
    rows = Page.read(tmp_path / "report.html").table("Components, in the order they started")
    assert [(row["component"], row["status"].split()[0]) for row in rows] == [(node_ids.DATA_PROBE, "failed")]


# --- a task that fails once and succeeds on its retry ------------------------------------------

RETRIED = Place("retried")


def test_a_trainer_killed_in_its_first_attempt_succeeds_on_its_retry_into_the_same_outputs(
    s3, image_root, fake_mnist_dir, tmp_path
):
    """Argo runs the Trainer's pod again (every task may retry: pipeline/kubeflow/compiler.py
    _set_retries), with the same execution and output URIs; the first attempt died once it had
    trained, its TensorBoard logs and checkpoints left in the ModelRun (tests/faults:
    kill_after_training_on_first_attempt). The Trainer empties its outputs first
    (components/trainer/executor.py clear_outputs): only the retry's logs remain."""
    s3.upload_dir(fake_mnist_dir, BUCKET, f"{RETRIED.prefix}/data")
    spec = compile_spec(RETRIED, image_root, ".yaml")
    fault = {"PYTHONPATH": str(FAULTS_DIR), "MNIST_TEST_FAULT": "kill_after_training_on_first_attempt"}
    backend = Harness(
        spec, Mode.OPEN_SOURCE_KFP, RETRIED.pipeline_root, s3, tmp_path, {**environment_with(s3), **fault}
    )
    run = backend.run()

    assert ran(run) == set(run.tasks)
    trainer = run.tasks[node_ids.TRAINER]
    first_log = trainer.log.with_name("attempt-0.log").read_text()
    assert "Step 60: loss" in first_log and "Trained" not in first_log  # killed as it logged the line
    assert "Trained 60 steps" in trainer.log.read_text()
    store = backend.metadata.store
    [execution] = [
        e
        for e in store.get_executions_by_type("system.ContainerExecution")
        if e.custom_properties["task_name"].string_value == node_ids.TRAINER
    ]  # one execution for both attempts
    assert execution.last_known_state == execution.COMPLETE
    outputs = {
        event.artifact_id: event.path.steps[0].key
        for event in store.get_events_by_execution_ids([execution.id])
        if event.type == event.OUTPUT
    }
    logs = [a.uri for a in store.get_artifacts_by_id(list(outputs)) if outputs[a.id] == EXECUTOR_LOGS]
    assert [uri.rpartition("/")[2] for uri in logs] == [f"{EXECUTOR_LOGS}-0", f"{EXECUTOR_LOGS}-1"]

    # The retry wrote into the URIs the driver gave the first attempt, and left nothing of it there.
    for key in ("model", "model_run"):
        [provisioned] = trainer.executor_input["outputs"]["artifacts"][key]["artifacts"]
        assert trainer.outputs[key]["uri"] == provisioned["uri"]
    bucket, _, model_run = trainer.outputs["model_run"]["uri"].removeprefix("s3://").partition("/")
    tensorboard = [key for key in s3.keys(bucket, f"{model_run}/{TENSORBOARD_DIR}/") if "tfevents" in key]
    assert len(tensorboard) == 1, tensorboard  # one attempt's curves, not two
    assert_the_pushed_model_scores(s3, run, fake_mnist_dir, tmp_path)
