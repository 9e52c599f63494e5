"""components/probe.py: what a probe sees is its output, and locally its cache key."""

from __future__ import annotations

from typing import Any

from tfx.orchestration.portable import data_types
from tfx.types import standard_artifacts

from components import probe

from support.fake_artifacts import artifact

looked_at: list[dict[str, Any]] = []


def look(exec_properties: dict[str, Any]) -> str:
    looked_at.append(dict(exec_properties))
    return f"saw {exec_properties['what']}"


class Executor(probe.Executor):
    look = staticmethod(look)


class Driver(probe.Driver):
    look = staticmethod(look)


def test_the_driver_puts_what_it_sees_into_the_execution_properties():
    output = Driver(metadata_handle=None).run(data_types.ExecutionInfo(exec_properties={"what": "x"}))
    assert output.exec_properties[probe.SEEN_KEY].string_value == "saw x"


def test_the_executor_outputs_what_it_sees(tmp_path):
    value = artifact(standard_artifacts.String, tmp_path / "value")
    Executor().Do({}, {probe.VALUE_KEY: [value]}, {"what": "y"})
    assert value.value == "saw y" and (tmp_path / "value").read_text() == "saw y"


def test_the_executor_outputs_the_drivers_answer_without_looking_again(tmp_path):
    """Locally the cache key holds the driver's answer: the output must be that answer."""
    looked_at.clear()
    value = artifact(standard_artifacts.String, tmp_path / "value")
    Executor().Do({}, {probe.VALUE_KEY: [value]}, {"what": "now", probe.SEEN_KEY: "saw before"})
    assert value.value == "saw before" and looked_at == []
