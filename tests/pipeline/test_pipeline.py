"""pipeline/pipeline.py: create_pipeline wires the DAG once, knows no orchestrator, and gives each
component of ours the hash of the code it runs. The pipeline is built, never run."""

from __future__ import annotations

import json

import pytest
from tfx.dsl.placeholder import placeholder as ph
from tfx.types import channel_utils

from pipeline import fingerprint, node_ids
from pipeline.config import load_config
from pipeline.pipeline import CODE_MODULES, TRAINER_RUN_FN, PipelinePaths, create_pipeline

from conftest import REPO_ROOT
from import_graph import external_imports, import_graph, reachable

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


def code_hash_of(component) -> str:
    """Where each kind of component carries its code hash: a parameter or its custom_config (JSON)."""
    properties = component.exec_properties
    if "code_sha256" in properties:
        return properties["code_sha256"]
    return json.loads(properties["custom_config"])["code_sha256"]


def covered_modules(node_id: str) -> set[str]:
    files = set().union(*(fingerprint.imported_files(module) for module in CODE_MODULES[node_id]))
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
    assert set(CODE_MODULES) <= set(components)
    for node_id, modules in CODE_MODULES.items():
        assert code_hash_of(components[node_id]) == fingerprint.code_sha256(*modules), node_id


def test_the_hash_covers_the_executor_and_the_code_it_loads_by_name(components):
    """Code a component runs: its executor class, the Trainer's run_fn, the Evaluators' metric."""
    for node_id in CODE_MODULES:
        executor_module = components[node_id].executor_spec.executor_class.__module__
        if executor_module.startswith(("components.", "pipeline.")):
            assert executor_module in covered_modules(node_id), node_id
    assert TRAINER_RUN_FN.rpartition(".")[0] in covered_modules(node_ids.TRAINER)
    for node_id in (node_ids.BLESSING_EVALUATOR, node_ids.TEST_EVALUATOR):
        eval_config = json.loads(components[node_id].exec_properties["eval_config"])
        metric_modules = {
            m["module"] for spec in eval_config["metrics_specs"] for m in spec["metrics"] if m.get("module")
        }
        assert metric_modules and metric_modules <= covered_modules(node_id), node_id


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
