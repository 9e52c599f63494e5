"""components/evaluator/component.py: TFX's Evaluator with our executor and a code hash parameter."""

from __future__ import annotations

import json

from tfx import types
from tfx.orchestration import data_types
from tfx.types import standard_artifacts

from components.evaluator import executor
from components.evaluator.component import CODE_KEY, Evaluator
from components.evaluator.eval_config import eval_config
from components.evaluator.settings import MIN_PRECISION_KEY


def evaluator(**optional) -> Evaluator:
    return Evaluator(
        examples=types.Channel(type=standard_artifacts.Examples),
        model=types.Channel(type=standard_artifacts.Model),
        example_splits=["validation"],
        eval_config=eval_config(),
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


def test_the_floor_of_the_blessing_is_a_parameter_each_run_may_set():
    assert evaluator().exec_properties.get(MIN_PRECISION_KEY) is None  # the test Evaluator's: none
    assert evaluator(min_precision_at_1=0.9).exec_properties[MIN_PRECISION_KEY] == 0.9
    run_time = data_types.RuntimeParameter("min_precision_at_1", ptype=float, default=0.9)
    assert evaluator(min_precision_at_1=run_time).exec_properties[MIN_PRECISION_KEY] is run_time
