"""DataGate: stops the run before training when a data validator found anomalies.

TFX's validators only write reports; nothing in TFX keeps the Trainer from running on
bad data. This component fails, naming each split, feature and anomaly, when either
report has one. The reports themselves are outputs of the validators and stay on disk.
When the data passed, it outputs the schema it was checked against: the Trainer consumes that
artifact, so validation stands on the lineage path of every model (MLMD and Kubeflow record
inputs and outputs, not ordering).
"""

from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact, artifact_utils, standard_artifacts
from tfx.utils import io_utils

from components import data_reports
from components.errors import PipelineError


class DataValidationError(PipelineError):
    """The data has anomalies; training must not start."""


@component
def DataGate(
    schema_anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    split_anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    schema: InputArtifact[standard_artifacts.Schema],
    validated_schema: OutputArtifact[standard_artifacts.Schema],
    code_sha256: Parameter[str],
) -> None:
    """Raises DataValidationError when either anomalies artifact reports anything; else passes
    the schema on. `code_sha256` is the hash of this code, for TFX's cache key."""
    findings = describe_anomalies(schema_anomalies, "schema") + describe_anomalies(split_anomalies, "label mix")
    if findings:
        raise DataValidationError(
            f"data validation failed, training not started: {'; '.join(findings)} "
            f"(reports: {schema_anomalies.uri}, {split_anomalies.uri})"
        )
    io_utils.copy_dir(schema.uri, validated_schema.uri)


def describe_anomalies(anomalies: artifact.Artifact, check: str) -> list[str]:
    """One line per anomaly: `split 'S', feature 'F' (check): description`."""
    return data_reports.describe_anomalies(
        anomalies.uri, artifact_utils.decode_split_names(anomalies.split_names), check
    )
