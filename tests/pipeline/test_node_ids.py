"""pipeline/node_ids.py: ids that Kubeflow accepts as task names, and older runs' ids read as today's."""

from __future__ import annotations

from pipeline import node_ids

from kfp_launcher import ARGO_NAME

IDS = [
    value
    for name, value in vars(node_ids).items()
    if name.isupper() and isinstance(value, str) and name != "EVALUATOR_PREFIX"
]


def test_every_node_id_is_an_argo_task_name():
    assert len(IDS) == 14  # the 13 components and the Kubeflow report task
    assert [node_id for node_id in IDS if not ARGO_NAME.fullmatch(node_id)] == []


def test_the_evaluators_of_older_runs_are_read_under_todays_ids():
    assert node_ids.current("Evaluator.validation") == node_ids.BLESSING_EVALUATOR
    assert node_ids.current("Evaluator.test") == node_ids.TEST_EVALUATOR
    assert [node_ids.current(node_id) for node_id in IDS] == IDS
