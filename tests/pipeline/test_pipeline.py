"""pipeline/pipeline.py: create_pipeline wires the DAG once, knows no orchestrator, gives each
setting to the component using it as a parameter named as its key, and each component of ours
the hash of the code it runs. The pipeline is built, never run."""

from __future__ import annotations

import json

import pytest
from tfx.dsl.placeholder import placeholder as ph
from tfx.orchestration import data_types
from tfx.types import channel_utils

from components import parameters
from components.code_hash import CODE_KEY
from components.evaluator.eval_config import eval_config
from pipeline import fingerprint, node_ids
from pipeline.config import load_config
from pipeline.pipeline import TRAINER_RUN_FN, PipelinePaths, code_modules, component_settings, create_pipeline

from conftest import REPO_ROOT
from support.import_graph import external_imports, import_graph, reachable

PATHS = PipelinePaths(
    data_dir="/data", pipeline_root="/root", serving_dir="/serving", schema_file="/schemas/ab/schema.pbtxt"
)
NODE_IDS = [
    node_ids.DATA_PROBE,
    node_ids.INGEST,
    node_ids.SCHEMA_IMPORTER,
    node_ids.STATISTICS,
    node_ids.SCHEMA_VALIDATOR,
    node_ids.SPLIT_VALIDATOR,
    node_ids.DATA_GATE,
    node_ids.TRAINER,
    node_ids.SERVING_PROBE,
    node_ids.SERVED_MODEL,
    node_ids.BLESSING_EVALUATOR,
    node_ids.TEST_EVALUATOR,
    node_ids.PUSHER,
]
# (producer, output key) -> (consumer, input key): every edge of the DAG.
EDGES = {
    (node_ids.INGEST, "examples", node_ids.STATISTICS, "examples"),
    (node_ids.SCHEMA_IMPORTER, "schema", node_ids.STATISTICS, "schema"),
    (node_ids.STATISTICS, "statistics", node_ids.SCHEMA_VALIDATOR, "statistics"),
    (node_ids.SCHEMA_IMPORTER, "schema", node_ids.SCHEMA_VALIDATOR, "schema"),
    (node_ids.STATISTICS, "statistics", node_ids.SPLIT_VALIDATOR, "statistics"),
    (node_ids.SCHEMA_IMPORTER, "schema", node_ids.SPLIT_VALIDATOR, "schema"),
    (node_ids.SCHEMA_VALIDATOR, "anomalies", node_ids.DATA_GATE, "schema_anomalies"),
    (node_ids.SPLIT_VALIDATOR, "anomalies", node_ids.DATA_GATE, "split_anomalies"),
    (node_ids.SCHEMA_IMPORTER, "schema", node_ids.DATA_GATE, "schema"),
    (node_ids.INGEST, "examples", node_ids.TRAINER, "examples"),
    (node_ids.DATA_GATE, "validated_schema", node_ids.TRAINER, "schema"),
    (node_ids.INGEST, "examples", node_ids.BLESSING_EVALUATOR, "examples"),
    (node_ids.TRAINER, "model", node_ids.BLESSING_EVALUATOR, "model"),
    (node_ids.SERVED_MODEL, "baseline", node_ids.BLESSING_EVALUATOR, "baseline_model"),
    (node_ids.INGEST, "examples", node_ids.TEST_EVALUATOR, "examples"),
    (node_ids.TRAINER, "model", node_ids.TEST_EVALUATOR, "model"),
    (node_ids.TRAINER, "model", node_ids.PUSHER, "model"),
    (node_ids.BLESSING_EVALUATOR, "blessing", node_ids.PUSHER, "model_blessing"),
}
# (probe, consumer, parameter): what the probes hand on as a parameter's value, not as an input.
PROBED = {
    (node_ids.DATA_PROBE, node_ids.INGEST, "data_fingerprint"),
    (node_ids.SERVING_PROBE, node_ids.SERVED_MODEL, "served_fingerprint"),
}
RUNNER_MODULES = {"pipeline.local.runner", "pipeline.kubeflow.compiler", "pipeline.kubeflow.client", "pipeline.cli"}


@pytest.fixture(scope="module")
def components() -> dict:
    built = create_pipeline(load_config(), PATHS, beam_pipeline_args=["--direct_num_workers=1"])
    return {component.id: component for component in built.components}


# The components whose executor is ours: each takes the hash of its code.
OURS = set(NODE_IDS) - {node_ids.SCHEMA_IMPORTER, node_ids.STATISTICS, node_ids.SCHEMA_VALIDATOR}


def modules_of(component) -> tuple[str, ...]:
    return code_modules(component.executor_spec, component.exec_properties.get("run_fn"))


def covered_modules(component) -> set[str]:
    files = set().union(*(fingerprint.imported_files(module) for module in modules_of(component)))
    return {".".join(path.relative_to(REPO_ROOT).with_suffix("").parts) for path in files}


def test_the_thirteen_nodes_with_their_ids(components):
    assert sorted(components) == sorted(NODE_IDS) and len(NODE_IDS) == 13


def test_the_probes_hand_on_what_they_saw_as_a_parameter(components):
    handed_on = {
        (channel_utils.unwrap_simple_channel_placeholder(value).producer_component_id, node_id, name)
        for node_id, component in components.items()
        for name, value in component.exec_properties.items()
        if isinstance(value, ph.Placeholder)
    }
    assert handed_on == PROBED
    assert all(components[probe].inputs == {} for probe in node_ids.PROBES)


def test_every_edge_and_no_other(components):
    edges = {
        (channel.producer_component_id, channel.output_key, node_id, key)
        for node_id, component in components.items()
        for key, channel in component.inputs.items()
    }
    assert edges == EDGES


def test_validation_stands_on_every_models_lineage(components):
    schema = components[node_ids.TRAINER].inputs["schema"]
    assert (schema.producer_component_id, schema.output_key) == (node_ids.DATA_GATE, "validated_schema")


def test_the_blessing_is_against_the_served_model_and_there_is_no_resolver(components):
    baseline = components[node_ids.BLESSING_EVALUATOR].inputs["baseline_model"]
    assert (baseline.producer_component_id, baseline.output_key) == (node_ids.SERVED_MODEL, "baseline")
    assert "baseline_model" not in components[node_ids.TEST_EVALUATOR].inputs
    assert not any("Resolver" in type(component).__name__ for component in components.values())


def test_every_component_of_ours_carries_the_hash_of_its_code(components):
    """One parameter, CODE_KEY, derived from the component's executor (and run_fn): no table."""
    carrying = {node_id for node_id, component in components.items() if CODE_KEY in component.exec_properties}
    assert carrying == OURS
    for node_id in OURS:
        component = components[node_id]
        assert component.exec_properties[CODE_KEY] == fingerprint.code_sha256(*modules_of(component)), node_id
        assert not json.loads(component.exec_properties.get("custom_config") or "{}").get(CODE_KEY), node_id


def test_the_hash_covers_the_executor_and_the_code_it_loads_by_name(components):
    """Code a component runs: its executor class, the Trainer's run_fn, the Evaluators' metric."""
    for node_id in OURS:
        assert components[node_id].executor_spec.executor_class.__module__ in covered_modules(components[node_id])
    assert TRAINER_RUN_FN.rpartition(".")[0] in covered_modules(components[node_ids.TRAINER])
    metric_modules = {
        metric.module
        for config in (eval_config(), eval_config(0.9, max_precision_at_1_regression=0.01))
        for spec in config.metrics_specs
        for metric in spec.metrics
        if metric.module
    }
    for node_id in (node_ids.BLESSING_EVALUATOR, node_ids.TEST_EVALUATOR):
        assert metric_modules and metric_modules <= covered_modules(components[node_id]), node_id


def test_every_training_and_evaluation_setting_is_a_parameter_named_as_its_key(components):
    """In the cache key and in MLMD by value; none carried in a custom_config as well."""
    config = load_config()
    trainer = components[node_ids.TRAINER].exec_properties
    assert {name: trainer[name] for name in parameters.values(config.training)} == parameters.values(config.training)
    assert "training" not in json.loads(trainer["custom_config"])
    evaluation = parameters.values(config.evaluation)
    validation = components[node_ids.BLESSING_EVALUATOR].exec_properties
    assert {name: validation.get(name) for name in evaluation} == {**evaluation, "max_test_gap": None}
    test = components[node_ids.TEST_EVALUATOR].exec_properties
    assert (test["max_test_gap"], test.get("min_precision_at_1")) == (config.evaluation.max_test_gap, None)
    assert "eval_config" not in validation and "eval_config" not in test  # built by the executor from these


def test_a_run_time_parameter_stands_for_the_setting_it_names():
    config = load_config()
    rate = data_types.RuntimeParameter("learning_rate", ptype=float, default=0.004)
    floor = data_types.RuntimeParameter("min_precision_at_1", ptype=float, default=0.95)
    built = create_pipeline(
        config, PATHS, [], run_parameters={"training.learning_rate": rate, "evaluation.min_precision_at_1": floor}
    )
    nodes = {node.id: node for node in built.components}
    assert nodes[node_ids.TRAINER].exec_properties["learning_rate"] is rate
    assert nodes[node_ids.BLESSING_EVALUATOR].exec_properties["min_precision_at_1"] is floor
    assert set(component_settings(config)) >= {"training.hidden_units", "evaluation.max_test_gap"}
    with pytest.raises(ValueError, match="not a setting a component takes as a parameter: training.nothing"):
        create_pipeline(config, PATHS, [], run_parameters={"training.nothing": rate})


def test_the_paths_and_beam_args_are_the_given_ones(components):
    assert components[node_ids.INGEST].exec_properties["input_base"] == "/data"
    assert components[node_ids.SERVED_MODEL].exec_properties["serving_dir"] == "/serving"
    assert json.loads(components[node_ids.PUSHER].exec_properties["push_destination"]) == {
        "filesystem": {"base_directory": "/serving"}
    }


def test_the_pipeline_knows_no_orchestrator():
    graph = import_graph(REPO_ROOT)
    assert reachable(graph, "pipeline.pipeline") & RUNNER_MODULES == set()
    for module, imported in external_imports(REPO_ROOT, "pipeline.pipeline").items():
        assert "kfp" not in imported, module
    pipeline_source = (REPO_ROOT / "pipeline" / "pipeline.py").read_text()
    for runner in (
        "LocalDagRunner",
        "BeamDagRunner",
        "KubeflowV2DagRunner",
        "tfx.orchestration.local",
        "tfx.orchestration.beam",
        "tfx.orchestration.kubeflow",
    ):
        assert runner not in pipeline_source
