"""Debian packages that some tests need and the venv cannot hold: Chromium and its driver (the
report in a browser), Graphviz (the lineage graph as SVG). A test session installs them with
apt-get when missing (CI runs as root on a clean machine); a test skips, saying why, only when
that cannot be done."""

from __future__ import annotations

import shutil
import subprocess

import pytest

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def why_missing(packages: list[str], commands: list[str], config: pytest.Config) -> str | None:
    """Installs `packages` unless every one of `commands` is on the PATH already, saying so on the
    terminal first; returns why they are still missing, or None once they are all there."""
    if all(shutil.which(command) for command in commands):
        return None
    if shutil.which("apt-get") is None:
        return f"{' or '.join(commands)} is missing and there is no apt-get to install {' '.join(packages)}"
    _tell(
        config,
        f"Installing the Debian packages {' '.join(packages)} with apt-get (some tests need "
        f"{', '.join(commands)}); about a minute",
    )
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", *packages]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=900, env=APT_ENV, check=False)
        if result.returncode != 0:
            last_line = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
            return (
                f"could not install {' '.join(packages)} ({' '.join(command)} exited {result.returncode}: {last_line})"
            )
    missing = [command for command in commands if shutil.which(command) is None]
    return f"{' '.join(packages)} installed, but {', '.join(missing)} still missing" if missing else None


def _tell(config: pytest.Config, line: str) -> None:
    """A line on the terminal in the middle of a test session (pytest captures the output)."""
    with config.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        print(f"\n{line}", flush=True)
