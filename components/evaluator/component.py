"""Evaluator: TFX's Evaluator with our executor, the evaluation settings as parameters of their own.

Each EvaluationSettings field the Evaluator uses is a parameter named as its key in the config
(components/parameters.py): the validation Evaluator's blessing rule (min_precision_at_1,
max_precision_at_1_regression), the test Evaluator's max_test_gap. Each stands by value in the
cache key and in MLMD, and may be a TFX RuntimeParameter that a Kubeflow run sets. The executor
builds the TFMA eval_config from them (components/evaluator/eval_config.py), so the spec holds
no eval_config. TFX's cache key holds the parameters, not the Precision@1 metric's code the
executor imports (components/evaluator/precision_at_1.py): `code_sha256` makes changed code
miss the cache.
"""

from __future__ import annotations

from collections.abc import Mapping

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.orchestration import data_types
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import json_utils

from components import code_hash, parameters
from components.evaluator import executor
from components.evaluator.settings import EvaluationSettings


class EvaluatorSpec(standard_component_specs.EvaluatorSpec):
    PARAMETERS = {
        **standard_component_specs.EvaluatorSpec.PARAMETERS,
        **code_hash.PARAMETERS,
        **parameters.spec(EvaluationSettings, optional=True),  # each Evaluator takes those it uses
    }


class Evaluator(base_beam_component.BaseBeamComponent):
    """Evaluates `model` on `example_splits` of `examples`; blesses it when given the blessing rule."""

    SPEC_CLASS = EvaluatorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        model: types.BaseChannel,
        example_splits: list[str],
        settings: Mapping[str, float | data_types.RuntimeParameter],
        code_sha256: str,
        baseline_model: types.BaseChannel | None = None,
    ):
        """`settings`: the EvaluationSettings this Evaluator uses, by name, each a value or a
        RuntimeParameter: the validation Evaluator's blessing rule, the test Evaluator's
        max_test_gap (recorded in MLMD so that the run summary warns with the limit the run was
        given)."""
        super().__init__(
            spec=EvaluatorSpec(
                examples=examples,
                model=model,
                baseline_model=baseline_model,
                example_splits=json_utils.dumps(example_splits),
                evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
                blessing=types.Channel(type=standard_artifacts.ModelBlessing),
                code_sha256=code_sha256,
                **settings,
            )
        )
