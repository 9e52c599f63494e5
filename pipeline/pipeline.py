"""The one place the DAG is wired: create_pipeline(config, paths) -> tfx Pipeline.

IDX files -> IdxExampleGen -> StatisticsGen -> ExampleValidator + SplitValidator -> DataGate
-> Trainer -> Evaluator (validation: blessing; test: report) -> Pusher -> serving/<version>/
"""

from __future__ import annotations

from dataclasses import dataclass

from ml_metadata.proto import metadata_store_pb2
from tfx.components import ExampleValidator, StatisticsGen
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.orchestration import pipeline as tfx_pipeline

from components.data_gate import DataGate
from components.idx_example_gen.component import IdxExampleGen
from components.split_validator import SplitValidator
from pipeline.config import PipelineConfig
from pipeline.fingerprint import source_sha256


@dataclass(frozen=True)
class PipelinePaths:
    """Where a run reads and writes; local paths or gs:// / s3:// URIs."""

    data_dir: str
    pipeline_root: str
    serving_dir: str
    schema_file: str


def create_pipeline(
    config: PipelineConfig,
    paths: PipelinePaths,
    beam_pipeline_args: list[str],
    metadata_connection_config: metadata_store_pb2.ConnectionConfig | None = None,
) -> tfx_pipeline.Pipeline:
    """Builds the MNIST pipeline; runners only choose where and how it runs."""
    data, ingest = config.data, config.ingest
    example_gen = IdxExampleGen(
        input_base=paths.data_dir,
        file_names={
            "train_images": data.train_images,
            "train_labels": data.train_labels,
            "test_images": data.test_images,
            "test_labels": data.test_labels,
        },
        settings={
            "image_shape": list(data.image_shape),
            "num_classes": data.num_classes,
            "validation_size": ingest.validation_size,
            "train_size": ingest.train_size,
            "test_size": ingest.test_size,
            "records_per_shard": ingest.records_per_shard,
            "gzip_level": ingest.gzip_level,
            "code_sha256": source_sha256("components.idx_example_gen"),
        },
    )
    schema_importer = ImportSchemaGen(schema_file=paths.schema_file)
    statistics_gen = StatisticsGen(
        examples=example_gen.outputs["examples"], schema=schema_importer.outputs["schema"]
    )
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_importer.outputs["schema"]
    )
    split_validator = SplitValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_importer.outputs["schema"]
    )
    data_gate = DataGate(
        schema_anomalies=example_validator.outputs["anomalies"],
        split_anomalies=split_validator.outputs["anomalies"],
    )
    components = [
        example_gen,
        schema_importer,
        statistics_gen,
        example_validator,
        split_validator,
        data_gate,
    ]
    return tfx_pipeline.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=paths.pipeline_root,
        components=components,
        enable_cache=True,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args,
    )
