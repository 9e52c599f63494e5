"""Fixtures of the end-to-end tests: one local S3 server holding the synthetic MNIST files, one
Flink cluster, and what CLI processes (tests/support/cli_process.py) need: a frozen copy of the code, and clean-up."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import copy_project
from support.cli_process import Cli
from support.flink_cluster import FlinkCluster, free_port, running_cluster
from support.s3_server import BUCKET, S3Server, environment_with, serve_s3


@pytest.fixture(scope="session")
def s3(fake_mnist_dir: Path) -> Iterator[S3Server]:
    """A local S3 server whose bucket BUCKET holds the synthetic IDX files under data/; each test
    module writes under a prefix of its own."""
    with serve_s3() as server:
        server.client().create_bucket(Bucket=BUCKET)
        server.upload_dir(fake_mnist_dir, BUCKET, "data")
        yield server


@pytest.fixture(scope="module")
def frozen_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """CLI processes (tests/support/cli_process.py) of the module import components/, pipeline/ and
    configs/ from a copy made when the module starts (first on their PYTHONPATH, ahead of the
    editable install): code edited in the work tree meanwhile would change the code hashes in
    the cache keys, and a run that a test expects to be served from the cache would run."""
    copy = copy_project(tmp_path_factory.mktemp("frozen"))
    Cli.project = copy
    yield copy
    Cli.project = None


@pytest.fixture
def kill_leftovers() -> Iterator[None]:
    """A test that fails while a CLI process it started is held or running kills that process."""
    yield
    for started in Cli.started:
        if started.process.poll() is None:
            started.process.kill()
            started.process.wait()
    Cli.started.clear()


@pytest.fixture(scope="session")
def flink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlinkCluster]:
    """A Flink cluster of its own JVMs (tests/support/flink_cluster.py: a JobManager and a TaskManager with
    two slots) on free ports, for the session; its conf and logs in a temp dir."""
    with running_cluster(tmp_path_factory.mktemp("flink")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def beam_worker_pool(tmp_path_factory: pytest.TempPathFactory, s3: S3Server) -> Iterator[str]:
    """HOST:PORT of a pool of Python Beam workers (pipeline/local/beam_worker_pool.py), the
    EXTERNAL environment that a Flink or Spark cluster's workers use (docs/flink.md), with the
    local S3 server's settings. Its log is in a temp dir."""
    port = free_port()
    command = [sys.executable, "-m", "pipeline.local.beam_worker_pool", str(port)]
    log = tmp_path_factory.mktemp("beam_worker_pool") / "pool.log"
    with log.open("w") as out:
        pool = subprocess.Popen(command, env=environment_with(s3), stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while pool.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        pool.kill()
        pytest.fail(f"Beam's worker pool did not start: see {log}")
    yield f"127.0.0.1:{port}"
    pool.terminate()
    pool.wait(timeout=30)
