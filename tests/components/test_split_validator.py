"""components/split_validator.py: each split's label mix against train's, as ExampleAnomalies.

The executor runs on statistics that TFDV computes from a few labels (no pipeline)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.types import standard_artifacts
from tfx.utils import io_utils

from components.data_reports import ANOMALIES_FILE
from components.split_validator import SplitValidator, drift_anomalies

from conftest import REPO_ROOT
from support.fake_artifacts import artifact

SCHEMA = tfdv.load_schema_text(str(REPO_ROOT / "configs" / "schema.pbtxt"))
BALANCED = np.arange(100) % 10
SKEWED = np.where(np.arange(100) < 30, 1, BALANCED)  # 1 is 37% of the labels instead of 10%
Type = anomalies_pb2.AnomalyInfo.Type


def statistics_of(labels: np.ndarray):
    return tfdv.generate_statistics_from_dataframe(pd.DataFrame({"label": labels}), tfdv.StatsOptions(schema=SCHEMA))


def reason_types(anomalies: anomalies_pb2.Anomalies) -> dict[str, list[str]]:
    return {
        feature: [Type.Name(reason.type) for reason in info.reason] for feature, info in anomalies.anomaly_info.items()
    }


def validate(tmp_path, splits: dict[str, np.ndarray]):
    """Runs the executor on statistics of `splits` (name -> labels); returns its anomalies artifact."""
    statistics = artifact(standard_artifacts.ExampleStatistics, tmp_path / "statistics", split_names=list(splits))
    for split, labels in splits.items():
        io_utils.write_bytes_file(
            os.path.join(statistics.uri, f"Split-{split}", "FeatureStats.pb"), statistics_of(labels).SerializeToString()
        )
    schema = artifact(standard_artifacts.Schema, tmp_path / "schema")
    io_utils.write_pbtxt_file(os.path.join(schema.uri, "schema.pbtxt"), SCHEMA)
    anomalies = artifact(standard_artifacts.ExampleAnomalies, tmp_path / "anomalies")
    SplitValidator.EXECUTOR_SPEC.executor_class().Do(
        {"statistics": [statistics], "schema": [schema]},
        {"anomalies": [anomalies]},
        {"code_sha256": "x", "baseline_split": "train"},
    )
    return anomalies


def written(anomalies, split: str) -> anomalies_pb2.Anomalies:
    report = anomalies_pb2.Anomalies()
    report.ParseFromString(io_utils.read_bytes_file(os.path.join(anomalies.uri, f"Split-{split}", ANOMALIES_FILE)))
    return report


def test_a_split_whose_label_mix_drifted_from_train_is_reported(tmp_path):
    anomalies = validate(tmp_path, {"train": BALANCED, "validation": BALANCED, "test": SKEWED})
    assert anomalies.split_names == '["validation", "test"]'  # every split but the baseline
    assert anomalies.get_json_value_custom_property("blessed") == {"validation": 1, "test": 0}
    assert anomalies.get_string_custom_property("baseline_split") == "train"
    assert reason_types(written(anomalies, "test")) == {"label": ["COMPARATOR_L_INFTY_HIGH"]}
    assert reason_types(written(anomalies, "validation")) == {}


def test_drift_anomalies_keeps_only_comparator_findings():
    # The statistics have no image column: a schema finding, which is ExampleValidator's to report.
    found = tfdv.validate_statistics(statistics_of(SKEWED), SCHEMA, previous_statistics=statistics_of(BALANCED))
    assert reason_types(found) == {"image": ["SCHEMA_MISSING_COLUMN"], "label": ["COMPARATOR_L_INFTY_HIGH"]}
    kept = drift_anomalies(found)
    assert reason_types(kept) == {"label": ["COMPARATOR_L_INFTY_HIGH"]}
    assert not kept.HasField("dataset_anomaly_info")
    assert reason_types(found)["image"]  # the input is left as it was


def test_drift_anomalies_drops_the_dataset_level_finding():
    found = anomalies_pb2.Anomalies()
    found.dataset_anomaly_info.reason.add(type=Type.DATASET_LOW_NUM_EXAMPLES)
    assert not drift_anomalies(found).HasField("dataset_anomaly_info")


def test_a_feature_with_a_schema_and_a_drift_finding_keeps_only_the_drift():
    # What TFDV reports for a test split with labels 12 (above the schema's 9) that also drifted.
    found = anomalies_pb2.Anomalies()
    found.anomaly_info["label"].reason.add(type=Type.INT_TYPE_BIG_INT, description="Unexpectedly large value: 12.")
    found.anomaly_info["label"].reason.add(type=Type.COMPARATOR_L_INFTY_HIGH, description="The Linfty distance ...")
    assert reason_types(drift_anomalies(found)) == {"label": ["COMPARATOR_L_INFTY_HIGH"]}
