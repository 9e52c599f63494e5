"""DataGate: stops the run before training when a data validator found anomalies.

TFX's validators only write reports; nothing in TFX keeps the Trainer from running on
bad data. This component fails, naming each split, feature and anomaly, when either
report has one. The reports themselves are outputs of the validators and stay on disk.
"""

import os

from tensorflow_data_validation.utils import anomalies_util
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact, artifact_utils, standard_artifacts

from components.errors import PipelineError
from components.split_validator import ANOMALIES_FILE


class DataValidationError(PipelineError):
    """The data has anomalies; training must not start."""


@component
def DataGate(
    schema_anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    split_anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
) -> None:
    """Raises DataValidationError when either anomalies artifact reports anything."""
    findings = describe_anomalies(schema_anomalies, "schema") + describe_anomalies(split_anomalies, "label mix")
    if findings:
        raise DataValidationError(
            f"data validation failed, training not started: {'; '.join(findings)} "
            f"(reports: {schema_anomalies.uri}, {split_anomalies.uri})"
        )


def describe_anomalies(anomalies: artifact.Artifact, check: str) -> list[str]:
    """One line per anomaly: `split 'S', feature 'F' (check): description`."""
    lines = []
    for split in artifact_utils.decode_split_names(anomalies.split_names):
        path = os.path.join(artifact_utils.get_split_uri([anomalies], split), ANOMALIES_FILE)
        report = anomalies_util.load_anomalies_binary(path)
        for feature, info in sorted(report.anomaly_info.items()):
            lines.append(f"split '{split}', feature '{feature}' ({check}): {_text(info)}")
        if report.HasField("dataset_anomaly_info"):
            lines.append(f"split '{split}', whole dataset ({check}): {_text(report.dataset_anomaly_info)}")
    return lines


def _text(info) -> str:
    return " / ".join(reason.description or reason.short_description for reason in info.reason) or info.description
