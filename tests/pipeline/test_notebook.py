"""pipeline/notebook.py without a pipeline run: settings as the CLI's --set, faults in one line,
and what Jupyter shows (a run's report in a frame of its own, tables escaped). Runs in a kernel:
tests/e2e/test_notebook.py."""

from __future__ import annotations

import html
import sys
from pathlib import Path

import numpy as np
import pytest

from components.errors import PipelineError
from pipeline import notebook
from pipeline.config import ConfigError, load_config
from pipeline.inspect.run_summary import Blessing, ComponentOutcome, EvaluatorFigures, Push, RunSummary
from pipeline.inspect.states import ComponentStatus, RunStatus
from pipeline.local.stopping import RunFailed, RunInterrupted
from pipeline.notebook import Pipeline, PipelineFault, Run, html_table, overrides_of

from support import mlmd_builder

RUN_ID = "20260101-120000-000001"


def summary(pushed_version: str | None = "3") -> RunSummary:
    return RunSummary(
        RUN_ID,
        RunStatus.COMPLETE,
        12.0,
        [ComponentOutcome("Trainer", ComponentStatus.RAN, 5.0)],
        examples={"train": 500},
        trainer_precision_at_1={},
        training=None,
        evaluation={"validation": EvaluatorFigures(0.97, 100, {}), "test": EvaluatorFigures(0.96, 200, {})},
        blessing=Blessing(True, "0.97 >= 0.95", None),
        pushed=Push(True, f"/serving/{pushed_version}", pushed_version, True) if pushed_version else None,
        warnings=[],
    )


def test_settings_are_the_clis_overrides_a_bare_name_found_in_its_section():
    assert overrides_of(None, {"learning_rate": 0.01, "ingest.train_size": None}) == [
        "training.learning_rate=0.01",
        "ingest.train_size=null",
    ]
    assert overrides_of(None, {"training.hidden_units": (64, 16), "optimizer": "sgd"}) == [
        "training.hidden_units=[64, 16]",
        "training.optimizer=sgd",
    ]
    # What load_config reads back is the value given: a small float stays a float.
    [override] = overrides_of(None, {"learning_rate": 1e-05})
    assert load_config(overrides=[override]).training.learning_rate == 1e-05


def test_a_name_in_no_section_or_in_two_is_one_line_asking_for_the_dotted_key():
    with pytest.raises(ConfigError, match="^setting 'learning_rat': no setting has that name; give its dotted key"):
        overrides_of(None, {"learning_rat": 0.1})
    with pytest.raises(ConfigError, match=r"^setting 'cpu_limit': it is kubeflow\."):
        overrides_of(None, {"cpu_limit": 2})


def test_a_bad_setting_stops_at_open_in_one_line(tmp_path):
    with pytest.raises(PipelineFault) as refused:
        Pipeline(tmp_path / "outputs", tmp_path, settings={"training.learning_rate": -1})
    assert refused.value._render_traceback_() == [f"error: {refused.value}"]
    assert "training.learning_rate" in str(refused.value)
    assert not (tmp_path / "outputs").exists()


def test_faults_are_the_clis_line_and_a_bug_keeps_its_traceback(tmp_path):
    failed = RunFailed(tmp_path / "run.log", "Trainer")
    failed.__cause__ = PipelineError("split 'train': damaged")
    for error, line in (
        (failed, f"Trainer failed: split 'train': damaged (full log: {tmp_path}/run.log)"),
        (OSError(28, "No space left on device"), "[Errno 28] No space left on device"),
        (
            RunInterrupted(2, "Trainer"),
            "interrupted during Trainer (SIGINT); the next run resumes from the cached components",
        ),
    ):
        with pytest.raises(PipelineFault) as caught, notebook._one_line_faults():
            raise error
        assert str(caught.value) == line
    with pytest.raises(ZeroDivisionError), notebook._one_line_faults():
        raise ZeroDivisionError


def test_a_run_shows_its_report_page_in_a_frame_of_its_own(tmp_path):
    page = '<html><style>body { color: red }</style><body>"Run" & <b>report</b></body></html>'
    report = tmp_path / f"{RUN_ID}.html"
    report.write_text(page)
    run = Run(summary(), report)
    shown = run._repr_html_()
    assert shown.startswith("<iframe ") and shown.endswith("></iframe>")
    srcdoc = shown.split('srcdoc="', 1)[1].split('"', 1)[0]
    assert html.unescape(srcdoc) == page  # the page itself, its quotes escaped: its CSS stays in the frame
    assert run.precision_at_1 == {"validation": 0.97, "test": 0.96}
    assert run.blessed is True and run.pushed_version == "3" and run.status == RunStatus.COMPLETE
    assert Run(summary(pushed_version=None), report).pushed_version is None


def test_a_run_without_its_page_shows_its_summary(tmp_path):
    shown = Run(summary(), tmp_path / "missing.html")._repr_html_()
    assert shown.startswith("<pre>Run 20260101-120000-000001: complete, 12.0 s")


def test_tables_escape_every_cell():
    assert html_table(["a", "<b>"], [[None, "x & <y>"]]) == (
        "<table><thead><tr><th>a</th><th>&lt;b&gt;</th></tr></thead>"
        "<tbody><tr><td>-</td><td>x &amp; &lt;y&gt;</td></tr></tbody></table>"
    )


def test_arrays_are_taken_as_mnist_images_and_anything_else_is_refused_in_one_line():
    one = notebook._images(np.zeros((28, 28), np.uint8), limit=10)
    assert one.pixels.shape == (1, 28, 28) and one.names == ["array[0]"] and not one.is_picture
    assert notebook._images(np.zeros((3, 28, 28), np.uint8), limit=10).names == ["array[0]", "array[1]", "array[2]"]
    with pytest.raises(PipelineError, match=r"^an array of images must be uint8 \[N, rows, columns\], got float64"):
        notebook._images(np.zeros((28, 28)), limit=10)


def test_a_run_sees_the_console_scripts_argv_and_the_kernel_gets_its_own_back():
    kernel_argv = sys.argv
    with notebook._console_argv():
        assert sys.argv == ["mnist-pipeline"]  # absl in TFX's Beam executors parses it
    assert sys.argv is kernel_argv


def test_a_reference_is_an_id_a_number_or_a_run(tmp_path):
    assert [notebook._reference(r) for r in ("2026", 2, Run(summary(), Path("x")))] == ["2026", "2", RUN_ID]


def test_report_writes_a_runs_page_again_and_returns_its_summary(tmp_path):
    """From a store the run wrote (here written by tests/support/mlmd_builder.py): the newest run by default."""
    output = tmp_path / "out"
    output.mkdir()
    layout = mlmd_builder.TfxLayout(output / "metadata.sqlite")
    first = mlmd_builder.mnist_run(layout, tmp_path / "artifacts", "20261130-000100-000001")
    second = mlmd_builder.mnist_run(layout, tmp_path / "artifacts", "20261130-000200-000002", previous=first)
    pipeline = Pipeline(output, tmp_path / "data")
    newest = pipeline.report()
    assert newest.id == second.run_id and newest.report_path == output / "runs" / f"{second.run_id}.html"
    assert newest.report_path.is_file()
    assert pipeline.report(first.run_id).id == first.run_id
