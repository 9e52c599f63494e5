"""pipeline/local/runner.py, the parts that need no pipeline run: run ids (the runs themselves:
tests/e2e/, and tests/pipeline/test_cli.py with the runner replaced)."""

from __future__ import annotations

import datetime
import re

from pipeline.local.runner import new_run_id


def test_run_ids_are_local_time_to_the_microsecond():
    before = datetime.datetime.now().replace(microsecond=0)
    run_id = new_run_id()
    assert re.fullmatch(r"\d{8}-\d{6}-\d{6}", run_id)
    assert before <= datetime.datetime.strptime(run_id, "%Y%m%d-%H%M%S-%f") <= datetime.datetime.now()


def test_run_ids_sort_in_time_order():
    ids = [new_run_id() for _ in range(50)]
    assert ids == sorted(ids)
