"""The pipeline on object storage: data, artifacts and pushed models in s3://, on a local S3 server.

What a Kubeflow run needs: no component may assume a local path. The run below reads the IDX
files from the bucket and writes every artifact and the pushed model there; only the MLMD
store and the run logs stay on disk. Runs go through the installed command, in a process of
its own, so its exit code is the one a Kubeflow task would report. The compiled Kubeflow spec
runs on the same server in tests/e2e/test_kubeflow_spec.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.output_dir import LOCK_FILE

from conftest import REPO_ROOT, SMALL_RUN
from support.s3_server import BUCKET, S3Server, environment_with

pytestmark = pytest.mark.e2e

CLI = Path(sys.executable).with_name("mnist-pipeline")


def run_on_s3(s3: S3Server, output_dir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(CLI), "run", "--output-dir", str(output_dir), *SMALL_RUN, *args]
    return subprocess.run(command, env=environment_with(s3), capture_output=True, text=True, timeout=900)


def test_the_whole_pipeline_runs_with_data_artifacts_and_models_in_s3(s3, tmp_path):
    result = run_on_s3(
        s3,
        tmp_path,
        "--data-dir",
        f"s3://{BUCKET}/data",
        "--pipeline-root",
        f"s3://{BUCKET}/root",
        "--serving-dir",
        f"s3://{BUCKET}/serving",
    )

    assert result.returncode == 0, result.stderr[-3000:]
    keys = s3.keys(BUCKET)
    shards = [key for key in keys if key.startswith("root/IdxExampleGen/examples/")]
    assert {key.split("/")[-2] for key in shards} == {"Split-train", "Split-validation", "Split-test"}
    assert not [key for key in keys if key.endswith(".tmp") or "/.staging-" in key]
    for component in ("StatisticsGen", "Trainer", "Evaluator-validation", "Evaluator-test", "Pusher"):
        assert any(key.startswith(f"root/{component}/") for key in keys), component
    versions = {key.split("/")[1] for key in keys if key.startswith("serving/")}
    [version] = versions
    assert version.isdigit() and f"serving/{version}/saved_model.pb" in keys
    # On disk: only the output dir's lock, the store, the staged schema and the run's log and summary.
    assert sorted(path.name for path in tmp_path.iterdir()) == [LOCK_FILE, "metadata.sqlite", "runs", "schemas"]
    assert "Pusher done" in result.stderr


def test_missing_data_in_the_bucket_is_one_clear_error(s3, tmp_path):
    result = run_on_s3(s3, tmp_path, "--data-dir", f"s3://{BUCKET}/no-such-dir")

    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"error: s3://{BUCKET}/no-such-dir: missing train-images-idx3-ubyte")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("ending, exit_code", [("pass", 0), ("raise RuntimeError('the work failed')", 1)])
def test_a_beam_worker_that_used_s3_exits_with_its_own_code(s3, ending, exit_code):
    """What components.beam_worker does in each worker process (without it: SIGABRT, -6)."""
    script = "\n".join(
        [
            "import components.beam_worker",
            "import tensorflow as tf",
            f"tf.io.gfile.exists('s3://{BUCKET}/data')",
            ending,
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=environment_with(s3),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == exit_code, result.stderr[-2000:]
    assert "pure virtual method called" not in result.stderr
