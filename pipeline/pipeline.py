"""The one place the DAG is wired: create_pipeline(config, paths, beam args) -> tfx Pipeline.

IDX files -> DataProbe (their content hash) -> IdxExampleGen -> StatisticsGen -> ExampleValidator +
SplitValidator -> DataGate
(passes the schema on) -> Trainer -> Evaluator-validation (blessing, against ServedModel: what
ServingProbe saw the serving dir serve) and Evaluator-test (report) -> Pusher -> serving/<version>/

It knows no orchestrator: the local runner and the Kubeflow compiler build the paths and the
Beam arguments and call it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ml_metadata.proto import metadata_store_pb2
from tfx.components.example_validator.component import ExampleValidator
from tfx.components.pusher.component import Pusher
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.components.statistics_gen.component import StatisticsGen
from tfx.dsl.components.base import base_node, executor_spec
from tfx.orchestration import data_types
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import pusher_pb2, trainer_pb2

from components.data_gate import DataGate
from components.evaluator.component import Evaluator
from components.evaluator.eval_config import eval_config
from components.idx_example_gen.component import IdxExampleGen
from components.idx_example_gen.probe import DataProbe
from components.probe import VALUE_KEY
from components.pusher import executor as pusher_executor
from components.served_model.component import ServedModel
from components.served_model.probe import ServingProbe
from components.split_validator import SplitValidator
from components.trainer import settings as trainer_settings
from components.trainer.component import Trainer
from pipeline import node_ids
from pipeline.config import PipelineConfig
from pipeline.fingerprint import code_sha256

# The modules whose code (with everything they import) each component of ours runs: their hash
# goes into the component's parameters, hence into TFX's cache key and MLMD.
TRAINER_RUN_FN = "components.trainer.module.run_fn"
CODE_MODULES = {
    node_ids.DATA_PROBE: ("components.idx_example_gen.probe",),
    node_ids.INGEST: ("components.idx_example_gen.executor",),
    node_ids.SPLIT_VALIDATOR: ("components.split_validator",),
    node_ids.DATA_GATE: ("components.data_gate",),
    node_ids.TRAINER: ("components.trainer.executor", TRAINER_RUN_FN.rpartition(".")[0]),
    node_ids.SERVING_PROBE: ("components.served_model.probe",),
    node_ids.SERVED_MODEL: ("components.served_model.executor",),
    node_ids.BLESSING_EVALUATOR: ("components.evaluator.executor", "components.evaluator.precision_at_1"),
    node_ids.TEST_EVALUATOR: ("components.evaluator.executor", "components.evaluator.precision_at_1"),
    node_ids.PUSHER: ("components.pusher.executor",),
}


@dataclass(frozen=True)
class PipelinePaths:
    """Where a run reads and writes; local paths or gs:// / s3:// URIs (the data dir may be a
    run's own, as RunSettings' values)."""

    data_dir: str | data_types.RuntimeParameter
    pipeline_root: str
    serving_dir: str
    schema_file: str


@dataclass(frozen=True)
class RunSettings:
    """The settings each run may change without rebuilding the pipeline: the config's values
    (`of`), or TFX RuntimeParameters that default to them (Kubeflow's run-time parameters,
    pipeline/kubeflow/compiler.py). Each is a parameter of its own of the component that uses
    it, so its value stands in the component's cache key and in MLMD."""

    learning_rate: float | data_types.RuntimeParameter
    train_steps: int | data_types.RuntimeParameter
    min_precision_at_1: float | data_types.RuntimeParameter

    @classmethod
    def of(cls, config: PipelineConfig) -> RunSettings:
        return cls(config.training.learning_rate, config.training.train_steps, config.evaluation.min_precision_at_1)


def create_pipeline(
    config: PipelineConfig,
    paths: PipelinePaths,
    beam_pipeline_args: list[str],
    metadata_connection_config: metadata_store_pb2.ConnectionConfig | None = None,
    enable_cache: bool = True,
    run_settings: RunSettings | None = None,
    add_nodes: Callable[[dict[str, base_node.BaseNode]], list[base_node.BaseNode]] | None = None,
) -> tfx_pipeline.Pipeline:
    """Builds the MNIST pipeline; runners only choose where and how it runs, whether to
    reuse cached results (`enable_cache=False` rebuilds every artifact, e.g. damaged ones), and
    what an orchestrator adds after the DAG (`add_nodes`: given the nodes by id, e.g. Kubeflow's
    report task; a TFX pipeline takes no node once built). `run_settings`: what each run may set
    (RunSettings), by default the config's values."""
    run = run_settings or RunSettings.of(config)
    code = {node_id: code_sha256(*modules) for node_id, modules in CODE_MODULES.items()}
    data_probe = DataProbe(
        input_base=paths.data_dir, settings=config.ingest, code_sha256=code[node_ids.DATA_PROBE]
    ).with_id(node_ids.DATA_PROBE)
    example_gen = IdxExampleGen(
        input_base=paths.data_dir,
        settings=config.ingest,
        example_format=config.data,
        # A parameter, not an input artifact: caches hold parameters by value (components/probe.py).
        data_fingerprint=data_probe.outputs[VALUE_KEY].future()[0].value,
        code_sha256=code[node_ids.INGEST],
    ).with_id(node_ids.INGEST)
    schema_importer = ImportSchemaGen(schema_file=paths.schema_file).with_id(node_ids.SCHEMA_IMPORTER)
    statistics_gen = StatisticsGen(
        examples=example_gen.outputs["examples"], schema=schema_importer.outputs["schema"]
    ).with_id(node_ids.STATISTICS)
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_importer.outputs["schema"]
    ).with_id(node_ids.SCHEMA_VALIDATOR)
    split_validator = SplitValidator(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_importer.outputs["schema"],
        code_sha256=code[node_ids.SPLIT_VALIDATOR],
    ).with_id(node_ids.SPLIT_VALIDATOR)
    data_gate = DataGate(
        schema_anomalies=example_validator.outputs["anomalies"],
        split_anomalies=split_validator.outputs["anomalies"],
        schema=schema_importer.outputs["schema"],
        code_sha256=code[node_ids.DATA_GATE],
    ).with_id(node_ids.DATA_GATE)
    trainer = Trainer(
        examples=example_gen.outputs["examples"],
        # Only a schema that passed validation reaches the Trainer: training waits for the gate,
        # and the gate stands on every model's lineage.
        schema=data_gate.outputs["validated_schema"],
        # A module path, not a module_file: TFX would package a module_file as a wheel and
        # pip-install it on every run. The code's hash in custom_config keeps the cache honest.
        run_fn=TRAINER_RUN_FN,
        train_args=trainer_pb2.TrainArgs(splits=["train"]),  # num_steps: train_steps
        # eval_files reach run_fn in this order: validation, then test.
        eval_args=trainer_pb2.EvalArgs(splits=["validation", "test"]),
        custom_config=trainer_settings.custom_config(config.training, config.data, code[node_ids.TRAINER]),
        learning_rate=run.learning_rate,
        train_steps=run.train_steps,
    ).with_id(node_ids.TRAINER)
    serving_probe = ServingProbe(serving_dir=paths.serving_dir, code_sha256=code[node_ids.SERVING_PROBE]).with_id(
        node_ids.SERVING_PROBE
    )
    served_model = ServedModel(
        serving_dir=paths.serving_dir,
        served_fingerprint=serving_probe.outputs[VALUE_KEY].future()[0].value,
        code_sha256=code[node_ids.SERVED_MODEL],
    ).with_id(node_ids.SERVED_MODEL)
    blessing_evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=served_model.outputs["baseline"],
        example_splits=["validation"],
        eval_config=eval_config(config.evaluation.max_precision_at_1_regression),
        code_sha256=code[node_ids.BLESSING_EVALUATOR],
        min_precision_at_1=run.min_precision_at_1,
    ).with_id(node_ids.BLESSING_EVALUATOR)
    test_evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        example_splits=["test"],
        eval_config=eval_config(confusion_matrix=True),
        code_sha256=code[node_ids.TEST_EVALUATOR],
        max_test_gap=config.evaluation.max_test_gap,
    ).with_id(node_ids.TEST_EVALUATOR)
    pusher = Pusher(
        model=trainer.outputs["model"],
        model_blessing=blessing_evaluator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=paths.serving_dir)
        ),
        custom_config={"code_sha256": code[node_ids.PUSHER]},
        custom_executor_spec=executor_spec.ExecutorClassSpec(pusher_executor.Executor),
    ).with_id(node_ids.PUSHER)
    nodes = [
        data_probe,
        example_gen,
        schema_importer,
        statistics_gen,
        example_validator,
        split_validator,
        data_gate,
        trainer,
        serving_probe,
        served_model,
        blessing_evaluator,
        test_evaluator,
        pusher,
    ]
    if add_nodes is not None:
        nodes += add_nodes({node.id: node for node in nodes})
    return tfx_pipeline.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=paths.pipeline_root,
        components=nodes,
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args,
    )
