"""tests/support/flink_cluster.py's cluster (the `flink` fixture, `make flink-up`): a JobManager and a
TaskManager as JVM processes of their own, from Flink's pinned distribution, whose REST API
preflight (pipeline/local/flink_checks.py) takes as --flink_master; stopping it ends both."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.config import ConfigError
from pipeline.local.preflight import check_beam_args

from support import flink_cluster
from support.flink_cluster import FLINK_VERSION, PROCESSES, FlinkCluster, _running, running_cluster

pytestmark = pytest.mark.e2e


def command_line(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def test_a_jobmanager_and_a_taskmanager_run_as_jvms_of_their_own(flink: FlinkCluster):
    pids = {process: flink.pid(process) for process in PROCESSES}
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
    for process, entry_point in PROCESSES.items():
        assert Path(command_line(pids[process])[0]).name == "java"
        assert entry_point in command_line(pids[process])
    overview = flink.rest("/overview")
    assert overview["flink-version"] == FLINK_VERSION
    assert (overview["taskmanagers"], overview["slots-total"]) == (1, 2)
    [taskmanager] = flink.rest("/taskmanagers")["taskmanagers"]
    assert taskmanager["slotsNumber"] == 2


def test_preflight_takes_the_cluster_as_flink_master_and_refuses_a_wrong_port(flink: FlinkCluster, tmp_path):
    jar = tmp_path / "job-server.jar"
    jar.write_bytes(b"PK")
    check_beam_args(["--runner=FlinkRunner", f"--flink_master={flink.master}", f"--flink_job_server_jar={jar}"])
    wrong = f"127.0.0.1:{flink.rest_port + 1}"
    with pytest.raises(ConfigError, match=f"--flink_master={wrong}: no Flink REST API answers there"):
        check_beam_args(["--runner=FlinkRunner", f"--flink_master={wrong}", f"--flink_job_server_jar={jar}"])
    with pytest.raises(ConfigError, match="runs Flink 1.18.1, but the job server is for Flink 1.17"):
        check_beam_args(
            [
                "--runner=FlinkRunner",
                f"--flink_master={flink.master}",
                "--flink_version=1.17",
                f"--flink_job_server_jar={jar}",
            ]
        )


def test_stopping_the_cluster_ends_both_processes(tmp_path):
    with running_cluster(tmp_path) as cluster:
        pids = [cluster.pid(process) for process in PROCESSES]
        assert all(_running(tmp_path, process) for process in PROCESSES)
    assert not any(_running(tmp_path, process) for process in PROCESSES)
    assert not any(Path(f"/proc/{pid}/cmdline").exists() and command_line(pid)[0] for pid in pids)
    assert not list(tmp_path.glob("*.pid"))


def test_fetch_restores_a_damaged_jar_from_the_download_and_downloads_nothing_it_has(tmp_path, monkeypatch):
    """`make flink-artifacts`: the pinned download there and intact is not fetched again; a jar
    that no longer matches tests/support/flink.sha256 is taken out of it anew."""

    def no_download(*args) -> None:
        raise AssertionError("downloaded again")

    monkeypatch.setattr(flink_cluster, "_download", no_download)
    (tmp_path / "download").mkdir()
    archive = f"download/{flink_cluster.LIBRARIES}.tar.gz"
    (tmp_path / archive).symlink_to(flink_cluster.FLINK_HOME / archive)
    flink_cluster.fetch(tmp_path)
    jar = tmp_path / f"lib/flink-dist-{FLINK_VERSION}.jar"
    with jar.open("r+b") as damaged:
        damaged.write(b"XX")
    flink_cluster.fetch(tmp_path)
    assert flink_cluster.sha256(jar) == flink_cluster.expected_checksums()[f"lib/flink-dist-{FLINK_VERSION}.jar"]
    flink_cluster.classpath(tmp_path)  # every listed jar is there


def test_a_download_that_does_not_match_its_checksum_is_refused(tmp_path):
    """pip's --require-hashes: a sdist whose hash is not the pinned one is not kept."""
    with pytest.raises(flink_cluster.FlinkUnavailable, match="could not download apache-flink-libraries"):
        flink_cluster._download(tmp_path, "0" * 64)
    assert not list(tmp_path.glob("*.tar.gz"))
