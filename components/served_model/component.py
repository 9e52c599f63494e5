"""ServedModel: the model the serving dir serves now, as the baseline of the validation Evaluator.

"No worse than production" is the regression check users mean, and a component of ours finds
it on every orchestrator: TFX's Resolver compiles into resolver tasks that the open-source
Kubeflow Pipelines backend cannot run. Its `baseline` output is a copy of the served version
that ServingProbe saw (its `served_fingerprint` parameter, which puts the served model into the cache key),
with the served version and the model it came from as properties (so lineage shows them), or,
before anything was pushed, an empty Model marked "none served", which the Evaluator
(components/evaluator) drops from its inputs: then the threshold alone blesses.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.dsl.placeholder import placeholder as ph
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components import code_hash
from components.served_model import executor, properties


class ServedModelSpec(ComponentSpec):
    PARAMETERS = {
        executor.SERVING_DIR_KEY: ExecutionParameter(type=str),
        properties.FINGERPRINT_KEY: ExecutionParameter(type=str),
        **code_hash.PARAMETERS,
    }
    INPUTS: dict[str, ChannelParameter] = {}
    OUTPUTS = {executor.BASELINE_KEY: ChannelParameter(type=standard_artifacts.Model)}


class ServedModel(base_component.BaseComponent):
    """Outputs the version of `serving_dir` that `served_fingerprint` names as a Model artifact."""

    SPEC_CLASS = ServedModelSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, serving_dir: str, served_fingerprint: str | ph.Placeholder, code_sha256: str):
        super().__init__(
            ServedModelSpec(
                serving_dir=serving_dir,
                served_fingerprint=served_fingerprint,
                code_sha256=code_sha256,
                baseline=types.Channel(type=standard_artifacts.Model),
            )
        )
