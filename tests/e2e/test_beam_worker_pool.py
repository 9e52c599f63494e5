"""pipeline/local/beam_worker_pool.py: the Beam components (ingest, statistics, both Evaluators)
on Beam's portable runner with the pool's workers (--environment_type=EXTERNAL), the workers'
environment on a Flink or Spark cluster (docs/flink.md), against the DirectRunner: the same
examples split by split, the same statistics up to float rounding, identical Evaluator figures,
the same blessing and push. The TFX package for remote workers is built once for the run's four
Beam steps. The workers get the job's options, so they read and write s3:// as the run does."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SMALL_RUN, newest_summary, run_cli
from support.s3_server import BUCKET, S3Server, environment_with

pytestmark = pytest.mark.e2e


def portable_args(worker_pool: str) -> list[str]:
    """--beam-arg flags: Beam's portable runner, its job service in the run, the workers in the pool."""
    flags = ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=EXTERNAL"]
    return [f"--beam-arg={flag}" for flag in [*flags, f"--environment_config={worker_pool}"]]


def run(data: Path, output: Path, *beam_args: str) -> dict:
    assert run_cli("run", "--data-dir", data, "--output-dir", output, *SMALL_RUN, *beam_args) == 0
    return newest_summary(output)


def the_artifact(output: Path, component: str, name: str) -> Path:
    [artifact] = (output / "pipeline" / component / name).iterdir()
    return artifact


def examples_by_split(output: Path) -> dict[str, list[bytes]]:
    """Each split's tf.Examples, parsed, in a fixed order (the runners may shard them otherwise)."""
    import tensorflow as tf

    splits = {}
    for split in sorted(the_artifact(output, "IdxExampleGen", "examples").glob("Split-*")):
        records = tf.data.TFRecordDataset(sorted(map(str, split.iterdir())), compression_type="GZIP")
        examples = [tf.train.Example.FromString(record.numpy()) for record in records]
        splits[split.name] = sorted(example.SerializeToString(deterministic=True) for example in examples)
    return splits


def statistics_by_split(output: Path) -> dict[str, dict]:
    from google.protobuf.json_format import MessageToDict
    from tensorflow_metadata.proto.v0 import statistics_pb2

    statistics = {}
    for split in sorted(the_artifact(output, "StatisticsGen", "statistics").glob("Split-*")):
        proto = statistics_pb2.DatasetFeatureStatisticsList.FromString((split / "FeatureStats.pb").read_bytes())
        statistics[split.name] = MessageToDict(proto)
    return statistics


def assert_equal_up_to_rounding(portable, direct, where: str = "") -> None:
    if isinstance(direct, dict):
        assert portable.keys() == direct.keys(), where
        for key in direct:
            assert_equal_up_to_rounding(portable[key], direct[key], f"{where}/{key}")
    elif isinstance(direct, list):
        assert len(portable) == len(direct), where
        for index, (one, other) in enumerate(zip(portable, direct)):
            assert_equal_up_to_rounding(one, other, f"{where}[{index}]")
    elif isinstance(direct, float):
        assert math.isclose(portable, direct, rel_tol=1e-9, abs_tol=1e-12), where
    else:
        assert portable == direct, where


def test_the_beam_work_on_an_external_worker_pool_matches_the_direct_runner(
    fake_mnist_dir, tmp_path, beam_worker_pool, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the TFX package is built here
    portable = run(fake_mnist_dir, tmp_path / "portable", *portable_args(beam_worker_pool))
    direct = run(fake_mnist_dir, tmp_path / "direct")

    assert examples_by_split(tmp_path / "portable") == examples_by_split(tmp_path / "direct")
    assert_equal_up_to_rounding(statistics_by_split(tmp_path / "portable"), statistics_by_split(tmp_path / "direct"))
    assert portable["examples"] == direct["examples"]
    assert portable["evaluation"] == direct["evaluation"]
    assert portable["blessing"] == direct["blessing"]
    assert portable["pushed"]["pushed"] is direct["pushed"]["pushed"] is True
    [log] = (tmp_path / "portable" / "runs").glob("*.log")
    assert log.read_text().count("Creating temporary sdist package") == 1  # one TFX package, four Beam steps
    assert len(list((tmp_path / "cache" / "mnist-pipeline" / "tfx-packages").glob("*/*.tar.gz"))) == 1


def test_the_workers_read_the_data_from_s3_and_write_the_examples_there(s3: S3Server, beam_worker_pool, tmp_path):
    """The ingest's Beam work runs in the pool's workers: the IDX files come from the bucket and
    the examples go back to it (components/beam_worker.py registers s3:// there)."""
    command = [str(Path(sys.executable).with_name("mnist-pipeline")), "run", "--output-dir", str(tmp_path)]
    command += ["--data-dir", f"s3://{BUCKET}/data", "--pipeline-root", f"s3://{BUCKET}/portable-root"]
    command += [*SMALL_RUN, "--no-push", *portable_args(beam_worker_pool)]
    result = subprocess.run(command, env=environment_with(s3), capture_output=True, text=True, timeout=900)

    assert result.returncode == 0, result.stderr[-3000:]
    assert "Examples: train 500, validation 100, test 200" in result.stderr
    shards = [key for key in s3.keys(BUCKET, "portable-root/IdxExampleGen/examples/")]
    assert {key.split("/")[-2] for key in shards} == {"Split-train", "Split-validation", "Split-test"}
    assert any(key.startswith("portable-root/StatisticsGen/") for key in s3.keys(BUCKET))
