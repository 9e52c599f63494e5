"""pipeline/local/run_log.py: a line per component on the console, everything in the run's log file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pipeline.local.run_log import ComponentProgress, RunLog

absl = logging.getLogger("absl")


@pytest.fixture
def progress(caplog):
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="absl")
    with ComponentProgress() as handler:
        yield handler


def console_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "pipeline.local.run_log"]


def test_current_is_the_running_component_and_none_between(progress, caplog):
    assert progress.current is None
    absl.info("Component %s is running.", "Trainer")
    assert progress.current == "Trainer"
    absl.info("Component %s is finished.", "Trainer")
    assert progress.current is None
    lines = console_lines(caplog)
    assert lines[0] == "Trainer ..." and lines[1].startswith("Trainer done in ") and lines[1].endswith(" s")


def test_components_running_at_the_same_time_are_all_current(progress):
    absl.info("Component %s is running.", "Evaluator-validation")
    absl.info("Component %s is running.", "Evaluator-test")
    assert progress.current == "Evaluator-validation and Evaluator-test"
    absl.info("Component %s is finished.", "Evaluator-validation")
    assert progress.current == "Evaluator-test"


def test_other_lines_change_nothing(progress, caplog):
    absl.info("Component %s is running.", "Trainer")
    absl.info("Running %s", "something else")
    assert progress.current == "Trainer"
    assert console_lines(caplog) == ["Trainer ..."]


def test_progress_stops_listening_on_exit(caplog):
    caplog.set_level(logging.INFO, logger="absl")
    with ComponentProgress() as progress:
        pass
    absl.info("Component %s is running.", "Trainer")
    assert progress.current is None


def test_the_run_log_gets_every_info_line_with_its_logger(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    with RunLog(tmp_path / "runs" / "run.log") as run_log:
        logging.getLogger("tfx.orchestration").info("a library's line")
    logging.getLogger("tfx.orchestration").info("after the run")
    text = run_log.path.read_text()
    assert "INFO tfx.orchestration: a library's line" in text
    assert "after the run" not in text


def test_write_traceback_goes_to_the_file_only(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    with RunLog(tmp_path / "run.log") as run_log:
        try:
            raise ValueError("deep inside a component")
        except ValueError as error:
            run_log.write_traceback(error)
    text = (tmp_path / "run.log").read_text()
    assert "ERROR pipeline.local.run_log: The run failed" in text
    assert "Traceback (most recent call last)" in text and "ValueError: deep inside a component" in text
    assert caplog.records == []  # nothing reached the other handlers (the console)


def test_a_run_log_on_a_full_disk_loses_its_lines_without_a_word(capfd):
    with RunLog(Path("/dev/full")) as run_log:  # every write: ENOSPC
        logging.getLogger("tfx.orchestration").info("a line that cannot be written")
        try:
            raise ValueError("the fault")
        except ValueError as error:
            run_log.write_traceback(error)
    assert capfd.readouterr().err == ""  # logging's default: "--- Logging error ---" and tracebacks
