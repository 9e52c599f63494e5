"""The one place the DAG is wired: create_pipeline(config, paths) -> tfx Pipeline.

IDX files -> IdxExampleGen -> StatisticsGen -> ExampleValidator + SplitValidator -> DataGate
-> Trainer -> Evaluator (validation: blessing; test: report) -> Pusher -> serving/<version>/
"""

from __future__ import annotations

from dataclasses import dataclass

from ml_metadata.proto import metadata_store_pb2
from tfx.components import Evaluator, ExampleValidator, Pusher, StatisticsGen, Trainer
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.base import executor_spec
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import pusher_pb2, trainer_pb2
from tfx.types import Channel, standard_artifacts

from components import atomic_pusher
from components.baseline_strategy import LatestBlessedBaselineStrategy
from components.data_gate import DataGate
from components.idx_example_gen.component import IdxExampleGen
from components.split_validator import SplitValidator
from pipeline.config import PipelineConfig
from pipeline.evaluation import eval_config
from pipeline.fingerprint import source_sha256

BLESSING_EVALUATOR = "Evaluator.validation"
# Imported by every Beam worker process, for s3:// and a clean exit there. Named, not imported:
# importing it changes how this process exits.
BEAM_WORKER_PLUGIN = "components.beam_worker"


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
    for_kubeflow: bool = False,
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
    trainer = Trainer(
        examples=example_gen.outputs["examples"],
        # A module path, not a module_file: TFX would package a module_file as a wheel and
        # pip-install it on every run. The code's hash in custom_config keeps the cache honest.
        run_fn="components.trainer.module.run_fn",
        train_args=trainer_pb2.TrainArgs(splits=["train"], num_steps=config.training.train_steps),
        # eval_files reach run_fn in this order: validation, then test.
        eval_args=trainer_pb2.EvalArgs(splits=["validation", "test"]),
        custom_config=trainer_custom_config(config),
    )
    trainer.add_upstream_node(data_gate)  # train only on data that passed validation

    baseline_model = None
    if config.evaluation.compare_with_blessed:
        baseline_model = _baseline_resolver(trainer.outputs["model"], for_kubeflow)
    blessing_evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_model.outputs["model"] if baseline_model else None,
        example_splits=["validation"],
        eval_config=eval_config(
            config.evaluation.accuracy_threshold, config.evaluation.max_accuracy_regression
        ),
    ).with_id(BLESSING_EVALUATOR)
    test_evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        example_splits=["test"],
        eval_config=eval_config(),
    ).with_id("Evaluator.test")
    pusher = Pusher(
        model=trainer.outputs["model"],
        model_blessing=blessing_evaluator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=paths.serving_dir)
        ),
        custom_executor_spec=executor_spec.ExecutorClassSpec(atomic_pusher.Executor),
    )
    components = [
        example_gen,
        schema_importer,
        statistics_gen,
        example_validator,
        split_validator,
        data_gate,
        trainer,
        *([baseline_model] if baseline_model else []),
        blessing_evaluator,
        test_evaluator,
        pusher,
    ]
    return tfx_pipeline.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=paths.pipeline_root,
        components=components,
        enable_cache=True,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=[*beam_pipeline_args, f"--beam_plugin={BEAM_WORKER_PLUGIN}"],
    )


def trainer_custom_config(config: PipelineConfig) -> dict:
    """What the Trainer module reads (components.trainer.module.TrainerSettings), and its code's hash."""
    return {
        **config.as_dict()["training"],
        "image_shape": list(config.data.image_shape),
        "num_classes": config.data.num_classes,
        "module_sha256": source_sha256("components.trainer"),
    }


def _baseline_resolver(candidate: Channel, for_kubeflow: bool) -> Resolver:
    """The latest model blessed by the validation Evaluator: the baseline to compare with."""
    channels = {
        "model": Channel(type=standard_artifacts.Model),
        "model_blessing": Channel(type=standard_artifacts.ModelBlessing, producer_component_id=BLESSING_EVALUATOR),
    }
    if for_kubeflow:  # KubeflowV2DagRunner compiles only TFX's own resolver strategies
        resolver = Resolver(strategy_class=LatestBlessedModelStrategy, **channels)
    else:
        resolver = Resolver(strategy_class=LatestBlessedBaselineStrategy, candidate=candidate, **channels)
    return resolver.with_id("latest_blessed_model_resolver")
