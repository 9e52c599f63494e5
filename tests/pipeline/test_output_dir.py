"""pipeline/output_dir.py: where each thing lives, and one run at a time per output dir.

The lock is taken by another process (a subprocess this test starts and ends), as a second run would."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from components.errors import PipelineError
from pipeline.output_dir import LOCK_FILE, OutputDirBusy, OutputDirLock, OutputLayout, lies_within, normalized

from conftest import REPO_ROOT

# Takes the lock, says so, and holds it until stdin closes (or the process is killed).
HOLDER = """
import sys
from pathlib import Path
from pipeline.output_dir import OutputDirLock
with OutputDirLock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path):
    """A process that holds the lock on tmp_path; killed at the end if still alive."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    assert process.stdout.readline().strip() == "locked"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def test_layout_of_a_local_output_dir(tmp_path):
    layout = OutputLayout(tmp_path)
    assert layout.pipeline_root == str(tmp_path / "pipeline")
    assert layout.metadata_path == tmp_path / "metadata.sqlite"
    assert layout.schemas_dir == tmp_path / "schemas"
    assert layout.serving_dir == str(tmp_path / "serving")
    assert layout.runs_dir == tmp_path / "runs"
    assert layout.run_file("20261123-173202-370954", ".json") == tmp_path / "runs" / "20261123-173202-370954.json"


def test_artifacts_and_pushed_models_may_live_in_object_storage(tmp_path):
    layout = OutputLayout(tmp_path, pipeline_root_uri="s3://bucket/root", serving_dir_uri="gs://bucket/serving")
    assert (layout.pipeline_root, layout.serving_dir) == ("s3://bucket/root", "gs://bucket/serving")
    assert layout.metadata_path == tmp_path / "metadata.sqlite"  # MLMD and the run files stay local


def test_the_lock_records_its_holder_and_is_released_on_exit(tmp_path):
    with OutputDirLock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text() == str(os.getpid())
    with OutputDirLock(tmp_path):  # released: taken again at once
        pass


def test_a_second_run_stops_at_once_naming_the_holders_pid(tmp_path, holder):
    with pytest.raises(OutputDirBusy) as error:
        with OutputDirLock(tmp_path):
            pytest.fail("the lock was taken twice")
    assert f"another run (process {holder.pid}) is using this output dir" in str(error.value)
    assert str(tmp_path) in str(error.value) and "--output-dir" in str(error.value)
    assert isinstance(error.value, PipelineError)  # one line on the console


def test_the_lock_is_free_again_when_the_holder_ends(tmp_path, holder):
    holder.stdin.close()
    assert holder.wait(timeout=30) == 0
    with OutputDirLock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text() == str(os.getpid())


def test_a_killed_holder_leaves_no_stale_lock(tmp_path, holder):
    holder.kill()
    holder.wait(timeout=10)
    with OutputDirLock(tmp_path):  # the kernel released the flock with the process
        pass


def test_a_folder_holds_what_lies_under_it_by_any_name(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    inner, outer = normalized(str(tmp_path / "link" / "serving")), normalized(str(tmp_path / "real") + "/")
    assert lies_within(inner, outer) and lies_within(outer, outer)
    assert not lies_within(normalized(str(tmp_path / "realm")), outer)  # a name that starts alike
    assert lies_within(normalized("s3://bucket/root/serving/"), normalized("s3://bucket/root"))
