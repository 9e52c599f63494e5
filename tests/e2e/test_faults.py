"""Faults provoked through the CLI (issue 12, item 7): what the user sees, one line and an exit
code, and the state left behind, then the recovery the line points to.

Pipeline runs go through the installed `mnist-pipeline` script in a process of their own
(tests/support/cli_process.py), with a fault injected at an exact point (a SIGKILL right after the
Pusher's rename or during its copy, a run held at a component). A full disk and a read-only file
system are real: small tmpfs mounts
(the tests that need them skip, saying why, where `mount` is not allowed). Faults that stop the
CLI before any pipeline runs (settings, data, `predict`) call its main() in this process.

One good run on synthetic data is made once. A test that starts from it gets a copy restored
at the same path: MLMD records absolute URIs, so a copy elsewhere would read the original's files.
The runs import the project's code from a copy made when the module starts (frozen_project).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import SMALL_RUN, run_cli
from support.cli_process import Cli, Result, cli, held
from support.fake_mnist import balanced_labels, fake_images, write_idx
from support.random_faults import fill_up, remount

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("frozen_project", "kill_leftovers")]

# Learning rates other than the default: each makes the Trainer and what follows it run again.
RATES = ("0.0061", "0.0062", "0.0063", "0.0064", "0.0065")
RESUME = "the next run resumes from the cached components"
MARKER = Path("assets.extra") / "pushed_from.json"  # components/serving_dir.py


# --- the good run and what the tests read back --------------------------------------------


@dataclass(frozen=True)
class GoodRun:
    data: Path
    output: Path  # where the tests run: restored from `snapshot` for each
    snapshot: Path


@pytest.fixture(scope="module")
def good_run(fake_mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> GoodRun:
    base = tmp_path_factory.mktemp("faults")
    output = base / "out"
    result = cli(base, *run_args(fake_mnist_dir, output))
    assert result.code == 0, result.stderr
    # Run as a user runs it, its executors run in worker processes (pipeline/local/executor_processes.py),
    # so the faults below hit those processes as well as the run's own.
    assert "Executors run in worker processes" in result.log_path().read_text()
    assert len(served_versions(output)) == 1
    shutil.copytree(output, base / "snapshot", symlinks=True)
    return GoodRun(fake_mnist_dir, output, base / "snapshot")


@pytest.fixture
def restored(good_run: GoodRun) -> Path:
    """The good run's output dir as the good run left it, at its own path."""
    if good_run.output.exists():
        shutil.rmtree(good_run.output)
    shutil.copytree(good_run.snapshot, good_run.output, symlinks=True)
    return good_run.output


@pytest.fixture
def tmpfs(tmp_path: Path):
    """mount(name, size, read_only=False, skip=True) -> a tmpfs of that size under tmp_path,
    unmounted after the test. Where none can be mounted (not root, a sandbox that forbids it),
    the test is skipped with the reason, or with skip=False mount returns None and
    `mount.reason` says why."""
    mounted: list[Path] = []

    def mount(name: str, size: str, read_only: bool = False, skip: bool = True) -> Path | None:
        path = tmp_path / name
        path.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        try:
            result = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True
            )
            mount.reason = result.stderr.strip()
        except FileNotFoundError:
            result, mount.reason = None, "no `mount` command"
        if result is None or result.returncode != 0:
            if skip:
                pytest.skip(f"this case needs a small tmpfs, and none can be mounted here: {mount.reason}")
            return None
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", str(path)], check=False)


def run_args(data: Path, output: Path, *extra: str | Path) -> list[str | Path]:
    return ["run", "--data-dir", data, "--output-dir", output, *SMALL_RUN, *extra]


def rate(index: int) -> list[str]:
    return ["--set", f"training.learning_rate={RATES[index]}"]


def statuses(summary: dict) -> dict[str, str]:
    return {component["component"]: component["status"] for component in summary["components"]}


def served_versions(output: Path) -> list[int]:
    serving = output / "serving"
    return sorted(int(path.name) for path in serving.iterdir() if path.name.isdigit()) if serving.exists() else []


def staging_dirs(serving: Path) -> list[Path]:
    return sorted(path for path in serving.iterdir() if path.name.startswith(".staging-"))


def recorded_pushes(output: Path) -> dict[str, str]:
    """Version -> destination of every push MLMD recorded."""
    from pipeline.inspect import store as inspect_store

    store = inspect_store.open_store(output / "metadata.sqlite")
    pushes = {}
    for artifact in store.get_artifacts_by_type("PushedModel"):
        properties = artifact.custom_properties
        if properties["pushed"].int_value == 1:
            pushes[properties["pushed_version"].string_value] = properties["pushed_destination"].string_value
    return pushes


def examples_split(output: Path, split: str) -> Path:
    [split_dir] = (output / "pipeline" / "IdxExampleGen" / "examples").glob(f"*/Split-{split}")
    return split_dir


def assert_traceback_logged(result: Result, *expected: str) -> None:
    log = result.log_path().read_text()
    assert "Traceback (most recent call last)" in log
    for text in expected:
        assert text in log


def in_process(capsys, *args: str | Path) -> tuple[int, str, str]:
    """The CLI's main() in this process: (exit code, the one error line, stdout)."""
    code = run_cli(*args)
    captured = capsys.readouterr()
    result = Result(code, captured.out, captured.err)
    return code, result.fault_line(), captured.out


# --- 1. damaged Examples ----------------------------------------------------------------------


def test_damaged_examples_stop_the_trainer_naming_split_and_file_and_no_cache_rebuilds(restored, good_run, tmp_path):
    train = examples_split(restored, "train")
    shards = sorted(train.iterdir())
    assert len(shards) >= 2
    versions, pushes = served_versions(restored), recorded_pushes(restored)
    args = run_args(good_run.data, restored, *rate(0))

    shards[0].unlink()
    missing = cli(tmp_path, *args)
    assert missing.code == 1
    assert missing.fault_line() == (
        f"error: split 'train': {shards[0]} is missing: the cached Examples are damaged; "
        "run again with --no-cache to rebuild them"
    )
    assert statuses(missing.summary(restored))["Trainer"] == "failed"
    assert_traceback_logged(missing, "ExamplesIntegrityError")
    assert served_versions(restored) == versions and recorded_pushes(restored) == pushes

    shutil.copy2(good_run.snapshot / shards[0].relative_to(restored), shards[0])
    content = bytearray(shards[1].read_bytes())
    middle = len(content) // 2
    content[middle : middle + 16] = bytes(byte ^ 0xFF for byte in content[middle : middle + 16])
    shards[1].write_bytes(content)
    corrupted = cli(tmp_path, *args)
    assert corrupted.code == 1
    assert corrupted.fault_line() == (
        f"error: split 'train': {shards[1]} differs from what the ingest wrote: the "
        "cached Examples are damaged; run again with --no-cache to rebuild them"
    )
    assert statuses(corrupted.summary(restored))["Trainer"] == "failed"
    assert served_versions(restored) == versions and recorded_pushes(restored) == pushes

    rebuilt = cli(tmp_path, *args, "--no-cache")
    assert rebuilt.code == 0, rebuilt.stderr
    summary = rebuilt.summary(restored)
    assert set(statuses(summary).values()) == {"ran"}
    assert summary["pushed"]["pushed"] is True
    [new_version] = set(served_versions(restored)) - set(versions)
    assert served_versions(restored) == [*versions, new_version]
    assert recorded_pushes(restored)[str(new_version)] == summary["pushed"]["destination"]


def test_a_data_file_replaced_during_the_ingest_fails_it_naming_the_file_and_the_next_run_reads_the_new_one(
    fake_mnist_dir, tmp_path
):
    """Issue 27: the test labels replaced once the ingest had hashed them, before its shards read them:
    the Examples held the new labels under the old file's hash."""
    data = shutil.copytree(fake_mnist_dir, tmp_path / "data")
    labels = data / "t10k-labels-idx1-ubyte.gz"
    write_idx(labels.with_name(labels.name + ".new"), (balanced_labels(200, seed=2) + 1) % 10)
    new_content = hashlib.sha256(gzip.decompress(labels.with_name(labels.name + ".new").read_bytes())).hexdigest()
    output = tmp_path / "out"

    swapped = cli(tmp_path, *run_args(data, output), fault="swap_after_check", env={"MNIST_TEST_SWAP": str(labels)})

    assert swapped.code == 1
    assert re.fullmatch(
        rf"error: IdxExampleGen failed: {re.escape(str(labels))}: changed while the ingest read it \(records "
        rf"\d+\.\.\d+\); run again once the data dir holds the files it should \(full log: \S+\)",
        swapped.fault_line(),
    ), swapped.fault_line()
    assert statuses(swapped.summary(output))["IdxExampleGen"] == "failed"
    assert not recorded_examples(output) and not served_versions(output)

    again = cli(tmp_path, *run_args(data, output))
    assert again.code == 0, again.stderr
    [examples] = recorded_examples(output)
    assert examples["input_sha256_test_labels"].string_value == new_content


def recorded_examples(output: Path) -> list:
    """The custom properties of each Examples artifact MLMD records."""
    from pipeline.inspect import store as inspect_store

    store = inspect_store.open_store(output / "metadata.sqlite")
    return [artifact.custom_properties for artifact in store.get_artifacts_by_type("Examples")]


# --- 2. the serving dir and MLMD ----------------------------------------------------------------


def test_killed_pushes_leave_nothing_half_served_and_are_recorded_not_copied_again(
    restored, good_run, tmp_path, capsys, root_logging_restored
):
    versions, pushes = served_versions(restored), recorded_pushes(restored)
    serving = restored / "serving"
    args = run_args(good_run.data, restored, *rate(1))

    # Killed during the copy: a partial .staging-<version>, nothing new served or recorded.
    during_copy = cli(tmp_path, *args, fault="kill_during_copy")
    assert during_copy.code == -signal.SIGKILL, during_copy.stderr
    [staging] = staging_dirs(serving)
    assert any(staging.rglob("*")) and not (staging / MARKER).exists()
    assert served_versions(restored) == versions and recorded_pushes(restored) == pushes

    # Killed right after the rename: the next push removed the staging dir; a complete version
    # is served that MLMD never recorded, and lineage already names it.
    after_rename = cli(tmp_path, *args, fault="kill_after_rename")
    assert after_rename.code == -signal.SIGKILL, after_rename.stderr
    assert f"Removed {staging}, left by a push that was interrupted" in after_rename.stderr
    assert not staging_dirs(serving)
    [version] = set(served_versions(restored)) - set(versions)
    version_dir = serving / str(version)
    assert (version_dir / "saved_model.pb").is_file()
    model_uri = json.loads((version_dir / MARKER).read_text())["model_uri"]
    assert recorded_pushes(restored) == pushes
    assert run_cli("lineage", "trace", "pushed:latest", "--output-dir", restored) == 0
    served = capsys.readouterr().out.split("\n\n")[0]
    assert served.startswith("Model ") and model_uri in served
    assert f"{version_dir} (push not recorded" in served

    # The next run records that version instead of copying the same model again.
    recorded = cli(tmp_path, *args)
    assert recorded.code == 0, recorded.stderr
    assert f"Version {version} already holds this model" in recorded.stderr
    summary = recorded.summary(restored)
    assert statuses(summary)["Trainer"] == "cached" and statuses(summary)["Pusher"] == "ran"
    assert summary["pushed"] == {
        "pushed": True,
        "destination": str(version_dir),
        "version": str(version),
        "served": True,
        "new_version": False,  # recorded, not copied again
        "first_served": None,  # this model was served by no other version
    }
    assert served_versions(restored) == [*versions, version]
    assert recorded_pushes(restored) == {**pushes, str(version): str(version_dir)}

    # What `predict` serves is what `lineage trace pushed:latest` names.
    png = tmp_path / "digit.png"
    write_png(png)
    assert run_cli("predict", "--model", serving, png) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"Model: {version_dir}"
    assert run_cli("lineage", "trace", "pushed:latest", "--output-dir", restored) == 0
    served = capsys.readouterr().out.split("\n\n")[0]
    assert served.startswith("PushedModel ")
    assert re.search(rf"^  pushed_destination +{re.escape(str(version_dir))}$", served, re.M)


# --- 3. two runs at once ---------------------------------------------------------------------


def test_a_second_run_on_a_busy_output_dir_stops_at_once_naming_the_holder(restored, good_run, tmp_path):
    first, release_first = held(tmp_path, "first", *run_args(good_run.data, restored), component="IdxExampleGen")
    runs_files = sorted((restored / "runs").iterdir())

    second = cli(tmp_path, *run_args(good_run.data, restored))
    assert first.process.poll() is None  # the second did not wait for the first
    assert second.code == 1
    assert second.fault_line() == (
        f"error: {restored}: another run (process {first.process.pid}) is using this "
        "output dir; wait for it to end or give another --output-dir"
    )
    assert sorted((restored / "runs").iterdir()) == runs_files  # no log, no summary of its own

    # A run on another output dir is not held up by the first, nor the first by it.
    other_dir = tmp_path / "other"
    other, release_other = held(tmp_path, "other", *run_args(good_run.data, other_dir), component="IdxExampleGen")
    release_first.touch()
    release_other.touch()
    first_result, other_result = first.finish(), other.finish()
    assert first_result.code == 0, first_result.stderr
    assert other_result.code == 0, other_result.stderr

    first_summary, other_summary = first_result.summary(restored), other_result.summary(other_dir)
    assert first_result.run_id() != other_result.run_id()
    assert statuses(first_summary)["Trainer"] == "cached"
    assert set(statuses(other_summary).values()) == {"ran"}
    assert Path(first_summary["pushed"]["destination"]).parent == restored / "serving"
    assert Path(other_summary["pushed"]["destination"]).parent == other_dir / "serving"
    assert [path.name for path in (other_dir / "runs").glob("*.json")] == [f"{other_result.run_id()}.json"]


# --- 4. signals and machine faults ------------------------------------------------------------


def stop_with(run: Cli, signal_number: signal.Signals, running: str) -> Result:
    """Sends the signal; the run must end with 128 + its number, one line naming the component that
    matches `running` among those running, and RunInterrupted's traceback in its log."""
    run.process.send_signal(signal_number)
    stopped = run.finish()
    assert stopped.code == 128 + signal_number
    assert re.fullmatch(
        rf"interrupted during ([\w.-]+ and )*{running}( and [\w.-]+)* \({signal_number.name}\); {RESUME}",
        stopped.fault_line(),
    )
    assert_traceback_logged(stopped, "RunInterrupted")
    return stopped


def test_interrupts_and_a_full_disk_end_in_one_line_and_the_next_run_resumes(restored, good_run, tmp_path, tmpfs):
    serving = tmpfs("serving", "64k", skip=False)  # room for no SavedModel
    args = run_args(good_run.data, restored, *rate(3), *(["--serving-dir", serving] if serving else []))

    # Held once it has read its data, so it cannot end before the signal comes (on the small data it
    # trains in well under a second); recorded as running in MLMD meanwhile.
    during_trainer, _ = held(tmp_path, "trainer", *args, component="training")
    interrupted = stop_with(during_trainer, signal.SIGINT, running=r"Trainer")
    summary = interrupted.summary(restored)
    assert summary["status"] == "interrupted"  # the Trainer was stopped, not waited for
    assert statuses(summary)["Trainer"] == "interrupted" and "Pusher" not in statuses(summary)

    during_evaluators = Cli(tmp_path, *args)
    during_evaluators.wait_for_line(r"Evaluator-\w+ \.\.\.")
    terminated = stop_with(during_evaluators, signal.SIGTERM, running=r"Evaluator-\w+")
    summary = terminated.summary(restored)
    assert statuses(summary)["IdxExampleGen"] == "cached" and statuses(summary)["Trainer"] == "ran"

    if serving is None:
        resumed = cli(tmp_path, *args)
        assert resumed.code == 0, resumed.stderr
        assert statuses(resumed.summary(restored))["Trainer"] == "cached"
        pytest.skip(
            f"the interrupts passed; the full disk needs a small tmpfs, and none can be mounted here: {tmpfs.reason}"
        )
    full_disk = cli(tmp_path, *args)
    assert full_disk.code == 1
    assert re.fullmatch(
        rf"error: Pusher failed: no space left on device writing {re.escape(str(serving))}/\.staging-\d+/\S+ "
        rf"\(full log: {re.escape(str(full_disk.log_path()))}\)",
        full_disk.fault_line(),
    )
    assert_traceback_logged(full_disk, "No space left on device")
    summary = full_disk.summary(restored)
    assert statuses(summary)["Trainer"] == "cached" and statuses(summary)["Pusher"] == "failed"

    subprocess.run(["mount", "-o", "remount,size=64m", str(serving)], check=True)  # space is freed
    resumed = cli(tmp_path, *args)
    assert resumed.code == 0, resumed.stderr
    summary = resumed.summary(restored)
    assert {name: status for name, status in statuses(summary).items() if status != "cached"} == {"Pusher": "ran"}
    assert Path(summary["pushed"]["destination"]).parent == serving
    assert not staging_dirs(serving)  # the failed push's partial copy is gone


def test_a_disk_that_fills_as_the_trainer_writes_is_one_line_naming_the_file_and_the_next_run_recovers(
    fake_mnist_dir, tmp_path, tmpfs
):
    # The output dir's own disk: its store, the run's log and the Trainer's checkpoints cannot be
    # written either (found by tests/support/random_faults.py: logging's tracebacks on the console).
    disk = tmpfs("disk", "256m")
    output = disk / "out"
    args = run_args(fake_mnist_dir, output)
    trainer, release = held(tmp_path, "full-disk", *args, component="training")
    assert fill_up(disk)
    [log] = (output / "runs").glob("*.log")
    for path in (disk / "filler", log):  # the block left free, the room left in the log's last page
        with contextlib.suppress(OSError), path.open("ab", buffering=0) as file:
            while True:
                file.write(b"\n")
    release.touch()
    full = trainer.finish()
    assert full.code == 1, full.stderr
    assert re.fullmatch(
        rf"error: Trainer failed: no space left on device writing {re.escape(str(output))}/pipeline/Trainer/\S+ "
        rf"\(full log: {re.escape(str(full.log_path()))}\)",
        full.fault_line(),  # and no traceback on the console
    ), full.stderr
    assert "Logging error" not in full.stderr

    assert remount(disk, "256m")  # space is freed
    resumed = cli(tmp_path, *args)
    assert resumed.code == 0, resumed.stderr
    assert statuses(resumed.summary(output))["Trainer"] == "ran"
    assert served_versions(output)
    from ml_metadata.proto import metadata_store_pb2

    from pipeline.inspect import store as inspect_store

    store = inspect_store.open_store(output / "metadata.sqlite")
    states = [execution.last_known_state for execution in store.get_executions()]
    assert metadata_store_pb2.Execution.RUNNING not in states  # what the full disk left running is recovered


def test_an_output_dir_on_a_read_only_file_system_is_one_line(fake_mnist_dir, tmpfs, capsys, root_logging_restored):
    read_only = tmpfs("read-only", "1m", read_only=True)
    code, line, _ = in_process(capsys, *run_args(fake_mnist_dir, read_only / "out"))
    assert code == 1
    out = read_only / "out"
    assert line == f"error: --output-dir {out}: cannot make this folder ([Errno 30] Read-only file system: '{out}')"


def test_a_data_file_that_is_a_directory_is_one_line(fake_mnist_dir, tmp_path, capsys, root_logging_restored):
    data = tmp_path / "data"
    shutil.copytree(fake_mnist_dir, data)
    (data / "train-labels-idx1-ubyte.gz").unlink()
    (data / "train-labels-idx1-ubyte.gz").mkdir()
    code, line, _ = in_process(capsys, *run_args(data, tmp_path / "out"))
    assert code == 1
    assert line == f"error: {data / 'train-labels-idx1-ubyte.gz'}: a directory, not a file"
    assert not (tmp_path / "out" / "metadata.sqlite").exists()


def write_png(path: Path) -> None:
    from PIL import Image

    Image.fromarray(fake_images(balanced_labels(1, 0), 0)[0]).save(path)


@pytest.mark.parametrize("case", ["empty", "not a PNG", "truncated"])
def test_predict_on_a_bad_png_is_one_line(case, good_run, tmp_path, capsys, root_logging_restored):
    image = tmp_path / "digit.png"
    if case == "empty":
        image.write_bytes(b"")
    elif case == "not a PNG":
        image.write_text("not an image\n")
    else:
        write_png(image)
        image.write_bytes(image.read_bytes()[:60])
    code, line, _ = in_process(capsys, "predict", "--model", good_run.snapshot / "serving", image)
    assert code == 1
    assert line.startswith(f"error: {image}: not a readable PNG image (")


# --- 5. settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("training.learning_rate=.nan", "error: 'training.learning_rate' must be a finite number, got nan"),
        ("training.learning_rate=.inf", "error: 'training.learning_rate' must be a finite number, got inf"),
        (
            "training.batch_size=50000",  # within its bounds, beyond the training split
            "error: 'training.batch_size' is 50000, more than the 500 examples of the training split",
        ),
        (
            "ingest.validation_size=60000",
            "error: the ingest settings do not fit the files in {data}: validation_size 60000 alone would exceed "
            "the 600 records of the training files",
        ),
    ],
)
def test_a_bad_setting_is_refused_naming_it_before_anything_runs(
    setting, expected, fake_mnist_dir, tmp_path, capsys, root_logging_restored
):
    output = tmp_path / "out"
    code, line, _ = in_process(capsys, *run_args(fake_mnist_dir, output, "--set", setting))
    assert code == 1
    assert line == expected.format(data=fake_mnist_dir)
    assert not (output / "metadata.sqlite").exists() and not (output / "runs").exists()


def test_a_validation_size_that_leaves_no_training_split_is_refused_naming_it(
    fake_mnist_dir, tmp_path, capsys, root_logging_restored
):
    code, line, _ = in_process(
        capsys, *run_args(fake_mnist_dir, tmp_path / "out", "--set", "ingest.validation_size=600")
    )
    assert code == 1
    assert "validation_size 600" in line
