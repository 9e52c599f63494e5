"""pipeline/cli.py: bad input and machine faults end in one line and an exit code; bugs keep
their traceback; an interrupted run exits 128 + the signal; the commands that read runs, and
every check before a run, import no TensorFlow. No pipeline runs here but the shared
reported_run of the e2e tests: the runner is replaced."""

from __future__ import annotations

import errno
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2

from components.errors import PipelineError
from pipeline import cli
from pipeline.local import runner
from pipeline.local.stopping import RunFailed, RunInterrupted

from conftest import REPO_ROOT, SMALL_RUN
from support import mlmd_builder
from support.fake_mnist import png_header

LOG = Path("/out/runs/20261123-173202-370954.log")


def chained(*errors: BaseException) -> BaseException:
    """errors[0] raised from errors[1] raised from ... (outermost first), as TFX and Beam wrap them."""
    for outer, inner in zip(errors, errors[1:]):
        outer.__cause__ = inner
    return errors[0]


@pytest.mark.parametrize(
    "error, line",
    [
        (PipelineError("data/x: bad magic number\nmore detail"), "data/x: bad magic number"),
        (
            chained(RuntimeError("beam wrapper"), ValueError("in between"), PipelineError("split 'test': empty")),
            "split 'test': empty",
        ),
        (
            chained(RuntimeError("wrapper"), OSError(errno.ENOSPC, "No space left on device", "/out/pipeline/Trainer")),
            "no space left on device writing /out/pipeline/Trainer",
        ),
        (
            OSError(errno.EROFS, "Read-only file system", "/mnt/ro/outputs"),
            "[Errno 30] Read-only file system: '/mnt/ro/outputs'",
        ),
        (
            chained(
                PermissionError(errno.EACCES, "Permission denied", "/out"), PipelineError("the cause that explains")
            ),
            "the cause that explains",
        ),  # bad input wins over the fault it led to
    ],
)
def test_bad_input_and_machine_faults_are_one_line(error, line):
    assert cli.describe_fault(error) == line


def test_a_cause_found_through_context_counts_too():
    try:
        try:
            raise PipelineError("while handling")
        except PipelineError:
            raise RuntimeError("during handling of the above")  # noqa: B904 - an implicit __context__ is the case
    except RuntimeError as error:
        assert cli.describe_fault(error) == "while handling"


@pytest.mark.parametrize("error", [ValueError("a bug"), OSError("no errno: a bug"), KeyError("x")])
def test_anything_else_is_a_bug_without_a_line(error):
    assert cli.describe_fault(error) is None


def test_a_failed_run_names_the_component_the_cause_and_the_log():
    error = chained(
        RunFailed(LOG, "Trainer"), RuntimeError("tfx"), PipelineError("split 'train': damaged\nsecond line")
    )
    assert cli.describe_fault(error) == f"Trainer failed: split 'train': damaged (full log: {LOG})"


def test_a_run_failed_by_a_full_disk_names_the_file_its_store_included():
    full_store = RuntimeError("Error when executing query: database or disk is full query: UPDATE ...")
    error = chained(RunFailed(LOG, "Pusher", Path("/out/metadata.sqlite")), full_store)
    assert cli.describe_fault(error) == (
        f"Pusher failed: no space left on device writing /out/metadata.sqlite (full log: {LOG})"
    )


def test_a_run_failed_by_a_bug_gives_its_innermost_error():
    error = chained(RunFailed(LOG, None), RuntimeError("wrapper"), ZeroDivisionError())
    assert cli.describe_fault(error) == f"the run failed: ZeroDivisionError (full log: {LOG})"


def test_a_cycle_of_causes_terminates():
    first, second = PipelineError("one"), RuntimeError("two")
    first.__context__, second.__context__ = second, first
    assert cli.describe_fault(second) == "one"


# --- exit codes of `mnist-pipeline run` ---------------------------------------------------------


@pytest.fixture
def run_raising(monkeypatch, root_logging_restored, tmp_path, capsys):
    """Runs `mnist-pipeline run` whose runner raises `error`; returns (exit code, stderr)."""

    def run(error: BaseException) -> tuple[int, str]:
        def run_pipeline(*args, **kwargs):
            raise error

        monkeypatch.setattr(runner, "run_pipeline", run_pipeline)
        code = cli.main(["run", "--data-dir", str(tmp_path), "--output-dir", str(tmp_path / "out")])
        return code, capsys.readouterr().err

    return run


@pytest.mark.parametrize("signal_number, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_exits_128_plus_the_signal(run_raising, signal_number, code):
    exit_code, stderr = run_raising(RunInterrupted(signal_number, "Trainer"))
    assert exit_code == code
    assert stderr.strip() == (
        f"interrupted during Trainer ({signal.Signals(signal_number).name}); "
        "the next run resumes from the cached components"
    )


def test_an_interrupt_between_components_names_none(run_raising):
    assert run_raising(RunInterrupted(signal.SIGINT, None))[1].startswith("interrupted (SIGINT);")


def test_ctrl_c_outside_a_run_exits_130(run_raising):
    assert run_raising(KeyboardInterrupt()) == (130, "interrupted\n")


def test_a_failed_run_exits_1_with_one_line(run_raising):
    exit_code, stderr = run_raising(chained(RunFailed(LOG, "DataGate"), PipelineError("split 'test' drifted")))
    assert (exit_code, stderr) == (1, f"error: DataGate failed: split 'test' drifted (full log: {LOG})\n")


def test_a_bug_keeps_its_traceback(run_raising):
    with pytest.raises(ZeroDivisionError):
        run_raising(ZeroDivisionError("a bug"))


@pytest.mark.e2e  # it calls run_pipeline, which stops before anything runs
def test_an_output_dir_that_cannot_be_made_names_the_flag(fake_mnist_dir, tmp_path, root_logging_restored, capsys):
    (tmp_path / "a-file").write_text("")
    output = tmp_path / "a-file" / "out"
    assert cli.main(["run", "--data-dir", str(fake_mnist_dir), "--output-dir", str(output), *SMALL_RUN]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: --output-dir {output}: cannot make this folder ([Errno 20] Not a directory")


def test_download_says_the_files_already_there_are_checked_without_fetching(real_mnist_dir, capsys):
    expected = sorted(f"{path}: already there, checksums match" for path in real_mnist_dir.glob("*.gz"))
    assert len(expected) == 4
    assert cli.main(["download", "--data-dir", str(real_mnist_dir)]) == 0
    assert sorted(capsys.readouterr().out.splitlines()) == expected


def test_download_names_a_file_already_there_that_is_not_mnists(fake_mnist_dir, root_logging_restored, capsys):
    assert cli.main(["download", "--data-dir", str(fake_mnist_dir)]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: train-images-idx3-ubyte.gz (") and ": wrong checksum: " in line


# --- arguments that are not UTF-8 -----------------------------------------------------------

NOT_UTF8 = "\udcff"  # the byte 0xff of an argument, as Python keeps it (surrogateescape)


@pytest.mark.parametrize(
    "args, named",
    [
        (["run", "--data-dir", "DIR/data" + NOT_UTF8, "--output-dir", "DIR/out"], "--data-dir DIR/data\\xff"),
        (["run", "--data-dir", "DIR/data", "--output-dir=DIR/out" + NOT_UTF8], "--output-dir DIR/out\\xff"),
        (["run", "--output-dir", "DIR/out", "--config", "DIR/my" + NOT_UTF8 + ".yaml"], "--config DIR/my\\xff.yaml"),
        (["run", "--output-dir", "DIR/out", "--set", "pipeline_name=a" + NOT_UTF8], "--set pipeline_name=a\\xff"),
        (["predict", "--output-dir", "DIR/out", "DIR/seven" + NOT_UTF8 + ".png"], "DIR/seven\\xff.png"),
    ],
)
def test_an_argument_that_is_not_utf8_is_named_in_one_line_before_anything_runs(
    args, named, tmp_path, monkeypatch, root_logging_restored, capsys
):
    """TFX and ML Metadata would fail on it deep in a run, after the output dir was made."""
    monkeypatch.setattr(runner, "run_pipeline", lambda *args, **kwargs: pytest.fail("the run started"))
    (tmp_path / "data").mkdir()
    assert cli.main([arg.replace("DIR", str(tmp_path)) for arg in args]) == 1
    assert capsys.readouterr().err == f"error: {named.replace('DIR', str(tmp_path))}: {cli.NOT_UTF8}\n"
    assert [path.name for path in tmp_path.iterdir()] == ["data"]


def test_a_current_folder_that_is_not_utf8_is_named_when_a_default_path_is_under_it(
    tmp_path, monkeypatch, root_logging_restored, capsys
):
    monkeypatch.setattr(runner, "run_pipeline", lambda *args, **kwargs: pytest.fail("the run started"))
    here = tmp_path / ("here" + NOT_UTF8)
    here.mkdir()
    monkeypatch.chdir(here)
    assert cli.main(["run", "--data-dir", str(tmp_path)]) == 1  # the output dir: ./outputs
    assert (
        capsys.readouterr().err
        == f"error: the current folder {tmp_path}/here\\xff (of the default paths): {cli.NOT_UTF8}\n"
    )
    assert list(here.iterdir()) == []


def test_predict_refuses_a_picture_too_large_in_one_line(tmp_path, root_logging_restored, capsys):
    """PIL's DecompressionBombError was a traceback; below PIL's bound, 4.1 GB went before a line."""
    large = [png_header(tmp_path / f"{side}.png", side, side) for side in (20000, 12000)]
    for path in large:
        assert cli.main(["predict", "--model", str(tmp_path / "none"), str(path)]) == 1
    assert [line.split(";")[0] for line in capsys.readouterr().err.splitlines()] == [
        f"error: {large[0]}: a picture of over 178,956,970 pixels",
        f"error: {large[1]}: a picture of 12000x12000 pixels",
    ]


def test_predict_reports_each_input_that_fails_on_its_own_line_and_exits_1(tmp_path, root_logging_restored, capsys):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("a seven\n")
    inputs = [tmp_path / "empty.png", tmp_path / "notes.txt", tmp_path / "gone.png"]
    assert cli.main(["predict", "--model", str(tmp_path / "none"), *map(str, inputs)]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[1] for line in errors] == [str(path) for path in inputs]
    assert errors[1].endswith(
        "neither a picture nor an IDX file; predict reads PNG and JPEG pictures and IDX image files (gzipped or not)"
    )


# --- what a command imports -----------------------------------------------------------------

# Runs `mnist-pipeline ARGS` in a fresh interpreter; prints its exit code and the heavy packages
# it imported.
IMPORTS_OF_A_COMMAND = """
import json, sys
from pipeline import cli
code = cli.main(sys.argv[1:])
heavy = ("tensorflow", "tfx", "keras", "tensorflow_model_analysis", "tensorflow_data_validation", "apache_beam",
         "matplotlib")
print(json.dumps({"code": code, "imported": [name for name in heavy if name in sys.modules]}))
"""


def imports_of(*args: str | Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", IMPORTS_OF_A_COMMAND, *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.stdout, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_refused_run_imports_no_tensorflow(tmp_path, fake_mnist_dir):
    """Every check before a run (settings, data dir, output dir in use) answers before TensorFlow
    loads, and before the report page's plotting (matplotlib, loaded when a run ends)."""
    busy = tmp_path / "busy"
    busy.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_OUTPUT_DIR, str(busy)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        for args in (
            ["--set", "training.learning_rate=nan"],
            ["--data-dir", tmp_path / "no-data"],
            ["--data-dir", fake_mnist_dir, "--output-dir", busy],
        ):
            assert imports_of("run", "--output-dir", tmp_path / "out", *args) == {"code": 1, "imported": []}, args
    finally:
        holder.kill()
        holder.wait()


HOLD_OUTPUT_DIR = """
import sys, time
from pathlib import Path
from pipeline.output_dir import OutputDirLock
with OutputDirLock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.mark.e2e
@pytest.mark.parametrize(
    "command",
    [
        ["lineage", "runs"],
        ["lineage", "artifacts"],
        ["lineage", "trace", "pushed:latest"],
        ["lineage", "diff", "1", "1"],
        ["lineage", "graph", "--output", "graph.dot"],
        ["report", "1"],
    ],
)
def test_reading_runs_imports_no_tensorflow(reported_run, command):
    plots = ["matplotlib"] if command[0] == "report" else []  # the page's plots; the tables need none
    assert imports_of(*command, "--output-dir", reported_run.output_dir) == {"code": 0, "imported": plots}


@pytest.mark.parametrize("command", [["lineage", "runs"], ["report"]])
def test_lineage_and_report_record_what_a_killed_run_left_running_as_interrupted(tmp_path, command, capsys):
    """The store is read as it is (pipeline/inspect/ writes nothing); the command, finding the
    output dir idle, has the local side record the killed run first (pipeline/local/store_writes.py)."""
    layout = mlmd_builder.TfxLayout(tmp_path / "metadata.sqlite")
    layout.new_run("20261206-010101-000001")
    layout.execute("20261206-010101-000001", "DataProbe", "COMPLETE", {}, {}, {})
    [execution] = layout.store.get_executions()
    execution.last_known_state = metadata_store_pb2.Execution.RUNNING  # a run killed mid-component
    layout.store.put_executions([execution])
    assert cli.main([*command, "--output-dir", str(tmp_path)]) == 0
    [execution] = layout.store.get_executions()
    assert execution.last_known_state == metadata_store_pb2.Execution.CANCELED
