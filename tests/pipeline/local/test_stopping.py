"""pipeline/local/stopping.py: signals during a run, and what a run that stopped raises."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from components.errors import PipelineError
from pipeline.local.run_log import ComponentProgress
from pipeline.local.stopping import RunFailed, RunInterrupted, WorkerDied, run_error, signals_as_exceptions


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_run_raises_run_interrupted_naming_the_component(signal_number):
    progress = ComponentProgress()
    progress._started["Trainer"] = 0.0  # as if the Trainer's start had been logged
    previous = signal.getsignal(signal_number)
    with pytest.raises(RunInterrupted) as error:
        with signals_as_exceptions(progress):
            signal.raise_signal(signal_number)  # to this thread: Python runs the handler before this call returns
            pytest.fail("the signal did not interrupt")
    assert (error.value.signal_number, error.value.component) == (signal_number, "Trainer")
    assert str(error.value) == signal.Signals(signal_number).name
    assert signal.getsignal(signal_number) is previous  # the handlers are put back


def test_a_second_signal_does_not_cut_short_the_ending_of_an_interrupted_run():
    progress = ComponentProgress()
    with signals_as_exceptions(progress):
        with pytest.raises(RunInterrupted):
            signal.raise_signal(signal.SIGTERM)
            pytest.fail("the signal did not interrupt")
        signal.raise_signal(signal.SIGINT)  # while the run ends its executors and records them: ignored
        signal.raise_signal(signal.SIGTERM)


def test_run_failed_names_the_log():
    error = RunFailed(Path("/out/runs/x.log"), "Trainer")
    assert str(error) == "the run failed (full log: /out/runs/x.log)"
    assert (error.component, error.log_path) == ("Trainer", Path("/out/runs/x.log"))


def test_a_dead_worker_fails_the_run_naming_its_component_and_the_log(tmp_path):
    died = WorkerDied("Evaluator-test", -9)
    failed = run_error(died, tmp_path / "run.log", "Evaluator-test and Pusher", tmp_path / "metadata.sqlite")
    assert isinstance(failed, RunFailed)
    assert (failed.component, failed.log_path, failed.store) == (
        "Evaluator-test",
        tmp_path / "run.log",
        tmp_path / "metadata.sqlite",
    )


def test_bad_input_and_interrupts_are_raised_as_they_are_anything_else_fails_the_run(tmp_path):
    bad_input, interrupt = PipelineError("data/x: not an IDX file"), RunInterrupted(signal.SIGINT, None)
    assert run_error(bad_input, tmp_path / "run.log", "IdxExampleGen", tmp_path) is bad_input
    assert run_error(interrupt, tmp_path / "run.log", None, tmp_path) is interrupt
    failed = run_error(ValueError("a bug in a component"), tmp_path / "run.log", "Trainer", tmp_path)
    assert isinstance(failed, RunFailed) and failed.component == "Trainer"
