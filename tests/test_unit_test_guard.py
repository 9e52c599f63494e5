"""`make test-fast` runs no pipeline: tests/support/unit_test_guard.py fails a unit test that starts one."""

from __future__ import annotations

import pytest

from conftest import REPO_ROOT, TESTS_DIR
from support.unit_test_guard import MESSAGE, PipelineRunRefused, pipeline_runs_refused

SUITE = """
import pytest
from pipeline.local import runner

def test_unit_calls_the_runner():
    runner.run_pipeline(None, "data", None, [])

def test_unit_hides_the_attempt():
    try:
        runner.run_pipeline(None, "data", None, [])
    except BaseException:
        pass

def test_unit_without_a_run():
    assert runner.new_run_id()

@pytest.mark.e2e
def test_e2e_may_run_pipelines():
    assert runner.run_pipeline.__module__ == "pipeline.local.runner"
"""


def test_unit_tests_that_start_a_pipeline_fail_and_e2e_tests_may(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", f"{REPO_ROOT}:{TESTS_DIR}")
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # seconds of start-up for nothing
    pytester.makeini("[pytest]\nmarkers = e2e: runs pipelines\n")
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess("-p", "support.unit_test_guard", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([f"*test_unit_calls_the_runner {MESSAGE}*"])
    result.stdout.fnmatch_lines(["*FAILED*test_unit_hides_the_attempt*"])


def test_the_runner_is_refused_while_inside_and_restored_after():
    from pipeline.local import runner

    before = runner.run_pipeline  # already refused: this test is a unit test too
    attempts: list[str] = []
    with pipeline_runs_refused("a test", attempts):
        assert runner.run_pipeline is not before
        with pytest.raises(PipelineRunRefused, match="a test runs a pipeline but is not marked e2e"):
            runner.run_pipeline(None, "data", None, [])
    assert attempts == ["a test"]
    assert runner.run_pipeline is before
