"""The cache follows the code: editing a module that the ingest imports re-runs the ingest.

A copy of the project (components/, pipeline/, configs/) runs the pipeline up to IdxExampleGen
in a subprocess whose imports come from the copy, so the code that is hashed is the code that
runs: once, again unchanged (cached), then after a comment is appended to the copy's
components/idx_example_gen/idx.py (ran again). Statuses come from the run summaries,
runs/<run id>.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_project

pytestmark = pytest.mark.e2e

# Runs the pipeline up to the ingest in the project copy that is the working directory; prints
# the run id and where the runner's code was imported from.
PARTIAL_RUN = """
import json, sys
from pathlib import Path
from pipeline.local import runner
from pipeline.local.partial_run import PartialRun
from pipeline.config import load_config
from pipeline.output_dir import OutputLayout

config = load_config(overrides=["ingest.validation_size=100", "ingest.records_per_shard=250", "training.batch_size=20"])
summary = runner.run_pipeline(config, sys.argv[1], OutputLayout(Path(sys.argv[2])), beam_args=[],
                             partial=PartialRun(to_nodes=("IdxExampleGen",)))
print(json.dumps({"run_id": summary.run_id, "code": runner.__file__}))
"""


def run_ingest(project: Path, data_dir: Path, output_dir: Path) -> dict[str, str]:
    """One partial run in the copy; returns each component's status from the run's summary file."""
    environment = {**os.environ, "PYTHONPATH": str(project), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", PARTIAL_RUN, str(data_dir), str(output_dir)],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(printed["code"]).is_relative_to(project)  # the copy's code ran, not the tree's
    summary = json.loads((output_dir / "runs" / f"{printed['run_id']}.json").read_text())
    return {component["component"]: component["status"] for component in summary["components"]}


def test_editing_a_module_the_ingest_imports_reruns_the_ingest(tmp_path, fake_mnist_dir):
    project = copy_project(tmp_path / "project")
    output_dir = tmp_path / "outputs"

    assert run_ingest(project, fake_mnist_dir, output_dir)["IdxExampleGen"] == "ran"
    assert run_ingest(project, fake_mnist_dir, output_dir)["IdxExampleGen"] == "cached"

    idx = project / "components" / "idx_example_gen" / "idx.py"
    idx.write_text(idx.read_text() + "\n# An edit: the ingest's code changed.\n")
    assert run_ingest(project, fake_mnist_dir, output_dir)["IdxExampleGen"] == "ran"
