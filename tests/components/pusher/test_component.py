"""components/pusher/component.py: TFX's Pusher spec with our executor and the code hash a parameter."""

from __future__ import annotations

import json

from tfx import types
from tfx.types import standard_artifacts

from components.code_hash import CODE_KEY
from components.pusher import executor
from components.pusher.component import Pusher


def test_it_runs_our_executor_into_the_serving_dir_with_its_code_hash():
    pusher = Pusher(
        model=types.Channel(type=standard_artifacts.Model),
        model_blessing=types.Channel(type=standard_artifacts.ModelBlessing),
        serving_dir="/serving",
        code_sha256="abc",
    )
    assert pusher.executor_spec.executor_class is executor.Executor
    assert pusher.exec_properties[CODE_KEY] == "abc"
    assert json.loads(pusher.exec_properties["push_destination"]) == {"filesystem": {"base_directory": "/serving"}}
    assert pusher.outputs["pushed_model"].type is standard_artifacts.PushedModel
