"""RunReport: the last task of a Kubeflow run writes what a local run shows, in the form the KFP UI shows.

KFP's UI picks what it draws by the MLMD type of a task's output artifact
(kubeflow/pipelines frontend/src/components/viewers/MetricsVisualizations.tsx): `system.HTML`
is the page at the artifact's URI, shown in the run view (so the page is written to the URI
itself, one object, not into a folder: the UI reads `artifacts/get` of that key, and of a folder
it would get a tarball); `system.Metrics` is a table of the artifact's numeric custom
properties, also compared across runs; `system.ClassificationMetrics` draws its
`confusionMatrix` property ({annotationSpecs: [{displayName}], rows: [{row: [...]}]}, as
the KFP SDK's ClassificationMetrics writes it). TFX's own types are shown as plain links.

The page is the local run page (pipeline/inspect/run_page/), gathered the same way: from the run's
records in ML Metadata, which a KFP task reaches where KFP's launcher does, at the metadata
gRPC service that KFP's `metadata-grpc-configmap` names to every task
(backend/src/v2/compiler/argocompiler/common.go metadataEnvFrom). The run is the one whose id KFP
substitutes for `{{$.pipeline_job_uuid}}` (backend/src/v2/driver/resolve.go resolveInputParameter).
Vertex AI keeps its metadata elsewhere, so the task is compiled into KFP's spec only
(pipeline/kubeflow/compiler.py).

These artifact types are not TFX's: the task command (pipeline/kubeflow/task.py) registers them,
since TFX's entrypoint imports an artifact's class by its schema title.
"""

import os

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact, standard_artifacts

from components import files
from components.errors import PipelineError
from pipeline import node_ids
from pipeline.inspect import runs
from pipeline.inspect import store as mlmd
from pipeline.inspect.run_page import page
from pipeline.inspect.run_page.data import RunPage, gather

RUN_ID_PLACEHOLDER = "{{$.pipeline_job_uuid}}"  # what KFP's driver replaces with the run's id
# KFP's metadata-grpc-configmap (manifests/kustomize/base/metadata/base/metadata-grpc-configmap.yaml),
# given to every task's container.
METADATA_HOST_VARIABLE = "METADATA_GRPC_SERVICE_HOST"
METADATA_PORT_VARIABLE = "METADATA_GRPC_SERVICE_PORT"
CONFUSION_MATRIX_PROPERTY = "confusionMatrix"  # the property KFP's UI draws


class HTML(artifact.Artifact):
    """A page the KFP UI shows (and Vertex AI's): the file at the artifact's URI."""

    TYPE_NAME = "system.HTML"


class Metrics(artifact.Artifact):
    """Scalars the KFP UI tabulates and compares across runs: the artifact's custom properties."""

    TYPE_NAME = "system.Metrics"


class ClassificationMetrics(artifact.Artifact):
    """A confusion matrix the KFP UI draws, in the custom property `confusionMatrix`."""

    TYPE_NAME = "system.ClassificationMetrics"


# Registered by the task command for TFX's entrypoint (title -> class path).
UI_ARTIFACT_CLASSES = {cls.TYPE_NAME: f"{__name__}.{cls.__name__}" for cls in (HTML, Metrics, ClassificationMetrics)}


class ReportError(PipelineError):
    """The run's records cannot be read."""


@component
def RunReport(
    test_evaluation: InputArtifact[standard_artifacts.ModelEvaluation],
    pushed_model: InputArtifact[standard_artifacts.PushedModel],
    report_page: OutputArtifact[HTML],
    metrics: OutputArtifact[Metrics],
    confusion_matrix: OutputArtifact[ClassificationMetrics],
    run_id: Parameter[str],
) -> None:
    """Writes the run's report page, its Precision@1 per split and its test confusion matrix.

    The inputs are what the report describes last (it runs when both are there); the figures
    come from the run's records, like the local report's.
    """
    store = _metadata_store()
    data = gather(runs.load(store, _run_context(store, run_id), leave_out=node_ids.REPORT), log_path=None)
    with files.open(report_page.uri, "w") as written:
        written.write(page.render(data))
    for name, value in precision_at_1(data).items():
        metrics.set_float_custom_property(name, value)
    if data.confusion_matrix:
        confusion_matrix.set_json_value_custom_property(CONFUSION_MATRIX_PROPERTY, kfp_confusion_matrix(data))


def precision_at_1(data: RunPage) -> dict[str, float]:
    """Precision@1 per split as the run summary has it: the Evaluators' on validation and test,
    the Trainer's on train (no Evaluator reads it), named `<split>_precision_at_1`."""
    summary = data.summary
    figures = {split: figure.precision_at_1 for split, figure in summary.trainer_precision_at_1.items()}
    figures.update({split: figure.precision_at_1 for split, figure in summary.evaluation.items()})
    return {f"{split}_precision_at_1": value for split, value in figures.items()}


def kfp_confusion_matrix(data: RunPage) -> dict:
    """The test Evaluator's confusion matrix as KFP's UI reads it (ConfusionMatrixInputRunType)."""
    return {
        "annotationSpecs": [{"displayName": str(digit)} for digit in range(len(data.confusion_matrix))],
        "rows": [{"row": row} for row in data.confusion_matrix],
    }


def _metadata_store() -> metadata_store.MetadataStore:
    host, port = os.environ.get(METADATA_HOST_VARIABLE), os.environ.get(METADATA_PORT_VARIABLE)
    if not host or not port:
        raise ReportError(
            f"{METADATA_HOST_VARIABLE} / {METADATA_PORT_VARIABLE} are not set: the report reads the run from "
            "KFP's metadata service, which KFP names to every task through its metadata-grpc-configmap"
        )
    return mlmd.open_grpc_store(host, int(port))


def _run_context(store: metadata_store.MetadataStore, run_id: str) -> metadata_store_pb2.Context:
    if run_id == RUN_ID_PLACEHOLDER:
        raise ReportError(f"run_id is still {RUN_ID_PLACEHOLDER}: the backend did not substitute the run's id")
    run = mlmd.find_run_context(store, run_id)
    if run is None:
        raise ReportError(f"run {run_id}: not in the metadata service")
    return run
