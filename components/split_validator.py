"""SplitValidator: compares each split's statistics with the baseline split's (train).

ExampleValidator checks each split against the schema on its own; it cannot tell that the
test split's mix of digits differs from train's. This component runs TFDV's drift
comparators (the schema's `drift_comparator` entries) between every split and the baseline
and writes the result as an ExampleAnomalies artifact, one SchemaDiff.pb per split.
"""

import os

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils, writer_utils

from components.data_reports import ANOMALIES_FILE


@component
def SplitValidator(
    statistics: InputArtifact[standard_artifacts.ExampleStatistics],
    schema: InputArtifact[standard_artifacts.Schema],
    anomalies: OutputArtifact[standard_artifacts.ExampleAnomalies],
    code_sha256: Parameter[str],
    baseline_split: Parameter[str] = "train",
) -> None:
    """Writes, for every split but the baseline, the drift anomalies against the baseline.

    `code_sha256` is the hash of this code, for TFX's cache key."""
    schema_proto = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema.uri))
    baseline = stats_artifact_utils.load_statistics(statistics, baseline_split).proto()
    splits = [s for s in artifact_utils.decode_split_names(statistics.split_names) if s != baseline_split]
    blessed = {}
    for split in splits:
        current = stats_artifact_utils.load_statistics(statistics, split).proto()
        drift = drift_anomalies(tfdv.validate_statistics(current, schema_proto, previous_statistics=baseline))
        writer_utils.write_anomalies(os.path.join(anomalies.uri, f"Split-{split}", ANOMALIES_FILE), drift)
        blessed[split] = 0 if drift.anomaly_info else 1
    anomalies.split_names = artifact_utils.encode_split_names(splits)
    anomalies.set_json_value_custom_property("blessed", blessed)  # as ExampleValidator does
    anomalies.set_string_custom_property("baseline_split", baseline_split)


def drift_anomalies(anomalies: anomalies_pb2.Anomalies) -> anomalies_pb2.Anomalies:
    """Keeps only the comparator (drift/skew) findings, reason by reason; the schema checks are
    ExampleValidator's, and DataGate would report them twice."""
    comparator_types = {
        value for name, value in anomalies_pb2.AnomalyInfo.Type.items() if name.startswith("COMPARATOR_")
    }
    kept = anomalies_pb2.Anomalies()
    kept.CopyFrom(anomalies)
    for feature, info in anomalies.anomaly_info.items():
        drift = [reason for reason in info.reason if reason.type in comparator_types]
        if drift:
            del kept.anomaly_info[feature].reason[:]
            kept.anomaly_info[feature].reason.extend(drift)
        else:
            del kept.anomaly_info[feature]
    kept.ClearField("dataset_anomaly_info")
    return kept
