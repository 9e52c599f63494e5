"""components/beam_worker.py: a Beam worker process that imports it ends with the code it would
have had, without C++ static destructors (which abort after s3:// use). Each case runs in a
process of its own, as a Beam worker does; tensorflow_io is stubbed there (seconds to import,
and the s3:// registration is the object-storage tests' subject)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO_ROOT

STUB = "import sys, types\nsys.modules['tensorflow_io'] = types.ModuleType('tensorflow_io')\n"


def exit_code_of(source: str, before_import: str = "") -> int:
    program = f"{STUB}{before_import}\nimport components.beam_worker\n{source}"
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO_ROOT, capture_output=True, timeout=120, check=False
    )
    return result.returncode


def test_a_worker_that_ends_normally_exits_0():
    assert exit_code_of("") == 0


def test_the_exit_skips_the_atexit_handlers_registered_before_it():
    """They would run C++ destructors' Python side; logging's flush runs in its place."""
    assert exit_code_of("", before_import="import atexit, os\natexit.register(os._exit, 7)") == 0


def test_a_worker_that_dies_of_an_uncaught_exception_exits_1():
    assert exit_code_of("raise ValueError('a failed bundle')") == 1


def test_a_worker_that_calls_sys_exit_keeps_its_code():
    assert exit_code_of("import sys; sys.exit(3)") == 3
