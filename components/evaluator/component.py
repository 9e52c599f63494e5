"""Evaluator: TFX's Evaluator with our executor and the hash of the code it runs in its cache key.

TFX's cache key holds the Evaluator's parameters, not the Precision@1 metric's code it imports
(components/evaluator/precision_at_1.py): `code_sha256` makes changed code miss the cache.
"""

from __future__ import annotations

import tensorflow_model_analysis as tfma
from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.orchestration import data_types
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils

from components.evaluator import executor
from components.evaluator.settings import MAX_TEST_GAP_KEY, MIN_PRECISION_KEY

CODE_KEY = "code_sha256"


class EvaluatorSpec(standard_component_specs.EvaluatorSpec):
    PARAMETERS = {
        **standard_component_specs.EvaluatorSpec.PARAMETERS,
        CODE_KEY: ExecutionParameter(type=str),
        MAX_TEST_GAP_KEY: ExecutionParameter(type=float, optional=True),
        MIN_PRECISION_KEY: ExecutionParameter(type=float, optional=True),
    }


class Evaluator(base_beam_component.BaseBeamComponent):
    """Evaluates `model` on `example_splits` of `examples`; blesses it when eval_config has thresholds."""

    SPEC_CLASS = EvaluatorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        model: types.BaseChannel,
        example_splits: list[str],
        eval_config: tfma.EvalConfig,
        code_sha256: str,
        baseline_model: types.BaseChannel | None = None,
        max_test_gap: float | None = None,
        min_precision_at_1: float | data_types.RuntimeParameter | None = None,
    ):
        """`max_test_gap`: the test Evaluator's, recorded in MLMD so that the run summary warns
        with the limit the run was given (EvaluationSettings.max_test_gap). `min_precision_at_1`:
        the validation Evaluator's, the Precision@1 a model needs to be blessed, which the
        executor adds to eval_config's thresholds (eval_config.with_min_precision_at_1)."""
        super().__init__(
            spec=EvaluatorSpec(
                examples=examples,
                model=model,
                baseline_model=baseline_model,
                example_splits=json_utils.dumps(example_splits),
                eval_config=eval_config,
                evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
                blessing=types.Channel(type=standard_artifacts.ModelBlessing),
                code_sha256=code_sha256,
                max_test_gap=max_test_gap,
                min_precision_at_1=min_precision_at_1,
            )
        )
