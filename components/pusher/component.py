"""Pusher: TFX's Pusher spec with our executor (components/pusher/executor.py) and the hash of its code.

TFX's Pusher component takes another executor only through its deprecated custom_executor_spec
and has no parameter for the code's hash; this one declares both as every component of ours
does (components/code_hash.py), so that changed code misses the cache.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts, standard_component_specs

from components import code_hash
from components.pusher import executor


class PusherSpec(standard_component_specs.PusherSpec):
    PARAMETERS = {**standard_component_specs.PusherSpec.PARAMETERS, **code_hash.PARAMETERS}


class Pusher(base_component.BaseComponent):
    """Publishes `model`, when `model_blessing` blesses it, as a new version under `serving_dir`."""

    SPEC_CLASS = PusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, model_blessing: types.BaseChannel, serving_dir: str, code_sha256: str):
        super().__init__(
            spec=PusherSpec(
                model=model,
                model_blessing=model_blessing,
                push_destination=pusher_pb2.PushDestination(
                    filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving_dir)
                ),
                code_sha256=code_sha256,
                pushed_model=types.Channel(type=standard_artifacts.PushedModel),
            )
        )
