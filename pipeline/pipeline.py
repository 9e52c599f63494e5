"""The one place the DAG is wired: create_pipeline(config, paths, beam args) -> tfx Pipeline.

IDX files -> DataProbe (their content hash) -> IdxExampleGen -> StatisticsGen -> ExampleValidator +
SplitValidator -> DataGate
(passes the schema on) -> Trainer -> Evaluator-validation (blessing, against ServedModel: what
ServingProbe saw the serving dir serve) and Evaluator-test (report) -> Pusher -> serving/<version>/

It knows no orchestrator: the local runner and the Kubeflow compiler build the paths and the
Beam arguments and call it. Every `training` and `evaluation` setting is a parameter of the
component that uses it, named as its key (components/parameters.py): in the cache key and in
MLMD by value, and, on Kubeflow, a run-time parameter when the config lists it
(kubeflow.run_parameters). Every component of ours also takes the hash of the code it runs
(components/code_hash.py), of its executor's module and, for the Trainer, run_fn's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from ml_metadata.proto import metadata_store_pb2
from tfx.components.example_validator.component import ExampleValidator
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.components.statistics_gen.component import StatisticsGen
from tfx.dsl.components.base import base_component, base_node, executor_spec
from tfx.orchestration import data_types
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import trainer_pb2

from components import parameters
from components.data_gate import DataGate
from components.evaluator.component import Evaluator
from components.evaluator.settings import MAX_REGRESSION_KEY, MAX_TEST_GAP_KEY, MIN_PRECISION_KEY
from components.idx_example_gen.component import IdxExampleGen
from components.idx_example_gen.probe import DataProbe
from components.probe import VALUE_KEY
from components.pusher.component import Pusher
from components.served_model.component import ServedModel
from components.served_model.probe import ServingProbe
from components.split_validator import SplitValidator
from components.trainer.component import Trainer
from pipeline import node_ids
from pipeline.config import PipelineConfig
from pipeline.fingerprint import code_sha256

TRAINER_RUN_FN = "components.trainer.module.run_fn"
# The `evaluation` settings of the validation Evaluator (the blessing rule) and of the test Evaluator.
BLESSING_EVALUATOR_SETTINGS = (MIN_PRECISION_KEY, MAX_REGRESSION_KEY)
TEST_EVALUATOR_SETTINGS = (MAX_TEST_GAP_KEY,)
# Dotted setting name -> the TFX RuntimeParameter that stands for it (Kubeflow's run-time parameters).
RunParameters = Mapping[str, data_types.RuntimeParameter]
Parameter: TypeAlias = parameters.ParameterValue | data_types.RuntimeParameter  # a component parameter's value


@dataclass(frozen=True)
class PipelinePaths:
    """Where a run reads and writes; local paths or gs:// / s3:// URIs (the data dir may be a
    RuntimeParameter, a Kubeflow run's own)."""

    data_dir: str | data_types.RuntimeParameter
    pipeline_root: str
    serving_dir: str
    schema_file: str


def component_settings(config: PipelineConfig) -> dict[str, parameters.ParameterValue]:
    """Every setting that is a parameter of the component using it, by dotted name, as the
    parameter holds it (components/parameters.py): the whole `training` and `evaluation` sections."""
    return {
        f"{section}.{name}": value
        for section, settings in (("training", config.training), ("evaluation", config.evaluation))
        for name, value in parameters.values(settings).items()
    }


def _section(settings: Mapping[str, Parameter], name: str, keys: tuple[str, ...] | None = None) -> dict[str, Parameter]:
    """The settings of section `name` (only `keys` of it, if given) by their names in it: a component's parameters."""
    prefix = f"{name}."
    found = {key.removeprefix(prefix): value for key, value in settings.items() if key.startswith(prefix)}
    return {key: value for key, value in found.items() if keys is None or key in keys}


def code_modules(executor: executor_spec.ExecutorClassSpec, run_fn: str | None = None) -> tuple[str, ...]:
    """The modules a component of ours runs the code of (with all they import,
    pipeline/fingerprint.py): its executor's, and its run_fn's (the Trainer's)."""
    return (executor.executor_class.__module__, *([run_fn.rpartition(".")[0]] if run_fn else []))


def _code(component: type[base_component.BaseComponent], run_fn: str | None = None) -> str:
    """The component's code hash, its CODE_KEY parameter (components/code_hash.py)."""
    return code_sha256(*code_modules(component.EXECUTOR_SPEC, run_fn))


def create_pipeline(
    config: PipelineConfig,
    paths: PipelinePaths,
    beam_pipeline_args: list[str],
    metadata_connection_config: metadata_store_pb2.ConnectionConfig | None = None,
    enable_cache: bool = True,
    run_parameters: RunParameters | None = None,
    add_nodes: Callable[[dict[str, base_node.BaseNode]], list[base_node.BaseNode]] | None = None,
) -> tfx_pipeline.Pipeline:
    """Builds the MNIST pipeline; runners only choose where and how it runs, whether to
    reuse cached results (`enable_cache=False` rebuilds every artifact, e.g. damaged ones), and
    what an orchestrator adds after the DAG (`add_nodes`: given the nodes by id, e.g. Kubeflow's
    report task; a TFX pipeline takes no node once built). Every `training` and `evaluation`
    setting is a parameter of the component using it, named as its key, with the config's value
    or the RuntimeParameter `run_parameters` gives for its dotted name."""
    given = component_settings(config)
    unknown = set(run_parameters or {}) - set(given)
    if unknown:
        raise ValueError(f"not a setting a component takes as a parameter: {', '.join(sorted(unknown))}")
    settings: dict[str, Parameter] = {**given, **(run_parameters or {})}
    data_probe = DataProbe(input_base=paths.data_dir, settings=config.ingest, code_sha256=_code(DataProbe)).with_id(
        node_ids.DATA_PROBE
    )
    example_gen = IdxExampleGen(
        input_base=paths.data_dir,
        settings=config.ingest,
        example_format=config.data,
        # A parameter, not an input artifact: caches hold parameters by value (components/probe.py).
        data_fingerprint=data_probe.outputs[VALUE_KEY].future()[0].value,
        code_sha256=_code(IdxExampleGen),
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
        code_sha256=_code(SplitValidator),
    ).with_id(node_ids.SPLIT_VALIDATOR)
    data_gate = DataGate(
        schema_anomalies=example_validator.outputs["anomalies"],
        split_anomalies=split_validator.outputs["anomalies"],
        schema=schema_importer.outputs["schema"],
        code_sha256=_code(DataGate),
    ).with_id(node_ids.DATA_GATE)
    trainer = Trainer(
        examples=example_gen.outputs["examples"],
        # Only a schema that passed validation reaches the Trainer: training waits for the gate,
        # and the gate stands on every model's lineage.
        schema=data_gate.outputs["validated_schema"],
        # A module path, not a module_file: TFX would package a module_file as a wheel and
        # pip-install it on every run. The code's hash, with run_fn's, keeps the cache honest.
        run_fn=TRAINER_RUN_FN,
        # No num_steps: the executor sets FnArgs.train_steps from the training settings.
        train_args=trainer_pb2.TrainArgs(splits=["train"]),
        # eval_files reach run_fn in this order: validation, then test.
        eval_args=trainer_pb2.EvalArgs(splits=["validation", "test"]),
        example_format=config.data,
        training=_section(settings, "training"),
        code_sha256=_code(Trainer, TRAINER_RUN_FN),
    ).with_id(node_ids.TRAINER)
    serving_probe = ServingProbe(serving_dir=paths.serving_dir, code_sha256=_code(ServingProbe)).with_id(
        node_ids.SERVING_PROBE
    )
    served_model = ServedModel(
        serving_dir=paths.serving_dir,
        served_fingerprint=serving_probe.outputs[VALUE_KEY].future()[0].value,
        code_sha256=_code(ServedModel),
    ).with_id(node_ids.SERVED_MODEL)
    blessing_evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=served_model.outputs["baseline"],
        example_splits=["validation"],
        settings=_section(settings, "evaluation", BLESSING_EVALUATOR_SETTINGS),
        code_sha256=_code(Evaluator),
    ).with_id(node_ids.BLESSING_EVALUATOR)
    test_evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        example_splits=["test"],
        settings=_section(settings, "evaluation", TEST_EVALUATOR_SETTINGS),
        code_sha256=_code(Evaluator),
    ).with_id(node_ids.TEST_EVALUATOR)
    pusher = Pusher(
        model=trainer.outputs["model"],
        model_blessing=blessing_evaluator.outputs["blessing"],
        serving_dir=paths.serving_dir,
        code_sha256=_code(Pusher),
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
