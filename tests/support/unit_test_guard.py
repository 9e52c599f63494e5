"""A pytest plugin: a test not marked e2e that starts a pipeline run fails, naming the rule.

`make test-fast` (`pytest -m "not e2e"`) promises unit tests only. Registered by
tests/conftest.py; while a test that is not marked e2e runs (its fixtures' setup included),
the runner's entry points raise instead of running a pipeline, and the test fails even if it
catches that.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import pytest

MESSAGE = "runs a pipeline but is not marked e2e: mark it @pytest.mark.e2e (make test-fast runs unit tests only)"
# module -> attributes that start a pipeline run; the TFX ones are patched only when loaded already.
ENTRY_POINTS = {
    "pipeline.local.runner": ("run_pipeline",),
    "pipeline.local.dag": ("run",),
    "tfx.orchestration.portable.launcher": ("Launcher.launch",),
}


class PipelineRunRefused(BaseException):
    """Raised in place of a pipeline run; a BaseException, so that no `except Exception` hides it."""


@contextlib.contextmanager
def pipeline_runs_refused(test_name: str, attempts: list[str]) -> Iterator[None]:
    """While inside: every entry point in ENTRY_POINTS raises PipelineRunRefused and notes the attempt."""
    import pipeline.local.runner  # noqa: F401  (light: no TensorFlow)

    patches = []
    for module_name, attributes in ENTRY_POINTS.items():
        module = sys.modules.get(module_name)
        for attribute in attributes if module is not None else ():
            *owner_path, name = attribute.split(".")
            owner = module
            for part in owner_path:
                owner = getattr(owner, part)
            patches.append((owner, name, owner.__dict__[name]))

    def refuse(*args, **kwargs):
        attempts.append(test_name)
        raise PipelineRunRefused(f"{test_name} {MESSAGE}")

    for owner, name, _ in patches:
        setattr(owner, name, refuse)
    try:
        yield
    finally:
        for owner, name, original in patches:
            setattr(owner, name, original)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if item.get_closest_marker("e2e") is not None:
        return (yield)
    attempts: list[str] = []
    item.stash[_ATTEMPTS] = attempts
    with pipeline_runs_refused(item.nodeid, attempts):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Fails the test's phase in which a run was attempted, even when the test caught the error."""
    report = yield
    attempts = item.stash.get(_ATTEMPTS, [])
    if attempts and report.passed:
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} {MESSAGE}"
    attempts.clear()  # one failed phase per attempt
    return report


_ATTEMPTS = pytest.StashKey[list]()
