"""components/data_reports.py: the validators' statistics and anomalies, read as TFDV writes them."""

from __future__ import annotations

import os

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tfx.utils import writer_utils

from components import data_reports


def test_statistics_of_a_split_as_tfdv_reads_them(tmp_path):
    """StatisticsGen writes one serialized DatasetFeatureStatisticsList (TFDV's
    WriteStatisticsToBinaryFile); what is read is what TFDV's own reader gives."""
    written = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = written.datasets.add(num_examples=55_000)
    dataset.features.add().path.step.append("label")
    path = tmp_path / "Split-train" / data_reports.STATISTICS_FILE
    path.parent.mkdir()
    path.write_bytes(written.SerializeToString())
    read = data_reports.statistics(str(tmp_path), "train")
    assert read == tfdv.load_stats_binary(str(path)).datasets[0]
    assert read.num_examples == 55_000 and read.features[0].path.step == ["label"]


def test_anomalies_in_words(tmp_path):
    report = anomalies_pb2.Anomalies()
    report.anomaly_info["label"].reason.add(description="Unexpected value 11")
    report.anomaly_info["image"].reason.add(short_description="Missing feature")
    report.dataset_anomaly_info.description = "Too few examples"
    writer_utils.write_anomalies(os.path.join(tmp_path, "Split-test", data_reports.ANOMALIES_FILE), report)
    writer_utils.write_anomalies(
        os.path.join(tmp_path, "Split-train", data_reports.ANOMALIES_FILE), anomalies_pb2.Anomalies()
    )
    assert data_reports.describe_anomalies(str(tmp_path), ["train", "test"], "schema") == [
        "split 'test', feature 'image' (schema): Missing feature",
        "split 'test', feature 'label' (schema): Unexpected value 11",
        "split 'test', whole dataset (schema): Too few examples",
    ]
