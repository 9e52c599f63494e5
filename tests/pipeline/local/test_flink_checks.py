"""pipeline/local/flink_checks.py: a FlinkRunner run whose cluster, job server or worker pool is not
there is refused in one line naming the flag, before anything runs. The real cluster's answer is
checked in tests/e2e/test_flink_cluster.py; here a small HTTP server answers /overview as
Flink's REST API does (its ClusterOverviewHandler: taskmanagers, slots, flink-version, ...)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from apache_beam.utils.subprocess_server import JavaJarServer

from pipeline.config import ConfigError
from pipeline.local.preflight import check_beam_args


def serve(overview: dict | None) -> Iterator[str]:
    """HOST:PORT of a server whose /overview is `overview` as JSON (None: 404 for every path)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if overview is None or self.path != "/overview":
                self.send_error(404)
                return
            body = json.dumps(overview).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def flink_master() -> Iterator[str]:
    yield from serve({"taskmanagers": 1, "slots-total": 2, "flink-version": "1.18.1"})


@pytest.fixture
def job_server_jar(tmp_path: Path) -> Path:
    jar = tmp_path / "beam-runners-flink-1.18-job-server-2.59.0.jar"
    jar.write_bytes(b"PK")
    return jar


@pytest.fixture
def empty_jar_cache(tmp_path: Path, monkeypatch) -> None:
    """Beam's jar cache (~/.apache_beam/cache/jars) without the job server in it."""
    monkeypatch.setattr(JavaJarServer, "JAR_CACHE", str(tmp_path / "jars"))


def unused_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


def flink_args(master: str, *more: str) -> list[str]:
    return ["--runner=FlinkRunner", f"--flink_master={master}", *more]


def test_a_cluster_and_a_job_server_jar_pass(flink_master, job_server_jar):
    check_beam_args(flink_args(flink_master, f"--flink_job_server_jar={job_server_jar}"))


def test_a_running_job_server_and_worker_pool_pass(flink_master):
    with socket.socket() as job_server, socket.socket() as worker_pool:
        for listening in (job_server, worker_pool):
            listening.bind(("127.0.0.1", 0))
            listening.listen()
        check_beam_args(
            flink_args(
                flink_master,
                f"--job_endpoint=127.0.0.1:{job_server.getsockname()[1]}",
                "--environment_type=EXTERNAL",
                f"--environment_config=127.0.0.1:{worker_pool.getsockname()[1]}",
            )
        )


def test_a_master_where_nothing_listens_is_refused(job_server_jar):
    master = unused_address()
    with pytest.raises(ConfigError, match=rf"--flink_master={master}: no Flink REST API answers there \("):
        check_beam_args(flink_args(master, f"--flink_job_server_jar={job_server_jar}"))


def test_a_master_that_is_not_flink_is_refused(job_server_jar):
    for master in serve(None):
        with pytest.raises(ConfigError, match=rf"--flink_master={master} answers HTTP 404, not as Flink's REST API"):
            check_beam_args(flink_args(master, f"--flink_job_server_jar={job_server_jar}"))
    for master in serve({"status": "ok"}):
        with pytest.raises(ConfigError, match="answers, but not as Flink's REST API"):
            check_beam_args(flink_args(f"http://{master}", f"--flink_job_server_jar={job_server_jar}"))


def test_a_cluster_of_another_flink_version_than_the_job_servers_is_refused(job_server_jar):
    for master in serve({"flink-version": "1.17.2"}):
        with pytest.raises(ConfigError, match=r"runs Flink 1\.17\.2, but the job server is for Flink 1\.18"):
            check_beam_args(flink_args(master, f"--flink_job_server_jar={job_server_jar}"))


def test_a_missing_job_server_jar_is_refused(flink_master, tmp_path):
    missing = tmp_path / "nowhere.jar"
    with pytest.raises(ConfigError, match=f"--flink_job_server_jar={missing}: no such file"):
        check_beam_args(flink_args(flink_master, f"--flink_job_server_jar={missing}"))


def test_no_job_server_at_all_is_refused_rather_than_downloaded_mid_run(flink_master, empty_jar_cache):
    with pytest.raises(ConfigError) as refused:
        check_beam_args(flink_args(flink_master))
    message = str(refused.value)
    assert "beam-runners-flink-1.18-job-server-2.59.0.jar in the middle of the run" in message
    assert "--flink_job_server_jar=PATH or --job_endpoint=HOST:PORT" in message
    assert "\n" not in message


def test_beams_cached_download_of_the_job_server_passes(flink_master, empty_jar_cache):
    cache = Path(JavaJarServer.JAR_CACHE)
    cache.mkdir()
    (cache / "beam-runners-flink-1.18-job-server-2.59.0.jar").write_bytes(b"PK")
    check_beam_args(flink_args(flink_master))


def test_a_job_endpoint_or_worker_pool_where_nothing_listens_is_refused(flink_master, job_server_jar):
    nothing = unused_address()
    with pytest.raises(ConfigError, match=f"--job_endpoint={nothing}: nothing answers there"):
        check_beam_args(flink_args(flink_master, f"--job_endpoint={nothing}"))
    with pytest.raises(ConfigError, match=f"--environment_config={nothing}: nothing answers there"):
        check_beam_args(
            flink_args(
                flink_master,
                f"--flink_job_server_jar={job_server_jar}",
                "--environment_type=EXTERNAL",
                f"--environment_config={nothing}",
            )
        )


def test_beams_own_flink_needs_no_cluster(empty_jar_cache, job_server_jar):
    """[auto] and [local]: Beam starts Flink inside its job server; only the job server is checked."""
    check_beam_args(flink_args("[auto]", f"--flink_job_server_jar={job_server_jar}"))
    with pytest.raises(ConfigError, match="needs Beam's Flink job server"):
        check_beam_args(flink_args("[local]"))
