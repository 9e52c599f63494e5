"""components/workarounds.py: each workaround does what its caller needs, so that deleting it
once upstream is fixed (as each one's comment says when) shows here first."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from components import workarounds

from conftest import REPO_ROOT


def exit_code_of(source: str) -> int:
    """The exit code of a Python process running `source` (the exit works in a process of its own)."""
    done = subprocess.run([sys.executable, "-c", source], cwd=REPO_ROOT, capture_output=True, timeout=120, check=False)
    return done.returncode


# --- the exit that tensorflow-io cannot abort ---------------------------------------------------


STUB = "import sys, types\nsys.modules['tensorflow_io'] = types.ModuleType('tensorflow_io')\n"


@pytest.mark.parametrize("stub", ["", STUB], ids=["without tensorflow-io", "with tensorflow-io"])
def test_exit_process_ends_with_its_code_after_the_atexit_handlers(stub):
    """The handlers run (logging's flush among them), and the code is the one given."""
    source = f"{stub}import atexit, os\natexit.register(os._exit, 7)\nfrom components.workarounds import exit_process\n"
    assert exit_code_of(source + "exit_process(3)") == 7  # the handler ran, and ended it first
    assert exit_code_of(f"{stub}from components.workarounds import exit_process\nexit_process(3)") == 3


def test_a_task_that_raises_exits_1_and_one_that_returns_0():
    run = f"{STUB}from components.workarounds import run_then_exit\n"
    assert exit_code_of(run + "run_then_exit(lambda argv: None, [], 'task')") == 0
    assert exit_code_of(run + "def main(argv): raise ValueError('bad')\nrun_then_exit(main, [], 'task')") == 1


# --- no TFX sdist for Beam workers that are this process ----------------------------------------


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

    with workarounds.beam_packaging(beam_args):
        return dependency_utils.make_beam_dependency_flags(beam_args)


def test_the_tfx_package_for_remote_workers_is_built_once_per_tfx_code(package_builds):
    portable = ["--runner=PortableRunner", "--job_endpoint=localhost:8099", "--environment_type=EXTERNAL"]
    first = beam_flags(portable)
    again = beam_flags(portable)  # another step, another run
    assert len(package_builds) == 1
    assert first == again == [*portable, f"--extra_package={first[-1].partition('=')[2]}"]
    package = Path(first[-1].partition("=")[2])
    assert package.parent.parent == workarounds.tfx_package_cache() and package.name.startswith("tfx_ephemeral-")
    assert package.stat().st_size > 0


def test_no_tfx_package_where_the_workers_run_in_this_process(package_builds):
    for beam_args in ([], ["--runner=DirectRunner"], ["--runner=FlinkRunner", "--environment_type=LOOPBACK"]):
        assert beam_flags(beam_args) == beam_args
    assert package_builds == []


# --- what does not survive a fork ----------------------------------------------------------------


def test_executors_fork_only_on_linux_with_every_path_on_local_disk_before_tensorflow_ran(monkeypatch):
    monkeypatch.setattr(workarounds, "tensorflow_started", lambda: False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert workarounds.executors_can_fork(["/data", "/out/pipeline", "/out/serving"])
    assert not workarounds.executors_can_fork(["/data", "s3://bucket/pipeline", "/out/serving"])
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not workarounds.executors_can_fork(["/data"])
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(workarounds, "tensorflow_started", lambda: True)
    assert not workarounds.executors_can_fork(["/data"])


def test_why_executors_cannot_fork_names_the_first_reason_or_none(monkeypatch):
    monkeypatch.setattr(workarounds, "tensorflow_started", lambda: False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert workarounds.why_executors_cannot_fork(["/data", "/out/serving"]) is None
    reason = workarounds.why_executors_cannot_fork(["/data", "gs://bucket/pipeline"])
    assert reason is not None and "gs://bucket/pipeline" in reason and "object storage" in reason
    monkeypatch.setattr(workarounds, "tensorflow_started", lambda: True)
    reason = workarounds.why_executors_cannot_fork(["/data"])
    assert reason is not None and "TensorFlow already ran" in reason
    monkeypatch.setattr(sys, "platform", "darwin")
    reason = workarounds.why_executors_cannot_fork(["/data"])
    assert reason is not None and "darwin" in reason


def test_tensorflow_started_only_once_an_op_ran():
    script = textwrap.dedent(
        """
        import tensorflow as tf
        from components.workarounds import tensorflow_started
        tf.io.gfile.exists("/tmp")  # file systems start no runtime
        before = tensorflow_started()
        tf.constant(1) + 1
        print(before, tensorflow_started())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["False", "True"], done.stderr
