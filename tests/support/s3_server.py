"""A local S3 server for the object-storage tests: MinIO, the object store KFP installed before
2.15, built from the Go module pinned in tests/minio (`make minio`), in a process of its own.

Not SeaweedFS, what KFP installs from 2.15: the Go module proxy here refuses the release KFP
2.17.0 pins, and the releases it serves refuse the range TensorFlow's S3 filesystem reads a file
with (docs/tests.md). MinIO, like AWS S3, answers such a range with the whole object
(`cmd/object-handlers.go` GetObjectHandler: a range it cannot parse is ignored).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3

from support.flink_cluster import free_port

BUCKET = "mnist"  # the end-to-end tests' bucket (tests/e2e/conftest.py)
REPO_ROOT = Path(__file__).resolve().parents[2]
MINIO = REPO_ROOT / "build" / "minio" / "minio"  # `make minio` builds it
# KFP's own MinIO credentials (the mlpipeline-minio-artifact secret); MinIO wants 8 characters or more.
ACCESS_KEY, SECRET_KEY = "minio", "minio123"
READY_WITHIN_S = 60
STOP_WITHIN_S = 30


class MinioUnavailable(Exception):
    """The MinIO binary is missing or the server did not come up; the message says which."""


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        """The settings a process needs to use this server: credentials and the endpoint."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": self.endpoint,
        }

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def upload_dir(self, directory: Path, bucket: str, prefix: str) -> None:
        for path in sorted(directory.iterdir()):
            self.client().upload_file(str(path), bucket, f"{prefix}/{path.name}")

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


@contextmanager
def serve_s3() -> Iterator[S3Server]:
    """MinIO on a free port of 127.0.0.1 with an empty data dir, stopped (and its dir removed) at the end."""
    if not MINIO.is_file():
        raise MinioUnavailable(f"{MINIO} is missing: `make minio` builds it")
    with tempfile.TemporaryDirectory(prefix="minio-") as directory:
        endpoint = f"http://127.0.0.1:{free_port()}"
        log = Path(directory) / "minio.log"
        environment = {
            **os.environ,
            "MINIO_ROOT_USER": ACCESS_KEY,
            "MINIO_ROOT_PASSWORD": SECRET_KEY,
            "MINIO_BROWSER": "off",  # no console: only the S3 API
        }
        command = [str(MINIO), "server", str(Path(directory) / "data"), "--address", endpoint.removeprefix("http://")]
        with log.open("w") as out:
            process = subprocess.Popen(command, env=environment, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until_live(process, endpoint, log)
            yield S3Server(endpoint)
        finally:
            process.terminate()
            try:
                process.wait(timeout=STOP_WITHIN_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_live(process: subprocess.Popen, endpoint: str, log: Path) -> None:
    """Returns once MinIO's liveness probe answers; a server that exits or never answers is named with its log."""
    deadline = time.monotonic() + READY_WITHIN_S
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{endpoint}/minio/health/live", timeout=5):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    lines = log.read_text().splitlines()
    state = f"exited with {process.returncode}" if process.poll() is not None else f"not live in {READY_WITHIN_S} s"
    raise MinioUnavailable(f"MinIO at {endpoint} {state}: {lines[-1] if lines else 'no output'}")


def environment_with(server: S3Server) -> dict[str, str]:
    """This process's environment plus the server's settings, for a subprocess."""
    return {**os.environ, **server.env}
