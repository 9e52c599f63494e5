"""components/data_gate.py: training never starts on data a validator found anomalies in; clean
data passes the schema on. The decorated component's executor is called directly."""

from __future__ import annotations

import os

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.types import standard_artifacts
from tfx.utils import writer_utils

from components.data_gate import DataGate, DataValidationError, describe_anomalies
from components.data_reports import ANOMALIES_FILE
from components.errors import PipelineError

from support.fake_artifacts import artifact, read_files, write_files

Type = anomalies_pb2.AnomalyInfo.Type


def anomalies_artifact(uri, findings: dict[str, anomalies_pb2.Anomalies]):
    """An ExampleAnomalies artifact with one report per split, as the validators write them."""
    made = artifact(standard_artifacts.ExampleAnomalies, uri, split_names=list(findings))
    for split, report in findings.items():
        writer_utils.write_anomalies(os.path.join(made.uri, f"Split-{split}", ANOMALIES_FILE), report)
    return made


def report(features: dict[str, list[tuple[str, str]]] | None = None, dataset: str | None = None):
    """An Anomalies proto: feature -> [(short description, description)], and a dataset finding."""
    made = anomalies_pb2.Anomalies()
    for feature, reasons in (features or {}).items():
        for short, description in reasons:
            made.anomaly_info[feature].reason.add(
                type=Type.UNKNOWN_TYPE, short_description=short, description=description
            )
    if dataset:
        made.dataset_anomaly_info.reason.add(type=Type.DATASET_LOW_NUM_EXAMPLES, description=dataset)
    return made


CLEAN = {"train": report(), "validation": report(), "test": report()}


def gate(tmp_path, schema_findings=CLEAN, split_findings=None):
    """Runs DataGate's executor; returns the validated_schema artifact."""
    schema = artifact(standard_artifacts.Schema, write_files(tmp_path / "schema", {"schema.pbtxt": b"feature {}"}))
    validated = artifact(standard_artifacts.Schema, tmp_path / "validated")
    DataGate.EXECUTOR_SPEC.executor_class().Do(
        {
            "schema_anomalies": [anomalies_artifact(tmp_path / "schema_anomalies", schema_findings)],
            "split_anomalies": [
                anomalies_artifact(
                    tmp_path / "split_anomalies", split_findings or {"validation": report(), "test": report()}
                )
            ],
            "schema": [schema],
        },
        {"validated_schema": [validated]},
        {"code_sha256": "x"},
    )
    return validated


def test_describe_anomalies_gives_one_line_per_split_and_feature(tmp_path):
    anomalies = anomalies_artifact(
        tmp_path,
        {
            "train": report({"label": [("Out of range", "Value 12 is above 9")], "image": [("Short", "")]}),
            "test": report(dataset="Too few examples"),
            "validation": report(),
        },
    )
    assert describe_anomalies(anomalies, "schema") == [
        "split 'train', feature 'image' (schema): Short",  # the short description when there is no long one
        "split 'train', feature 'label' (schema): Value 12 is above 9",
        "split 'test', whole dataset (schema): Too few examples",
    ]


def test_several_reasons_of_a_feature_are_joined(tmp_path):
    anomalies = anomalies_artifact(tmp_path, {"test": report({"label": [("a", "first"), ("b", "second")]})})
    assert describe_anomalies(anomalies, "label mix") == ["split 'test', feature 'label' (label mix): first / second"]


def test_clean_reports_describe_nothing(tmp_path):
    assert describe_anomalies(anomalies_artifact(tmp_path, CLEAN), "schema") == []


def test_clean_data_passes_the_schema_on(tmp_path):
    validated = gate(tmp_path)
    assert read_files(tmp_path / "validated") == {"schema.pbtxt": b"feature {}"}
    assert validated.uri == str(tmp_path / "validated")


def test_a_schema_anomaly_stops_training_naming_split_feature_and_reports(tmp_path):
    findings = {**CLEAN, "validation": report({"image": [("Bad", "Value count 783 below 784")]})}
    with pytest.raises(DataValidationError) as error:
        gate(tmp_path, schema_findings=findings)
    message = str(error.value)
    assert message.startswith("data validation failed, training not started: ")
    assert "split 'validation', feature 'image' (schema): Value count 783 below 784" in message
    assert str(tmp_path / "schema_anomalies") in message and str(tmp_path / "split_anomalies") in message
    assert isinstance(error.value, PipelineError)  # one line on the console, no traceback
    assert not (tmp_path / "validated").exists()


def test_a_drifted_label_mix_stops_training_too(tmp_path):
    drift = {"validation": report(), "test": report({"label": [("Drift", "Linfty distance 0.27 above 0.03")]})}
    with pytest.raises(DataValidationError, match=r"split 'test', feature 'label' \(label mix\): Linfty distance"):
        gate(tmp_path, split_findings=drift)
