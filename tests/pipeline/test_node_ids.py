"""pipeline/node_ids.py: ids that Kubeflow accepts as task names."""

from __future__ import annotations

from pipeline import node_ids

from support.kfp_launcher import ARGO_NAME

IDS = [
    value
    for name, value in vars(node_ids).items()
    if name.isupper() and isinstance(value, str) and name != "EVALUATOR_PREFIX"
]


def test_every_node_id_is_an_argo_task_name():
    assert len(IDS) == 14  # the 13 components and the Kubeflow report task
    assert [node_id for node_id in IDS if not ARGO_NAME.fullmatch(node_id)] == []
