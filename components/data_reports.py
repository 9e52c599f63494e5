"""What the data validators wrote, read without TensorFlow: each split's statistics, and the
anomalies in words. DataGate words its error with them; the run report shows them.

TFX's readers (stats_artifact_utils, TFDV's anomalies_util) import TensorFlow to open one
binary proto per split; tensorflow_metadata's protos and components/files.py are enough.
"""

from __future__ import annotations

import os
from typing import Any

from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from components import files

STATISTICS_FILE = "FeatureStats.pb"  # StatisticsGen's (stats_artifact_utils.BINARY_PB_BASENAME)
ANOMALIES_FILE = "SchemaDiff.pb"  # ExampleValidator's, and so SplitValidator's


def statistics(artifact_uri: str, split: str) -> statistics_pb2.DatasetFeatureStatistics:
    """The statistics StatisticsGen wrote for one split."""
    with files.open(os.path.join(files.split_uri(artifact_uri, split), STATISTICS_FILE), "rb") as stats:
        return statistics_pb2.DatasetFeatureStatisticsList.FromString(stats.read()).datasets[0]


def describe_anomalies(artifact_uri: str, splits: list[str], check: str) -> list[str]:
    """One line per anomaly: `split 'S', feature 'F' (check): description`."""
    lines = []
    for split in splits:
        with files.open(os.path.join(files.split_uri(artifact_uri, split), ANOMALIES_FILE), "rb") as report_file:
            report = anomalies_pb2.Anomalies.FromString(report_file.read())
        for feature, info in sorted(report.anomaly_info.items()):
            lines.append(f"split '{split}', feature '{feature}' ({check}): {_text(info)}")
        if report.HasField("dataset_anomaly_info"):
            lines.append(f"split '{split}', whole dataset ({check}): {_text(report.dataset_anomaly_info)}")
    return lines


def _text(info: Any) -> str:
    return " / ".join(reason.description or reason.short_description for reason in info.reason) or info.description
