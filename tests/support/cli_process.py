"""`mnist-pipeline` in a process of its own, as a user runs it, with faults injected at exact points.

The process runs the installed script with tests/faults on its PYTHONPATH: its sitecustomize.py
injects the fault that MNIST_TEST_FAULT names (a SIGKILL in the middle of a push, a run held at
a component until the test releases it). It imports the project's code from `Cli.project` when
set (tests/e2e/conftest.py's frozen_project), so that edits to the work tree during a test
session cannot change the code hashes in the cache keys.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(sys.executable).parent / "mnist-pipeline"
FAULTS_DIR = Path(__file__).resolve().parents[1] / "faults"
TIMEOUT = 900  # seconds for one pipeline run, on a busy 2-core machine
_serial = itertools.count()


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def fault_line(self) -> str:
        """The one `error:` or `interrupted` line, with no traceback on the terminal."""
        assert "Traceback" not in self.stderr, self.stderr
        lines = [line for line in self.stderr.splitlines() if line.startswith(("error:", "interrupted"))]
        assert len(lines) == 1, self.stderr
        return lines[0]

    def run_id(self) -> str:
        return re.search(r"^Run (\S+) of pipeline", self.stderr, re.M).group(1)

    def log_path(self) -> Path:
        return Path(re.search(r"^Run \S+ of pipeline .*\(full log: (.+)\)$", self.stderr, re.M).group(1))

    def summary(self, output: Path) -> dict:
        """runs/<run id>.json of the run this process printed, checked to be that run's."""
        summary = json.loads((output / "runs" / f"{self.run_id()}.json").read_text())
        assert summary["run_id"] == self.run_id()
        return summary


class Cli:
    """`mnist-pipeline ARGS` in a process of its own; stdout and stderr go to files (no pipe to
    fill), so the test can watch stderr while the process runs. It runs in `tmp`; with `own_group`, in
    a process group of its own, as a shell starts a command: a signal to the group (the terminal's
    Ctrl-C) reaches the run and its worker processes, and not the test."""

    project: Path | None = None
    started: list[Cli] = []  # killed at the end of the test if still running (kill_leftovers)

    def __init__(
        self,
        tmp: Path,
        *args: str | Path,
        fault: str | None = None,
        env: dict[str, str] | None = None,
        own_group: bool = False,
    ):
        serial = next(_serial)
        self.stdout_path, self.stderr_path = tmp / f"cli-{serial}.stdout", tmp / f"cli-{serial}.stderr"
        paths = [str(FAULTS_DIR), *([str(self.project)] if self.project else []), os.environ.get("PYTHONPATH", "")]
        environment = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(paths)}
        environment.pop("MNIST_TEST_FAULT", None)
        if fault:
            environment["MNIST_TEST_FAULT"] = fault
        with self.stdout_path.open("w") as stdout, self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(
                [str(SCRIPT), *map(str, args)],
                stdout=stdout,
                stderr=stderr,
                env=environment,
                cwd=tmp,
                start_new_session=own_group,
            )
        Cli.started.append(self)

    def wait_for_line(self, pattern: str, timeout: float = TIMEOUT) -> str:
        """The first complete stderr line that matches `pattern`, as soon as it is written."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.stderr_path.read_text().split("\n")[:-1]:
                if re.fullmatch(pattern, line):
                    return line
            assert self.process.poll() is None, f"ended before {pattern!r}:\n{self.stderr_path.read_text()}"
            assert time.monotonic() < deadline, f"no {pattern!r} in {timeout} s"
            time.sleep(0.05)

    def finish(self, timeout: float = TIMEOUT) -> Result:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        return Result(code, self.stdout_path.read_text(), self.stderr_path.read_text())


def cli(tmp: Path, *args: str | Path, fault: str | None = None, env: dict[str, str] | None = None) -> Result:
    return Cli(tmp, *args, fault=fault, env=env).finish()


def held(
    tmp: Path, name: str, *args: str | Path, component: str, env: dict[str, str] | None = None
) -> tuple[Cli, Path]:
    """A run held when it starts `component` (or, for "training", once the Trainer read its data),
    until the returned file is touched; returns once it is held."""
    release = tmp / f"release-{name}"
    run = Cli(tmp, *args, fault=f"hold:{component}", env={**(env or {}), "MNIST_TEST_RELEASE": str(release)})
    wait_for_file(Path(f"{release}.held"), run)
    return run, release


def wait_for_file(path: Path, process: Cli, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.process.poll() is None, process.stderr_path.read_text()
        assert time.monotonic() < deadline, f"{path} did not appear in {timeout} s"
        time.sleep(0.05)
