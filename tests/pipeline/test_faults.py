"""pipeline/faults.py: an error's causes; a full disk named by the file that could not be written,
as each writer reports it (the messages are those seen in runs on a full tmpfs, tests/e2e/test_faults.py)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from pipeline.faults import causes, first_line, no_space

STORE = Path("/out/metadata.sqlite")
HDF5 = (
    "Unable to synchronously create file (file write failed: time = Sun Dec  6 01:25:36 2026\n"
    ", filename = '/out/pipeline/Trainer/model_run/10/checkpoints/step-000030.weights.h5', file descriptor = 14, "
    "errno = 28, error message = 'No space left on device', buf = 0x55604b4e1f18, total write size = 96)"
)
TENSORFLOW = "/out/pipeline/Trainer/model_run/10/train/events.out.tfevents.1.v2; No space left on device"
MLMD = "Error when executing query: database or disk is full query:  UPDATE `Execution` SET ..."


def test_causes_go_outermost_first_through_cause_and_context():
    inner, middle, outer = OSError("inner"), ValueError("middle"), RuntimeError("outer")
    middle.__context__ = inner  # raised while handling `inner`
    outer.__cause__ = middle  # raise ... from middle
    assert causes(outer) == [outer, middle, inner]


def test_a_cycle_of_causes_ends():
    first, second = ValueError("one"), RuntimeError("two")
    first.__context__, second.__context__ = second, first
    assert causes(second) == [second, first]


def raised_while_handling(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__context__ = inner
    return outer


@pytest.mark.parametrize(
    "error, line",
    [
        (OSError(errno.ENOSPC, "No space left on device", "/out/runs/x.json"), "writing /out/runs/x.json"),
        (OSError(errno.EDQUOT, "Disk quota exceeded", "/home/u/out"), "writing /home/u/out"),
        (OSError(errno.ENOSPC, HDF5), "writing /out/pipeline/Trainer/model_run/10/checkpoints/step-000030.weights.h5"),
        (RuntimeError(TENSORFLOW), "writing /out/pipeline/Trainer/model_run/10/train/events.out.tfevents.1.v2"),
        (RuntimeError(MLMD), f"writing {STORE}"),
    ],
)
def test_each_writer_s_full_disk_names_its_file(error, line):
    assert no_space(error, STORE) == f"no space left on device {line}"


def test_a_full_disk_whose_file_is_not_known_is_left_to_the_error_s_own_line():
    flush = OSError(errno.ENOSPC, "No space left on device")  # a stream's flush names no file
    assert no_space(raised_while_handling(RuntimeError(MLMD), flush), STORE) is None
    assert no_space(RuntimeError(MLMD)) is None


def test_the_write_that_failed_first_is_named_not_the_store_that_could_not_record_it():
    failed_then_not_recorded = raised_while_handling(RuntimeError(MLMD), OSError(errno.ENOSPC, HDF5))
    assert no_space(failed_then_not_recorded, STORE) == (
        "no space left on device writing /out/pipeline/Trainer/model_run/10/checkpoints/step-000030.weights.h5"
    )


def test_other_faults_are_not_a_full_disk():
    assert no_space(OSError(errno.EROFS, "Read-only file system", "/out"), STORE) is None
    assert no_space(RuntimeError("database is locked"), STORE) is None


def test_first_line_is_an_errors_first_line_or_its_type_when_it_says_nothing():
    assert first_line(ValueError("  bad value\n  at line 3\n")) == "bad value"
    assert first_line(KeyboardInterrupt()) == "KeyboardInterrupt"
    assert first_line(OSError("   ")) == "OSError"
