"""The serving dir's lock: one publish at a time, however many processes or machines push there.

Locally an flock on `<serving dir>/.publish.lock`, which the kernel releases when its holder
dies. On object storage a lease: an object created only if none exists (S3's conditional write,
`If-None-Match: *`; GCS's `ifGenerationMatch=0`), naming who took it and when, deleted on
release. A lease whose holder was a process of this machine that is gone, or older than
LEASE_SECONDS (a pod that was killed), is taken to be a dead holder's and replaced.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import time
from typing import IO, Any

from components.errors import PipelineError

LOCK_NAME = ".publish.lock"
LEASE_SECONDS = 15 * 60
POLL_SECONDS = 0.5

log = logging.getLogger(__name__)


class PublishLockTimeout(PipelineError):
    """Another push held the serving dir for longer than we wait."""


class PublishLock:
    """`with PublishLock(serving_dir):` publish. Waits up to `timeout_seconds` for another push."""

    def __init__(self, serving_dir: str, timeout_seconds: float = 10 * 60):
        self.serving_dir = serving_dir
        self.timeout_seconds = timeout_seconds
        self.holder = {"host": socket.gethostname(), "pid": os.getpid()}
        self._store: Any = None

    def __enter__(self) -> PublishLock:
        scheme, _, path = self.serving_dir.partition("://") if "://" in self.serving_dir else ("", "", self.serving_dir)
        self._store = {"": _LocalLock, "s3": _S3Lease, "gs": _GcsLease}[scheme](path, self.holder)
        deadline, waiting = time.monotonic() + self.timeout_seconds, False
        while not self._store.try_acquire():
            if not waiting:
                log.info("Waiting for another push to %s (%s)", self.serving_dir, self._store.describe_holder())
                waiting = True
            if time.monotonic() > deadline:
                raise PublishLockTimeout(
                    f"{self.serving_dir}: another push ({self._store.describe_holder()}) held the serving dir for "
                    f"more than {self.timeout_seconds:.0f} s; run again once it ended"
                )
            time.sleep(POLL_SECONDS)
        return self

    def __exit__(self, *exc_info) -> None:
        self._store.release()


def describe(holder: dict) -> str:
    since = f", since {time.ctime(holder['since'])}" if "since" in holder else ""
    return f"{holder['host']} pid {holder['pid']}{since}"


def is_dead(lease: dict) -> bool:
    """A lease of a process of this machine that is gone, or older than LEASE_SECONDS."""
    if time.time() - lease["since"] > LEASE_SECONDS:
        return True
    if lease["host"] != socket.gethostname():
        return False
    try:
        os.kill(lease["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class _LocalLock:
    def __init__(self, serving_dir: str, holder: dict):
        os.makedirs(serving_dir, exist_ok=True)
        self._path = os.path.join(serving_dir, LOCK_NAME)
        self._holder = describe(holder)
        self._file: IO[str] | None = None

    def try_acquire(self) -> bool:
        lock_file = open(self._path, "a+")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            lock_file.close()
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            return False
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(self._holder)
        lock_file.flush()
        self._file = lock_file
        return True

    def describe_holder(self) -> str:
        with open(self._path) as lock_file:
            return lock_file.read().strip() or "another process"

    def release(self) -> None:
        assert self._file is not None
        fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file.close()


class _S3Lease:
    def __init__(self, path: str, holder: dict):
        import boto3  # the AWS settings and endpoint come from the environment, as for tensorflow-io

        self._client = boto3.client("s3")
        self._bucket, _, prefix = path.partition("/")
        self._key = f"{prefix.rstrip('/')}/{LOCK_NAME}".lstrip("/")
        self._body = json.dumps({**holder, "since": time.time()})

    def try_acquire(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.put_object(Bucket=self._bucket, Key=self._key, Body=self._body.encode(), IfNoneMatch="*")
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise
        lease = self._lease()
        if lease and is_dead(lease):
            log.info("Replacing the lease of a push that died (%s)", describe(lease))
            self._client.delete_object(Bucket=self._bucket, Key=self._key)
        return False

    def _lease(self) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return json.loads(self._client.get_object(Bucket=self._bucket, Key=self._key)["Body"].read())
        except ClientError:  # released meanwhile
            return None

    def describe_holder(self) -> str:
        lease = self._lease()
        return describe(lease) if lease else "released"

    def release(self) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=self._key)


class _GcsLease:
    def __init__(self, path: str, holder: dict):
        from google.cloud import storage

        bucket, _, prefix = path.partition("/")
        self._blob = storage.Client().bucket(bucket).blob(f"{prefix.rstrip('/')}/{LOCK_NAME}".lstrip("/"))
        self._body = json.dumps({**holder, "since": time.time()})

    def try_acquire(self) -> bool:
        from google.api_core.exceptions import NotFound, PreconditionFailed

        try:
            self._blob.upload_from_string(self._body, if_generation_match=0)
            return True
        except PreconditionFailed:
            pass
        try:
            self._blob.reload()
            lease = json.loads(self._blob.download_as_bytes(if_generation_match=self._blob.generation))
            if is_dead(lease):
                log.info("Replacing the lease of a push that died (%s)", describe(lease))
                self._blob.delete(if_generation_match=self._blob.generation)  # only the lease that was read
        except (NotFound, PreconditionFailed):  # released or replaced meanwhile
            pass
        return False

    def describe_holder(self) -> str:
        try:
            return describe(json.loads(self._blob.download_as_bytes()))
        except Exception:  # noqa: BLE001 - only for a message
            return "released"

    def release(self) -> None:
        self._blob.delete()
