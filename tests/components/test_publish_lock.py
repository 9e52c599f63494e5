"""components/publish_lock.py: one publish at a time on a local serving dir and on s3://."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from components import publish_lock
from components.publish_lock import LOCK_NAME, PublishLock, PublishLockTimeout, describe

from support.s3_server import S3Server, serve_s3


def test_a_second_publisher_waits_then_gives_up_naming_the_holder(tmp_path):
    with PublishLock(str(tmp_path)) as held:
        started = time.monotonic()
        with pytest.raises(PublishLockTimeout, match=rf"another push \({describe(held.holder)}\) held the serving dir"):
            with PublishLock(str(tmp_path), timeout_seconds=0.6):
                pass
        assert time.monotonic() - started >= 0.6
    with PublishLock(str(tmp_path), timeout_seconds=0.1):  # released: free at once
        pass


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with serve_s3() as server:
        yield server


@pytest.fixture
def bucket(s3, monkeypatch):
    """A bucket on the tests' S3 server (MinIO: tests/support/s3_server.py); boto3 finds the server through
    the environment, as the pushers' processes would find theirs."""
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    client = s3.client()
    client.create_bucket(Bucket="models")
    yield client
    for found in client.list_objects_v2(Bucket="models").get("Contents", []):
        client.delete_object(Bucket="models", Key=found["Key"])
    client.delete_bucket(Bucket="models")


def test_on_s3_the_lease_is_one_object_created_only_if_none_exists(bucket):
    with PublishLock("s3://models/serving"):
        lease = json.loads(bucket.get_object(Bucket="models", Key=f"serving/{LOCK_NAME}")["Body"].read())
        with pytest.raises(PublishLockTimeout, match="another push .* held the serving dir"):
            with PublishLock("s3://models/serving", timeout_seconds=0.6):
                pass
    assert bucket.list_objects_v2(Bucket="models").get("KeyCount") == 0  # released
    assert set(lease) == {"host", "pid", "since"}


@pytest.mark.parametrize(
    "dead",
    [
        {"host": "a pod that was killed", "pid": 1, "since": time.time() - publish_lock.LEASE_SECONDS - 1},
        {
            "host": socket.gethostname(),
            "pid": 2**22 + 1,
            "since": time.time(),
        },  # a process of this machine that is gone
    ],
)
def test_on_s3_a_dead_holders_lease_is_replaced(bucket, dead):
    bucket.put_object(Bucket="models", Key=f"serving/{LOCK_NAME}", Body=json.dumps(dead).encode())
    with PublishLock("s3://models/serving", timeout_seconds=5) as held:
        lease = json.loads(bucket.get_object(Bucket="models", Key=f"serving/{LOCK_NAME}")["Body"].read())
        assert {key: lease[key] for key in ("host", "pid")} == held.holder


def test_on_s3_a_live_holders_recent_lease_is_waited_for(bucket):
    alive = {"host": "another machine", "pid": 1, "since": time.time()}
    bucket.put_object(Bucket="models", Key=f"serving/{LOCK_NAME}", Body=json.dumps(alive).encode())
    with pytest.raises(PublishLockTimeout, match="another push \\(another machine pid 1, since"):
        with PublishLock("s3://models/serving", timeout_seconds=0.6):
            pass
