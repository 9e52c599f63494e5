"""components/evaluator/component.py: TFX's Evaluator with our executor, a code hash parameter and
the evaluation settings it uses as parameters named as their keys (no eval_config)."""

from __future__ import annotations

import json

from tfx import types
from tfx.orchestration import data_types
from tfx.types import standard_artifacts

from components.code_hash import CODE_KEY
from components.evaluator import executor
from components.evaluator.component import Evaluator
from components.evaluator.settings import MAX_REGRESSION_KEY, MAX_TEST_GAP_KEY, MIN_PRECISION_KEY


def evaluator(settings: dict | None = None, **optional) -> Evaluator:
    return Evaluator(
        examples=types.Channel(type=standard_artifacts.Examples),
        model=types.Channel(type=standard_artifacts.Model),
        example_splits=["validation"],
        settings=settings or {},
        code_sha256="abc",
        **optional,
    )


def test_the_code_hash_is_a_parameter_so_changed_code_misses_the_cache():
    component = evaluator()
    assert component.exec_properties[CODE_KEY] == "abc"
    assert json.loads(component.exec_properties["example_splits"]) == ["validation"]


def test_it_runs_our_executor_and_outputs_an_evaluation_and_a_blessing():
    component = evaluator()
    assert component.executor_spec.executor_class is executor.Executor
    assert component.outputs["evaluation"].type is standard_artifacts.ModelEvaluation
    assert component.outputs["blessing"].type is standard_artifacts.ModelBlessing


def test_the_baseline_is_optional():
    assert "baseline_model" not in evaluator().inputs
    with_baseline = evaluator(baseline_model=types.Channel(type=standard_artifacts.Model))
    assert with_baseline.inputs["baseline_model"].type is standard_artifacts.Model


def test_the_settings_it_uses_are_its_parameters_and_there_is_no_eval_config():
    """The blessing rule's settings, each of which a run may set; the executor builds the
    eval_config from them (one source)."""
    floor = data_types.RuntimeParameter("min_precision_at_1", ptype=float, default=0.9)
    rule = evaluator({MIN_PRECISION_KEY: floor, MAX_REGRESSION_KEY: 0.01}).exec_properties
    assert rule[MIN_PRECISION_KEY] is floor and rule[MAX_REGRESSION_KEY] == 0.01
    assert rule.get("eval_config") is None and rule.get(MAX_TEST_GAP_KEY) is None
    assert evaluator({MAX_TEST_GAP_KEY: 0.03}).exec_properties[MAX_TEST_GAP_KEY] == 0.03
