"""tests/flink_cluster.py's cluster (the `flink` fixture, `make flink-up`): a JobManager and a
TaskManager as JVM processes of their own, from Flink's pinned distribution, whose REST API
preflight (pipeline/local/flink_checks.py) takes as --flink_master; stopping it ends both."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.config import ConfigError
from pipeline.local.preflight import check_beam_args

from flink_cluster import FLINK_VERSION, PROCESSES, FlinkCluster, _running, running_cluster

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
