"""An interrupt ends the run's executors before the run reports (issue 27, point 1): the console,
the summary, the report and ML Metadata all say what happened; nothing is pushed after
"interrupted"; a worker stopped with SIGSTOP cannot keep the run from exiting; the next run resumes.

Each run is held at an exact point inside the worker process that runs a component's executor
(tests/faults/sitecustomize.py: hold_executor, hold_during_copy), which is where an interrupt
used to leave the executor running after the run had reported.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2

from conftest import SMALL_RUN
from support.cli_process import Cli, Result, cli, wait_for_file

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("frozen_project", "kill_leftovers")]

RESUME = "the next run resumes from the cached components"
EXIT_GUARD_SECONDS = 300  # a hang guard, not a measure: a run ends its workers in seconds


def run_args(data: Path, output: Path, learning_rate: str) -> list[str | Path]:
    return [
        "run",
        "--data-dir",
        data,
        "--output-dir",
        output,
        *SMALL_RUN,
        "--set",
        f"training.learning_rate={learning_rate}",
    ]


def served_versions(output: Path) -> list[str]:
    return sorted(path.name for path in (output / "serving").iterdir() if path.name.isdigit())


def recorded_pushes(output: Path) -> set[str]:
    from pipeline.inspect import store as inspect_store

    store = inspect_store.open_store(output / "metadata.sqlite")
    return {
        artifact.custom_properties["pushed_version"].string_value
        for artifact in store.get_artifacts_by_type("PushedModel")
        if artifact.custom_properties["pushed"].int_value == 1
    }


def recorded_states(output: Path, run_id: str) -> dict[str, str]:
    """Component -> the state ML Metadata holds for its execution in run `run_id` (CANCELED, FAILED, ...)."""
    from pipeline.inspect import runs
    from pipeline.inspect import store as inspect_store

    store = inspect_store.open_store(output / "metadata.sqlite")
    run = runs.load(store, inspect_store.find_run_context(store, run_id))
    by_id = {execution.id: execution for execution in store.get_executions_by_id([c.id for c in run.executions])}
    return {
        component.node_id: metadata_store_pb2.Execution.State.Name(by_id[component.id].last_known_state)
        for component in run.executions
    }


def held_at(tmp_path: Path, fault: str, *args: str | Path) -> tuple[Cli, int]:
    """A run held at `fault` (tests/faults/sitecustomize.py); returns once it is held, with the
    id of the process held (the worker that runs the executor)."""
    release = tmp_path / f"release-{fault.replace(':', '-')}"
    run = Cli(tmp_path, *args, fault=fault, env={"MNIST_TEST_RELEASE": str(release)})
    wait_for_file(Path(f"{release}.held"), run)
    held_pid = int(Path(f"{release}.held").read_text())
    assert held_pid != run.process.pid  # the executor runs in a worker process, as a user's run's does
    return run, held_pid


def interrupt(run: Cli, pid: int, stop_worker: bool) -> Result:
    """SIGTERM to the run (after SIGSTOP to its worker `pid` if `stop_worker`); the run must end
    within the guard, and so must the worker it held."""
    if stop_worker:
        os.kill(pid, signal.SIGSTOP)
    run.process.send_signal(signal.SIGTERM)
    stopped = run.finish(EXIT_GUARD_SECONDS)
    assert not Path(f"/proc/{pid}").exists(), "the held worker outlived its run"
    return stopped


def assert_reported_interrupted(stopped: Result, output: Path, component: str, tmp_path: Path) -> None:
    """Exit 143, one line naming `component`, and the summary, the report and the store agree."""
    assert stopped.code == 128 + signal.SIGTERM, stopped.stderr
    assert re.fullmatch(
        rf"interrupted during ([\w.-]+ and )*{component}( and [\w.-]+)* \(SIGTERM\); {RESUME}", stopped.fault_line()
    )
    summary = stopped.summary(output)
    assert summary["status"] == "interrupted" and summary["pushed"] is None
    statuses = {entry["component"]: entry["status"] for entry in summary["components"]}
    assert statuses[component] == "interrupted"
    states = recorded_states(output, stopped.run_id())
    assert states[component] == "CANCELED"
    assert not {"FAILED", "RUNNING", "NEW"} & set(states.values()), states
    report = cli(tmp_path, "report", stopped.run_id(), "--output-dir", output)
    assert report.code == 0, report.stderr
    page = Path(re.search(r"^Report: (.+)$", report.stdout, re.M).group(1)).read_text()
    assert f"<title>Run {stopped.run_id()}: interrupted</title>" in page


def test_an_interrupt_ends_the_running_executors_and_nothing_is_pushed_after_it(fake_mnist_dir, tmp_path):
    output = tmp_path / "out"
    first = cli(tmp_path, *run_args(fake_mnist_dir, output, "0.0071"))
    assert first.code == 0, first.stderr
    versions, pushes = served_versions(output), recorded_pushes(output)
    assert len(versions) == 1 and pushes == set(versions)
    args = run_args(fake_mnist_dir, output, "0.0072")  # a new model: trained, evaluated, pushed

    # During an Evaluator: its worker is ended, its execution recorded interrupted, not failed.
    evaluating, held_pid = held_at(tmp_path, "hold_executor:Evaluator-validation", *args)
    stopped = interrupt(evaluating, held_pid, stop_worker=False)
    assert_reported_interrupted(stopped, output, "Evaluator-validation", tmp_path)
    assert served_versions(output) == versions and recorded_pushes(output) == pushes

    # During the Pusher's copy, its worker stopped with SIGSTOP: the run still exits; nothing is
    # published (the partial copy is in a staging folder, which TF Serving ignores), nothing recorded.
    pushing, held_pid = held_at(tmp_path, "hold_during_copy", *args)
    stopped = interrupt(pushing, held_pid, stop_worker=True)
    assert_reported_interrupted(stopped, output, "Pusher", tmp_path)
    assert served_versions(output) == versions and recorded_pushes(output) == pushes
    assert [path.name for path in (output / "serving").iterdir() if path.name.startswith(".staging-")]

    # The next run resumes: the model is pushed, published and recorded, the staging folder removed.
    resumed = cli(tmp_path, *args)
    assert resumed.code == 0, resumed.stderr
    assert "left by a push that was interrupted" in resumed.stderr
    [new_version] = set(served_versions(output)) - set(versions)
    assert recorded_pushes(output) == {*pushes, new_version}
    assert not [path for path in (output / "serving").iterdir() if path.name.startswith(".staging-")]
