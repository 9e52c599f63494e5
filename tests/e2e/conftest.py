"""Fixtures of the end-to-end tests: one local S3 server, holding the synthetic MNIST files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from s3_server import BUCKET, S3Server, serve_s3


@pytest.fixture(scope="session")
def s3(fake_mnist_dir: Path) -> Iterator[S3Server]:
    """A local S3 server whose bucket BUCKET holds the synthetic IDX files under data/; each test
    module writes under a prefix of its own."""
    with serve_s3() as server:
        server.client().create_bucket(Bucket=BUCKET)
        server.upload_dir(fake_mnist_dir, BUCKET, "data")
        yield server
