"""pipeline/local/partial_run.py: which partial runs read the data dir (their RunOptions:
tests/pipeline/local/test_dag.py)."""

from __future__ import annotations

from pipeline.local.partial_run import NO_PUSH, push_of


def test_no_push_reads_the_data_and_a_push_does_not():
    assert NO_PUSH.reads_data
    assert not push_of("20261129-120000-000001").reads_data  # the data dir is not checked: the ingest does not run
