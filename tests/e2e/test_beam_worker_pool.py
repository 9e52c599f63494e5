"""The Beam components (ingest, statistics, both Evaluators) on Beam's portable runner with an
EXTERNAL Python worker pool, the workers' environment on a Flink or Spark cluster
(docs/flink.md), against the DirectRunner: the same examples split by split, the same statistics
up to float rounding, identical Evaluator figures, the same blessing and push. The TFX package
for remote workers is built once for the run's four Beam steps."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from conftest import SMALL_RUN, newest_summary, run_cli

pytestmark = pytest.mark.e2e


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
    portable_args = [
        "--runner=PortableRunner",
        "--job_endpoint=embed",
        "--environment_type=EXTERNAL",
        f"--environment_config={beam_worker_pool}",
    ]
    portable = run(fake_mnist_dir, tmp_path / "portable", *(f"--beam-arg={arg}" for arg in portable_args))
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
