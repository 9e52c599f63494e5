"""pipeline/local/concurrent_dag_runner.py: when an interrupt still leaves a complete run.
(Every local run goes through the runner: tests/e2e/test_pipeline_e2e.py, test_interrupts.py.)"""

from __future__ import annotations

import concurrent.futures

from pipeline.local.concurrent_dag_runner import _all_finished


def future(error: BaseException | None = None) -> concurrent.futures.Future:
    ended: concurrent.futures.Future = concurrent.futures.Future()
    if error is None:
        ended.set_result(None)
    else:
        ended.set_exception(error)
    return ended


def test_a_run_is_complete_only_when_every_node_ran_and_ended_well():
    assert _all_finished(3, {"DataProbe", "Trainer"}, {future(): "Pusher"})


def test_nodes_that_never_started_leave_the_run_interrupted():
    """An interrupt as cached components end: the Evaluators and the Pusher have not started."""
    assert not _all_finished(13, {"DataProbe", "Trainer"}, {future(): "DataGate"})


def test_a_component_still_running_or_ended_by_the_interrupt_leaves_the_run_interrupted():
    assert not _all_finished(2, {"Trainer"}, {concurrent.futures.Future(): "Pusher"})
    assert not _all_finished(2, {"Trainer"}, {future(KeyboardInterrupt()): "Pusher"})
    assert not _all_finished(2, {"Trainer"}, {future(RuntimeError("failed")): "Pusher"})
