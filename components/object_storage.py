"""s3:// for TensorFlow (AWS S3 and S3-compatible stores such as SeaweedFS and MinIO), and the exit it needs.

TensorFlow opens gs:// by itself; s3:// comes from tensorflow-io's filesystem plugin, which
importing tensorflow_io registers. Beam opens s3:// with boto3 (apache-beam[aws]). Both take
the standard AWS settings (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, or a role),
and one endpoint setting serves both: the AWS SDKs' AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL),
e.g. http://seaweedfs.kubeflow:9000 (what KFP installs from 2.15), which boto3 reads and enable_s3
hands to tensorflow-io.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn

# Every Beam worker process imports components/beam_worker.py (named, not imported here:
# importing it changes how the process exits).
BEAM_WORKER_PLUGIN_ARG = "--beam_plugin=components.beam_worker"
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")  # what boto3 reads, in its order
TENSORFLOW_IO_ENDPOINT = "S3_ENDPOINT"  # what tensorflow-io reads


def is_uri(path: str) -> bool:
    """True for gs://BUCKET/..., s3://BUCKET/... and other URIs; False for local paths."""
    return "://" in path


def enable_s3() -> None:
    """Registers s3:// with tf.io.gfile (and so with TFX's fileio). Cheap once TensorFlow is imported."""
    endpoint = next((os.environ[name] for name in ENDPOINT_VARIABLES if os.environ.get(name)), None)
    if endpoint:
        os.environ.setdefault(TENSORFLOW_IO_ENDPOINT, endpoint)  # inherited by Beam's worker processes
    import tensorflow_io  # noqa: F401  (the import registers the filesystems)


def exit_process(code: int) -> NoReturn:
    """Ends the process with `code`; once tensorflow-io is loaded, without C++ static destructors.

    After any s3:// access, tensorflow-io 0.37.1 aborts the process at exit ("pure virtual
    method called", exit code 134; tensorflow/io#2039): its AWS client outlives the AWS SDK's
    logger. Python's own exit work (atexit handlers, logging's among them; stdio) still runs first.
    """
    if "tensorflow_io" not in sys.modules:
        sys.exit(code)
    atexit._run_exitfuncs()  # what interpreter shutdown would run; os._exit does not
    exit_now(code)


def exit_now(code: int) -> NoReturn:
    """Flushes stdout and stderr and ends the process at once: no atexit, no C++ destructors."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
