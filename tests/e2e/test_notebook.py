"""notebooks/mnist_pipeline.ipynb, top to bottom in a real Jupyter kernel (nbclient, ipykernel) on
the small synthetic MNIST; and a notebook's run and a terminal's on one output dir exclude each other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, SMALL_RUN, copy_project
from support.cli_process import FAULTS_DIR, cli, held, wait_for_file

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")

pytestmark = pytest.mark.e2e

NOTEBOOK = REPO_ROOT / "notebooks" / "mnist_pipeline.ipynb"
KERNEL = "mnist-pipeline-test"
CELL_TIMEOUT = 900  # seconds, a pipeline run on a busy 2-core machine
# What the cells left behind, read by one more cell the test adds (not saved).
FACTS = """
import json
print(json.dumps({
    "precision_at_1": run.precision_at_1,
    "blessed": run.blessed,
    "edited_pushed": edited.pushed_version,
    "pushed_version": pushed.pushed_version,
    "served": Path(pushed.summary.pushed.destination).is_dir(),
    "edited_trainer": str(edited.summary.status_of("Trainer")),
    "edited_ingest": str(edited.summary.status_of("IdxExampleGen")),
    "runs": len(p.runs()),
    "traced": p.trace().trace.artifact.type,
    "digits": predictions.digits,
}))
"""


def small_settings() -> dict[str, object]:
    """conftest's SMALL_RUN (`--set key=value` pairs) as the notebook's SETTINGS."""
    import yaml

    pairs = [text.split("=", 1) for text in SMALL_RUN[1::2]]
    return {key: yaml.safe_load(value) for key, value in pairs}


def test_the_committed_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_the_notebook_runs_top_to_bottom_in_a_kernel(fake_mnist_dir, tmp_path, monkeypatch):
    kernelspec.install(kernel_name=KERNEL, prefix=str(tmp_path / "jupyter"))  # this venv's python
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter" / "share" / "jupyter"))
    # The kernel imports a copy of the code: work-tree edits meanwhile would change the cache keys' code hashes.
    project = copy_project(tmp_path / "project")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(project), os.environ.get("PYTHONPATH", "")]))
    output_dir = tmp_path / "outputs"
    monkeypatch.setenv("MNIST_DATA_DIR", str(fake_mnist_dir))
    monkeypatch.setenv("MNIST_OUTPUT_DIR", str(output_dir))
    monkeypatch.setenv("MNIST_SETTINGS", json.dumps(small_settings()))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(FACTS))

    nbclient.NotebookClient(
        notebook, kernel_name=KERNEL, timeout=CELL_TIMEOUT, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()

    outputs = {index: cell.outputs for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"}
    assert not [output for cell in outputs.values() for output in cell if output.output_type == "error"]
    shown = [output.get("data", {}) for cell in outputs.values() for output in cell]
    assert any("<iframe" in data.get("text/html", "") and "srcdoc=" in data["text/html"] for data in shown)  # a run
    assert any("<table>" in data.get("text/html", "") for data in shown)  # runs, diff, trace, predictions
    facts = json.loads(next(o.text for o in notebook.cells[-1].outputs if o.output_type == "stream"))
    assert set(facts["precision_at_1"]) == {"validation", "test"}
    assert all(0.5 <= value <= 1.0 for value in facts["precision_at_1"].values())
    assert facts["blessed"] is True
    assert facts["edited_trainer"] == "ran" and facts["edited_ingest"] == "cached"
    assert facts["edited_pushed"] is None  # push=False
    assert facts["pushed_version"] is not None and facts["served"]
    assert facts["runs"] == 3 and facts["traced"] == "PushedModel"
    assert len(facts["digits"]) == 8 and all(digit in range(10) for digit in facts["digits"])


def test_a_notebook_run_is_refused_while_a_terminal_run_holds_the_output_dir(fake_mnist_dir, tmp_path, kill_leftovers):
    from pipeline.notebook import Pipeline, PipelineFault

    output_dir = tmp_path / "outputs"
    terminal, release = held(
        tmp_path,
        "terminal",
        "run",
        "--data-dir",
        fake_mnist_dir,
        "--output-dir",
        output_dir,
        *SMALL_RUN,
        component="IdxExampleGen",
    )
    with pytest.raises(PipelineFault) as refused:
        Pipeline(output_dir, fake_mnist_dir, settings=small_settings()).run()
    assert str(refused.value) == (
        f"{output_dir}: another run (process {terminal.process.pid}) is using this output dir; "
        "wait for it to end or give another --output-dir"
    )
    assert refused.value._render_traceback_() == [f"error: {refused.value}"]  # what IPython prints
    release.touch()
    assert terminal.finish().code == 0


def test_a_terminal_run_is_refused_while_a_notebook_run_holds_the_output_dir(fake_mnist_dir, tmp_path):
    output_dir, release = tmp_path / "outputs", tmp_path / "release"
    code = (
        "from pipeline.notebook import Pipeline; "
        f"Pipeline({str(output_dir)!r}, {str(fake_mnist_dir)!r}, settings={small_settings()!r}).run()"
    )
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(FAULTS_DIR), os.environ.get("PYTHONPATH", "")]),
        "MNIST_TEST_FAULT": "hold:IdxExampleGen",
        "MNIST_TEST_RELEASE": str(release),
    }
    notebook = subprocess.Popen([sys.executable, "-c", code], env=environment, cwd=tmp_path)
    try:
        wait_for_file(Path(f"{release}.held"), _Watched(notebook))
        terminal = cli(tmp_path, "run", "--data-dir", fake_mnist_dir, "--output-dir", output_dir, *SMALL_RUN)
        assert terminal.code == 1
        assert terminal.fault_line() == (
            f"error: {output_dir}: another run (process {notebook.pid}) is using this output dir; "
            "wait for it to end or give another --output-dir"
        )
    finally:
        notebook.kill()
        notebook.wait()


class _Watched:
    """What cli_process.wait_for_file watches: a process that must not end first."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.stderr_path = Path(os.devnull)
