# The image every task of the compiled pipeline runs (kubeflow.image): the official TFX 1.16
# image with this project at /pipeline. `make image` builds it, `make push-image` pushes it.
# Its entrypoint stays the base's Beam SDK boot, so Dataflow or Flink workers can run it too;
# the compiled spec gives each task's command (python -m pipeline.kubeflow.task).
FROM tensorflow/tfx:1.16.0

# A user to run as. The KFP launcher writes input artifacts under /gcs, /minio and /s3,
# which a non-root user cannot create at the root.
RUN useradd --no-log-init --create-home --uid 10001 --user-group pipeline \
    && mkdir -p /gcs /minio /s3 \
    && chown pipeline:pipeline /gcs /minio /s3

WORKDIR /pipeline
ENV PYTHONPATH=/pipeline \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The venv's pinned versions without its test tools (tests/pipeline/kubeflow/test_compiler.py checks).
COPY requirements.lock ./
RUN python -m pip install --no-cache-dir --requirement requirements.lock

COPY configs ./configs
COPY components ./components
COPY pipeline ./pipeline
# The schemas under their content hash, where the compiled spec names them; importing the
# task command and the DAG also proves that the project imports in the image.
RUN python -m pipeline.schema_staging /pipeline/schemas \
    && python -c "import pipeline.kubeflow.task, pipeline.pipeline"

USER 10001
