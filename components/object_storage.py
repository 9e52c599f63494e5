"""s3:// for TensorFlow (AWS S3 and S3-compatible stores such as SeaweedFS and MinIO).

TensorFlow opens gs:// by itself; s3:// comes from tensorflow-io's filesystem plugin, which
importing tensorflow_io registers. Beam opens s3:// with boto3 (apache-beam[aws]). Both take
the standard AWS settings (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, or a role),
and one endpoint setting serves both: the AWS SDKs' AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL),
e.g. http://seaweedfs.kubeflow:9000 (what KFP installs from 2.15), which boto3 reads and enable_s3
hands to tensorflow-io. A process that used s3:// must end through
components/workarounds.py exit_process (tensorflow-io aborts it otherwise).
"""

from __future__ import annotations

import os

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
