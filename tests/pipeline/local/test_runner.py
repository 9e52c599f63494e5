"""pipeline/local/runner.py, the parts that need no pipeline run: run ids, partial runs, signals."""

from __future__ import annotations

import datetime
import re
import signal
from pathlib import Path

import pytest

from pipeline.local import runner
from pipeline.local.run_log import ComponentProgress
from pipeline.local.runner import RunFailed, RunInterrupted, new_run_id


def test_run_ids_are_local_time_to_the_microsecond():
    before = datetime.datetime.now().replace(microsecond=0)
    run_id = new_run_id()
    assert re.fullmatch(r"\d{8}-\d{6}-\d{6}", run_id)
    assert before <= datetime.datetime.strptime(run_id, "%Y%m%d-%H%M%S-%f") <= datetime.datetime.now()


def test_run_ids_sort_in_time_order():
    ids = [new_run_id() for _ in range(50)]
    assert ids == sorted(ids)


def test_a_whole_run_has_no_run_options():
    assert runner._run_options(None) is None


def test_no_push_stops_at_the_evaluators_and_reuses_the_latest_run():
    options = runner._run_options(runner.NO_PUSH).partial_run
    assert list(options.to_nodes) == ["Evaluator-validation", "Evaluator-test"]
    assert not options.from_nodes  # from the start
    assert options.snapshot_settings.HasField("latest_pipeline_run_strategy")
    assert runner.NO_PUSH.reads_data


def test_a_push_runs_from_the_serving_probe_to_the_pusher_on_the_runs_artifacts():
    partial = runner.push_of("20261129-120000-000001")
    options = runner._run_options(partial).partial_run
    assert (list(options.from_nodes), list(options.to_nodes)) == (["ServingProbe"], ["Pusher"])
    assert options.snapshot_settings.base_pipeline_run_strategy.base_run_id == "20261129-120000-000001"
    assert not partial.reads_data  # the data dir is not checked: the ingest does not run


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_run_raises_run_interrupted_naming_the_component(signal_number):
    progress = ComponentProgress()
    progress._started["Trainer"] = 0.0  # as if the Trainer's start had been logged
    previous = signal.getsignal(signal_number)
    with pytest.raises(RunInterrupted) as error:
        with runner._signals_as_exceptions(progress):
            signal.raise_signal(signal_number)  # to this thread: Python runs the handler before this call returns
            pytest.fail("the signal did not interrupt")
    assert (error.value.signal_number, error.value.component) == (signal_number, "Trainer")
    assert str(error.value) == signal.Signals(signal_number).name
    assert signal.getsignal(signal_number) is previous  # the handlers are put back


def test_run_failed_names_the_log():
    error = RunFailed(Path("/out/runs/x.log"), "Trainer")
    assert str(error) == "the run failed (full log: /out/runs/x.log)"
    assert (error.component, error.log_path) == ("Trainer", Path("/out/runs/x.log"))


@pytest.fixture
def package_builds(tmp_path, monkeypatch) -> list[str]:
    """TFX's real sdist builds made while the test runs, in order; the package cache in tmp_path."""
    from tfx.utils import dependency_utils

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    builds: list[str] = []
    real_build = dependency_utils.build_ephemeral_package

    def counted_build() -> str:
        builds.append(real_build())
        return builds[-1]

    monkeypatch.setattr(dependency_utils, "build_ephemeral_package", counted_build)
    return builds


def beam_flags(beam_args: list[str]) -> list[str]:
    """The Beam args a TFX Beam executor runs with, during a run with `beam_args`."""
    from tfx.utils import dependency_utils

    with runner._beam_packaging(beam_args):
        return dependency_utils.make_beam_dependency_flags(beam_args)


def test_the_tfx_package_for_remote_workers_is_built_once_per_tfx_code(package_builds, tmp_path):
    portable = ["--runner=PortableRunner", "--job_endpoint=localhost:8099", "--environment_type=EXTERNAL"]
    first = beam_flags(portable)
    again = beam_flags(portable)  # another step, another run
    assert len(package_builds) == 1
    assert first == again == [*portable, f"--extra_package={first[-1].partition('=')[2]}"]
    package = Path(first[-1].partition("=")[2])
    assert package.parent.parent == runner.tfx_package_cache() and package.name.startswith("tfx_ephemeral-")
    assert package.stat().st_size > 0


def test_no_tfx_package_where_the_workers_run_in_this_process(package_builds):
    for beam_args in ([], ["--runner=DirectRunner"], ["--runner=FlinkRunner", "--environment_type=LOOPBACK"]):
        assert beam_flags(beam_args) == beam_args
    assert package_builds == []


def test_a_second_signal_does_not_cut_short_the_ending_of_an_interrupted_run():
    progress = ComponentProgress()
    with runner._signals_as_exceptions(progress):
        with pytest.raises(RunInterrupted):
            signal.raise_signal(signal.SIGTERM)
            pytest.fail("the signal did not interrupt")
        signal.raise_signal(signal.SIGINT)  # while the run ends its executors and records them: ignored
        signal.raise_signal(signal.SIGTERM)


def test_a_dead_worker_fails_the_run_naming_its_component_and_the_log(tmp_path):
    from pipeline.local.executor_processes import WorkerDied

    died = WorkerDied("Evaluator-test", -9)
    failed = runner._run_error(died, tmp_path / "run.log", "Evaluator-test and Pusher", tmp_path / "metadata.sqlite")
    assert isinstance(failed, RunFailed)
    assert (failed.component, failed.log_path) == ("Evaluator-test", tmp_path / "run.log")
