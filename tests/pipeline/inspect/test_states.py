"""pipeline/inspect/states.py: a run's status from its components', and how they print."""

from __future__ import annotations

import json

import pytest

from pipeline.inspect.states import ComponentStatus, RunStatus

RAN, CACHED, FAILED, INTERRUPTED, RUNNING = ComponentStatus


@pytest.mark.parametrize(
    "statuses, expected",
    [
        ({RAN, CACHED}, RunStatus.COMPLETE),
        ({RAN, RUNNING}, RunStatus.UNFINISHED),
        ({RAN, INTERRUPTED, RUNNING}, RunStatus.INTERRUPTED),
        ({INTERRUPTED, FAILED}, RunStatus.FAILED),
        (set(), RunStatus.COMPLETE),
    ],
)
def test_a_run_takes_the_gravest_status_of_its_components(statuses, expected):
    assert RunStatus.of(statuses) == expected


def test_states_print_and_serialize_as_their_names():
    assert f"{ComponentStatus.CACHED}" == str(ComponentStatus.CACHED) == "cached" == ComponentStatus.CACHED
    assert json.dumps({"status": RunStatus.INTERRUPTED}) == '{"status": "interrupted"}'
