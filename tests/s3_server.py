"""A local S3 server (moto) for the object-storage tests, in a process of its own.

Its own process, because TensorFlow's S3 client holds the GIL while it waits for an answer:
a server thread in the same process would never get to answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3

BUCKET = "mnist"  # the end-to-end tests' bucket (tests/e2e/conftest.py)
SERVER_SCRIPT = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # until the test closes stdin
"""


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        """The settings a process needs to use this server: credentials and the endpoint."""
        return {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": self.endpoint,
        }

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def upload_dir(self, directory: Path, bucket: str, prefix: str) -> None:
        for path in sorted(directory.iterdir()):
            self.client().upload_file(str(path), bucket, f"{prefix}/{path.name}")

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


@contextmanager
def serve_s3() -> Iterator[S3Server]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield S3Server(f"http://127.0.0.1:{int(process.stdout.readline())}")
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def environment_with(server: S3Server) -> dict[str, str]:
    """This process's environment plus the server's settings, for a subprocess."""
    return {**os.environ, **server.env}
