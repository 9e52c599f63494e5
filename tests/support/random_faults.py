"""Faults at random (issue 27, point 8): the pipeline run through the CLI, as a user runs it, over
and over; in each round one fault at a random moment of a run, then a clean run of the same
settings; after each of the two, the invariants that no fault may break.

The faults (KINDS), each at a random moment (once the run has written a chosen component's
"<Component> ..." line, or from its start, plus a random delay):

  kill-run          SIGKILL to the run's process (a power cut, the OOM killer)
  kill-worker       SIGKILL to one of its executor worker processes (pipeline/local/executor_processes.py)
  stop-then-term    SIGSTOP to a worker, then SIGTERM to the run: a stopped worker must not hang its exit
  term-group        SIGTERM to the run's process group (a service manager stopping it)
  int-group         SIGINT to the run's process group (Ctrl-C in its terminal)
  disk-full         the file system of the output dir fills up (a tmpfs shrunk to what it holds;
                    freed once the run has ended)
  swap-labels       a labels file replaced by a valid IDX file with other labels (put back after the run)
  truncate-file     a data file replaced by its first half (put back after the run)

The invariants (Checker), after the faulted run and again after the clean run:

  * every version in the serving dir is complete (its marker, saved_model.pb, the variables) and
    loads as a SavedModel (tf.saved_model.load, in a process of its own); no version once served
    disappears;
  * everything the store records as pushed (a LIVE PushedModel) is served, and was made by a
    Pusher execution that COMPLETEd; after the clean run (recovery has run), every served version
    is recorded so;
  * no served version's validation Precision@1 is below the best of the versions served before it
    by more than evaluation.max_precision_at_1_regression (read from the settings);
  * the Examples the store records hold the records of the very files whose SHA-256 they record;
  * the run's console: no traceback; an exit code other than 0 with exactly one `error:` or
    `interrupted` line (none with 0); its log exists; a run stopped by a signal published no
    version after it; its summary says what the store says; no process of it outlives it;
  * the clean run succeeds.

SOAK_SEED decides every choice (the faults, their targets and moments, the settings of each
round): a soak with the same seed makes the same choices, and a moment is a line of the run's
output plus a delay, so it hits nearly the same point. On a violation the output dir is kept and
the way to reproduce printed.

`make soak` runs this file (SOAK_ROUNDS rounds, 200 by default) and prints how many faults of
each kind were injected and survived; tests/e2e/test_random_faults.py runs one round of each kind.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

from conftest import SMALL_RUN, copy_project
from support.cli_process import Cli, Result
from support.fake_mnist import FILE_NAMES, balanced_labels, idx_bytes, write_fake_mnist

KINDS = (
    "kill-run",
    "kill-worker",
    "stop-then-term",
    "term-group",
    "int-group",
    "disk-full",
    "swap-labels",
    "truncate-file",
)
# The components of a run in about the order they start; each writes "<name> ..." as it starts.
COMPONENTS = (
    "DataProbe",
    "ImportSchemaGen",
    "ServingProbe",
    "IdxExampleGen",
    "ServedModel",
    "StatisticsGen",
    "ExampleValidator",
    "SplitValidator",
    "DataGate",
    "Trainer",
    "Evaluator-test",
    "Evaluator-validation",
    "Pusher",
)
START = "start"  # a moment counted from the process's start (imports, preflight, recovery)
INGEST = ("DataProbe", "IdxExampleGen")  # when a swapped data file matters most
WORKER_FAULTS = ("kill-worker", "stop-then-term")
SIGNAL_FAULTS = ("stop-then-term", "term-group", "int-group")  # the run is told to stop
# Settings varied from round to round, so that most rounds train, evaluate and push (the cache
# reuses nothing) and the models differ in quality; a shard size other than the last reruns the ingest.
LEARNING_RATES = (0.002, 0.004, 0.008)
TRAIN_STEPS = (8, 15, 30, 60)
SHARD_SIZES = (250, 200)
HANG_SECONDS = 60  # a run still alive this long after its fault hangs
HANG = "the run was still running"
GONE_SECONDS = 10  # for a run's worker processes to die once it has ended
DISK_SIZE = "1g"
ROUNDS_PER_OUTPUT_DIR = 25  # then a new output dir: the first run of a dir is a case of its own
MARKER = Path("assets.extra") / "pushed_from.json"  # components/serving_dir.py
FAULT_LINE = re.compile(r"^(error:|interrupted)")
LOG_LINE = re.compile(r"^Run \S+ of pipeline .*\(full log: (.+)\)$", re.M)


# --- the soak ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One fault, every choice drawn before the run starts: a seed gives the same faults whatever
    the runs do."""

    kind: str
    moment: str  # START or a component: counted from when its "<component> ..." line is written
    delay: float  # seconds after the moment
    pick: float  # in [0, 1): which worker process, among those alive at the moment
    pause: float  # stop-then-term: seconds between the SIGSTOP and the SIGTERM
    file_role: str = ""  # swap-labels, truncate-file: which data file (fake_mnist.FILE_NAMES)
    labels_seed: int = 0  # swap-labels: the order of the other labels

    def __str__(self) -> str:
        what = f"{self.kind} ({self.file_role})" if self.file_role else self.kind
        return f"{what} at {self.moment} + {self.delay:.2f} s"


@dataclass
class Round:
    number: int
    fault: Fault
    settings: list[str]
    output: Path
    hit: bool = False  # the fault came while the run was alive
    code: int | None = None
    violations: list[str] = field(default_factory=list)


def rotating_seed() -> int:
    """The seed of the day: fixed for a day (a failure repeats), another the next."""
    return datetime.date.today().toordinal()


def soak(
    work: Path, seed: int, rounds: int, say: Callable[[str], None] = print, kinds: tuple[str, ...] = KINDS
) -> list[Round]:
    """Runs `rounds` rounds under `work` (kinds in a shuffled cycle, so that every kind comes as
    often); returns them. The output dirs live on a tmpfs under `work` (unmounted at the end);
    one where a violation was found is copied to `work/kept/` first."""
    rng = random.Random(seed)
    say(f"Faults at random: SOAK_SEED={seed}, {rounds} rounds, under {work}")
    data = DataFiles(work / "data")
    disk = Disk(work / "disk")
    if not disk.mounted:
        say(f"No tmpfs can be mounted here ({disk.reason}): the output dirs are plain folders, no disk-full faults")
        kinds = tuple(kind for kind in kinds if kind != "disk-full")
    (work / "cli").mkdir()
    done: list[Round] = []
    checker: Checker | None = None
    try:
        with ModelLoader() as loader:
            for number, kind in zip(range(1, rounds + 1), cycle_shuffled(kinds, rng)):
                if checker is None or (number - 1) % ROUNDS_PER_OUTPUT_DIR == 0:
                    checker = Checker(disk.path / f"out-{number}", data, loader)
                settings = random_settings(rng)
                round_ = Round(number, random_fault(kind, rng), settings, checker.output)
                play(round_, work / "cli", data, disk, checker)
                done.append(round_)
                say(describe(round_))
                if round_.violations:
                    kept = work / "kept" / checker.output.name
                    shutil.copytree(checker.output, kept, symlinks=True)
                    say(f"  output dir kept at {kept}; reproduce: {reproduce(seed, number)}")
                    checker = None  # the next round starts on a new output dir
    finally:
        disk.unmount()
    return done


def cycle_shuffled(kinds: tuple[str, ...], rng: random.Random) -> Iterator[str]:
    while True:
        yield from rng.sample(kinds, len(kinds))


def random_settings(rng: random.Random) -> list[str]:
    return [
        *SMALL_RUN,
        "--set",
        f"training.learning_rate={rng.choice(LEARNING_RATES)}",
        "--set",
        f"training.train_steps={rng.choice(TRAIN_STEPS)}",
        "--set",
        f"ingest.records_per_shard={rng.choice(SHARD_SIZES)}",
    ]


def random_fault(kind: str, rng: random.Random) -> Fault:
    """A fault of `kind` at a random moment: a worker fault once the components run (the workers
    are forked when the run starts them), a data fault mostly while the ingest reads."""
    if kind in ("swap-labels", "truncate-file"):
        roles = [role for role in FILE_NAMES if kind == "truncate-file" or role.endswith("_labels")]
        moment = rng.choice((START, *INGEST))
    else:
        moment = rng.choice(COMPONENTS if kind in WORKER_FAULTS else (START, *COMPONENTS))
        roles = [""]
    return Fault(
        kind,
        moment,
        delay=rng.uniform(0, 4.0 if moment == START else 0.5 if moment in INGEST else 1.0),
        pick=rng.random(),
        pause=rng.uniform(0, 0.5),
        file_role=rng.choice(roles),
        labels_seed=rng.randrange(1000, 10**6),
    )


def reproduce(seed: int, rounds: int) -> str:
    return f"SOAK_SEED={seed} SOAK_ROUNDS={rounds} make soak"


def describe(round_: Round) -> str:
    outcome = f"exit {round_.code}" if round_.hit else f"missed: the run ended first (exit {round_.code})"
    line = f"round {round_.number}: {round_.fault} -> {outcome}"
    if not round_.violations:
        return line + "; invariants hold, the clean run recovered"
    return "\n".join([line, *(f"  VIOLATION: {violation}" for violation in round_.violations)])


def table(rounds: list[Round]) -> str:
    """How many faults of each kind were injected (hit a live run), survived and broke an invariant."""
    rows = [("fault", "injected", "missed", "survived", "violated")]
    for kind in KINDS:
        of_kind = [round_ for round_ in rounds if round_.fault.kind == kind]
        hit = [round_ for round_ in of_kind if round_.hit]
        rows.append(
            (
                kind,
                str(len(hit)),
                str(len(of_kind) - len(hit)),
                str(sum(not round_.violations for round_ in hit)),
                str(sum(bool(round_.violations) for round_ in of_kind)),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


# --- one round --------------------------------------------------------------------------------


def play(round_: Round, cli_dir: Path, data: DataFiles, disk: Disk, checker: Checker) -> None:
    """The faulted run, put right what the fault did to the machine (space, data, stopped
    processes), the invariants; then the clean run and the invariants again."""
    args = ["run", "--data-dir", data.path, "--output-dir", checker.output, *round_.settings]
    run = Cli(cli_dir, *args, own_group=True)
    injected = wait_for_moment(run, round_.fault)
    tree: list[psutil.Process] = []
    stopped: list[psutil.Process] = []
    signalled_at: float | None = None
    if injected:
        tree = process_tree(run.process.pid)
        round_.hit, stopped, signalled_at = inject(round_.fault, run, tree, data, disk)
    result, problems = finish(run, stopped, tree)
    disk.free()
    data.restore()
    round_.code = result.code
    round_.violations += problems
    hung = any(problem.startswith(HANG) for problem in problems)
    round_.violations += console_problems(result, round_.fault, round_.hit, killed=hung)
    round_.violations += checker.check(result, recovered=False, signalled_at=signalled_at)

    clean = Cli(cli_dir, *args).finish()
    if clean.code != 0:
        round_.violations.append(f"the clean run after the fault failed (exit {clean.code}): {last_lines(clean)}")
    round_.violations += console_problems(clean, None, False)
    round_.violations += checker.check(clean, recovered=True)


def wait_for_moment(run: Cli, fault: Fault) -> bool:
    """Waits for the fault's moment; False when the run ended before it."""
    started = time.monotonic()
    line = f"{fault.moment} ..."
    while fault.moment != START and line not in run.stderr_path.read_text().split("\n"):
        if run.process.poll() is not None:
            return False
        time.sleep(0.02)
    deadline = (started if fault.moment == START else time.monotonic()) + fault.delay
    while time.monotonic() < deadline:
        if run.process.poll() is not None:
            return False
        time.sleep(0.01)
    return run.process.poll() is None


def process_tree(pid: int) -> list[psutil.Process]:
    """The run's process, then its descendants (the executor workers)."""
    try:
        process = psutil.Process(pid)
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def inject(
    fault: Fault, run: Cli, tree: list[psutil.Process], data: DataFiles, disk: Disk
) -> tuple[bool, list[psutil.Process], float | None]:
    """Does the fault; returns whether it reached a live run (a worker fault finds no worker once
    the run has ended its workers: missed), the processes it stopped, and when it signalled the
    run to stop (time.time())."""
    pid = run.process.pid
    workers = tree[1:]
    stopped: list[psutil.Process] = []
    signalled_at = None
    if fault.kind in WORKER_FAULTS and not workers:
        return False, stopped, signalled_at
    try:
        if fault.kind == "kill-run":
            os.kill(pid, signal.SIGKILL)
        elif fault.kind == "kill-worker":
            workers[int(fault.pick * len(workers))].send_signal(signal.SIGKILL)
        elif fault.kind == "stop-then-term":
            target = workers[int(fault.pick * len(workers))]
            target.send_signal(signal.SIGSTOP)
            stopped.append(target)
            time.sleep(fault.pause)
            signalled_at = time.time()
            os.kill(pid, signal.SIGTERM)
        elif fault.kind in ("term-group", "int-group"):
            signalled_at = time.time()
            os.killpg(pid, signal.SIGTERM if fault.kind == "term-group" else signal.SIGINT)
        elif fault.kind == "disk-full":
            disk.fill()
        else:
            data.swap(fault.file_role, truncate=fault.kind == "truncate-file", labels_seed=fault.labels_seed)
    except (ProcessLookupError, psutil.NoSuchProcess):
        return False, stopped, signalled_at
    return run.process.poll() is None or fault.kind == "kill-run", stopped, signalled_at


def finish(run: Cli, stopped: list[psutil.Process], tree: list[psutil.Process]) -> tuple[Result, list[str]]:
    """Waits for the run to end (killing it if it hangs: the one problem then), continues what the
    fault stopped, and waits for its other processes to be gone (killing them if they outlive it)."""
    problems = []
    try:
        run.process.wait(HANG_SECONDS)
    except subprocess.TimeoutExpired:
        problems.append(f"{HANG} {HANG_SECONDS} s after the fault; its last lines: {last_lines(run)}")
        for process in stopped:
            with_process(process, lambda p: p.send_signal(signal.SIGCONT))
        os.killpg(run.process.pid, signal.SIGKILL)
    result = run.finish()
    for process in stopped:
        with_process(process, lambda p: p.send_signal(signal.SIGCONT))
    deadline = time.monotonic() + GONE_SECONDS
    left = tree[1:]
    while left and time.monotonic() < deadline:
        left = [process for process in left if alive(process)]
        time.sleep(0.1)
    for process in left:
        problems.append(f"process {process.pid} ({' '.join(process.cmdline()[:3])}) outlived its run")
        with_process(process, lambda p: p.send_signal(signal.SIGKILL))
    return result, problems


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def with_process(process: psutil.Process, action: Callable[[psutil.Process], None]) -> None:
    try:
        action(process)
    except psutil.NoSuchProcess:
        pass


def last_lines(run: Cli | Result, count: int = 3) -> str:
    stderr = run.stderr if isinstance(run, Result) else run.stderr_path.read_text()
    return " | ".join(stderr.strip().splitlines()[-count:])


def ran_whole(result: Result) -> bool:
    """Whether the run's summary says that every component of the run finished: a signal that
    came as the last components ended (a push under way ends first) leaves a complete run."""
    from pipeline import node_ids

    match = re.search(r"^Summary: (\S+)$", result.stdout + result.stderr, re.M)
    if match is None or not Path(match.group(1)).is_file():
        return False
    summary = json.loads(Path(match.group(1)).read_text())
    finished = {entry["component"] for entry in summary["components"] if entry["status"] in ("ran", "cached")}
    local_nodes = {
        *(node_ids.DATA_PROBE, node_ids.SCHEMA_IMPORTER, node_ids.SERVING_PROBE, node_ids.INGEST),
        *(node_ids.SERVED_MODEL, node_ids.STATISTICS, node_ids.SCHEMA_VALIDATOR, node_ids.SPLIT_VALIDATOR),
        *(node_ids.DATA_GATE, node_ids.TRAINER, node_ids.BLESSING_EVALUATOR, node_ids.TEST_EVALUATOR),
    }
    pushes = "run with --no-push" not in result.stdout + result.stderr
    expected = local_nodes | ({node_ids.PUSHER} if pushes else set())
    return summary["status"] == "complete" and expected <= finished


def console_problems(result: Result, fault: Fault | None, hit: bool, killed: bool = False) -> list[str]:
    """What the user saw: one line for a fault, no traceback; the run's log exists. `killed`: the
    harness killed the run (it hung). A SIGKILL ends a run without a word, and so does a SIGTERM
    that comes before the run has started (before its "Run ..." line), as it ends any program."""
    problems = []
    if "Traceback" in result.stderr:
        tail = result.stderr[result.stderr.index("Traceback") :].strip().splitlines()
        problems.append(f"a traceback on the console, ending {tail[-1]!r}")
    fault_lines = [line for line in result.stderr.splitlines() if FAULT_LINE.match(line)]
    logged = LOG_LINE.search(result.stderr)
    silent = (
        fault is not None
        and hit
        and (
            (fault.kind == "kill-run" and result.code == -signal.SIGKILL)
            or (fault.kind == "term-group" and result.code == -signal.SIGTERM and not logged)
        )
    )
    if result.code == 0 and fault_lines:
        problems.append(f"exit 0, yet {fault_lines}")
    elif result.code != 0 and not (killed or silent) and len(fault_lines) != 1:
        problems.append(f"exit {result.code} with {len(fault_lines)} error lines: {fault_lines or last_lines(result)}")
    if result.code < 0 and not (killed or silent):
        problems.append(f"ended by signal {signal.Signals(-result.code).name}, not by the CLI")
    if hit and fault is not None and fault.kind in SIGNAL_FAULTS and result.code == 0 and not ran_whole(result):
        problems.append("exit 0 after it was signalled to stop, and not every component ran")
    if logged and not Path(logged.group(1)).is_file():
        problems.append(f"its log {logged.group(1)} is missing")
    return problems


# --- what the faults need: a disk to fill, data to swap, a loader of SavedModels --------------


class Disk:
    """A tmpfs for the output dirs, so that a fault can fill it (as tests/e2e/test_faults.py's full
    disk); a plain folder where none can be mounted (not root, a sandbox that forbids it)."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True)
        try:
            result = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(path)], capture_output=True, text=True
            )
            self.mounted, self.reason = result.returncode == 0, result.stderr.strip()
        except FileNotFoundError:
            self.mounted, self.reason = False, "no `mount` command"
        self.full = False

    def fill(self) -> None:
        self.full = fill_up(self.path)

    def free(self) -> None:
        if self.full:
            assert self._remount(DISK_SIZE), f"{self.path}: cannot be grown back to {DISK_SIZE}"
            self.full = False

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.path)], check=False)

    def _remount(self, size: str) -> bool:
        return remount(self.path, size)


def fill_up(path: Path) -> bool:
    """No space left on the tmpfs mounted at `path`: it shrinks to what it holds (a write between
    the measure and the shrink makes the shrink fail: measured again); False if it never could."""
    for _ in range(20):
        stats = os.statvfs(path)
        if remount(path, str((stats.f_blocks - stats.f_bfree + 1) * stats.f_frsize)):
            return True
    return False


def remount(path: Path, size: str) -> bool:
    return subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], capture_output=True).returncode == 0


@dataclass(frozen=True)
class FileVersion:
    role: str
    array: np.ndarray | None  # None: not a valid IDX file


class DataFiles:
    """The soak's data dir: the four synthetic files, a fault's swapped or truncated file, and every
    version of each file ever written there, by SHA-256 (what the ingest's records may name)."""

    def __init__(self, path: Path):
        self.path = path
        self.files = write_fake_mnist(path)
        self.original = {role: file.read_bytes() for role, file in self.files.items()}
        self.versions: dict[str, FileVersion] = {}  # by the SHA-256 of the file, and of its content decompressed
        for role, content in self.original.items():
            self._know(content, FileVersion(role, read_idx(content)))

    def swap(self, role: str, truncate: bool, labels_seed: int) -> None:
        """Replaces the file at once (a rename over it, as a download would): by its first half,
        or by valid labels in another order."""
        original = self.original[role]
        if truncate:
            content, array = original[: len(original) // 2], None
        else:
            array = balanced_labels(len(read_idx(original)), seed=labels_seed)
            content = gzip.compress(idx_bytes(array), mtime=0)
        self._know(content, FileVersion(role, array))
        self._replace(role, content)

    def _know(self, content: bytes, version: FileVersion) -> None:
        self.versions.setdefault(sha256(content), version)
        if version.array is not None:
            self.versions.setdefault(sha256(gzip.decompress(content)), version)

    def restore(self) -> None:
        for role, content in self.original.items():
            if self.files[role].read_bytes() != content:
                self._replace(role, content)

    def _replace(self, role: str, content: bytes) -> None:
        temporary = self.path / f".new-{role}"
        temporary.write_bytes(content)
        os.replace(temporary, self.files[role])


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def read_idx(content: bytes) -> np.ndarray:
    """The array of a gzip-compressed IDX file (fake_mnist.write_idx's inverse)."""
    raw = gzip.decompress(content)
    dimensions = raw[3]
    shape = struct.unpack(f">{dimensions}I", raw[4 : 4 + 4 * dimensions])
    return np.frombuffer(raw[4 + 4 * dimensions :], dtype=np.uint8).reshape(shape)


LOADER = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
for line in sys.stdin:
    try:
        model = tf.saved_model.load(line.strip())
        reply = "" if "serving_default" in model.signatures else "it has no serving_default signature"
    except Exception as error:
        reply = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"
    print("loaded: " + reply, flush=True)
"""


class ModelLoader:
    """Loads SavedModels with tf.saved_model.load in a process of its own (TensorFlow's runtime
    stays out of the test's process), started at the first load and kept for the next."""

    def __enter__(self) -> ModelLoader:
        self._process: subprocess.Popen[str] | None = None
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.stdin.close()  # type: ignore[union-attr]
            self._process.wait()

    def problem(self, path: Path) -> str | None:
        """Why the SavedModel at `path` does not load; None when it does."""
        if self._process is None:
            self._process = subprocess.Popen(
                [sys.executable, "-c", LOADER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(f"{path}\n")
        self._process.stdin.flush()
        while line := self._process.stdout.readline():
            if line.startswith("loaded: "):
                return line.removeprefix("loaded: ").strip() or None
        raise RuntimeError(f"the SavedModel loader ended while loading {path}")


# --- the invariants ---------------------------------------------------------------------------


class Checker:
    """The invariants of one output dir, checked after each run; remembers what it has checked
    (a served version loads once), what was served, and what it has reported."""

    def __init__(self, output: Path, data: DataFiles, loader: ModelLoader):
        self.output, self.serving = output, output / "serving"
        self.data, self.loader = data, loader
        self.loaded: dict[str, str | None] = {}  # version dir -> why it does not load (None: loads)
        self.served_once: set[str] = set()
        self.checked_examples: set[int] = set()
        self.reported: set[str] = set()

    def check(self, result: Result, recovered: bool, signalled_at: float | None = None) -> list[str]:
        """The violations not reported before (a lasting one is named once)."""
        problems = [*self.serving_problems(signalled_at if result.code != 0 else None)]
        if (self.output / "metadata.sqlite").is_file():
            from pipeline.inspect import store as inspect_store

            store = inspect_store.open_store(self.output / "metadata.sqlite")
            problems += self.store_problems(store, recovered)
            problems += self.examples_problems(store)
            problems += self.summary_problems(store, result)
        new = [problem for problem in problems if problem not in self.reported]
        self.reported.update(new)
        return new

    def versions(self) -> dict[str, Path]:
        """The serving dir's entries TF Serving would take as versions (names of digits)."""
        if not self.serving.is_dir():
            return {}
        return {path.name: path for path in self.serving.iterdir() if path.name.isascii() and path.name.isdigit()}

    def serving_problems(self, signalled_at: float | None) -> list[str]:
        problems = []
        versions = self.versions()
        for gone in sorted(self.served_once - set(versions)):
            problems.append(f"served version {gone} was removed")
        for name, path in sorted(versions.items()):
            missing = [
                str(relative)
                for relative in (MARKER, Path("saved_model.pb"), Path("variables") / "variables.index")
                if not (path / relative).is_file()
            ]
            if missing:
                problems.append(f"served version {name} is incomplete: no {', '.join(missing)}")
                continue
            if str(path) not in self.loaded:
                self.loaded[str(path)] = self.loader.problem(path)
            if self.loaded[str(path)]:
                problems.append(f"served version {name} does not load: {self.loaded[str(path)]}")
            if signalled_at is not None and name not in self.served_once and path.stat().st_ctime >= signalled_at:
                problems.append(f"version {name} was published after the run was signalled to stop")
            self.served_once.add(name)
        return problems

    def store_problems(self, store, recovered: bool) -> list[str]:
        """Records against the serving dir; the rule on the served models' Precision@1."""
        from ml_metadata.proto import metadata_store_pb2

        problems = []
        recorded: dict[str, float | None] = {}  # version dir -> its blessing's validation Precision@1
        for pushed in store.get_artifacts_by_type("PushedModel"):
            properties = pushed.custom_properties
            if pushed.state != metadata_store_pb2.Artifact.LIVE or properties["pushed"].int_value != 1:
                continue
            destination = os.path.normpath(properties["pushed_destination"].string_value)
            if not (Path(destination) / MARKER).is_file():
                problems.append(f"the store records {destination} as pushed (artifact {pushed.id}); it is not served")
            pusher = producer(store, pushed.id)
            if pusher is None or pusher.last_known_state != metadata_store_pb2.Execution.COMPLETE:
                state = metadata_store_pb2.Execution.State.Name(pusher.last_known_state) if pusher else "none"
                problems.append(f"the push of {destination} was recorded by a Pusher execution in state {state}")
            if pusher is not None and recorded.get(destination) is None:
                recorded[destination] = validation_precision(store, pusher.id)
        served = {str(path): name for name, path in self.versions().items() if (path / MARKER).is_file()}
        if recovered:
            for path in sorted(set(served) - set(recorded)):
                problems.append(f"served version {served[path]} is not recorded as pushed, after recovery")
        return problems + regression_problems(served, recorded)

    def examples_problems(self, store) -> list[str]:
        """Each ingest's Examples hold the records of the files whose SHA-256 they record."""
        from ml_metadata.proto import metadata_store_pb2

        from pipeline.inspect import records

        problems = []
        for examples in store.get_artifacts_by_type("Examples"):
            made_by = producer(store, examples.id)
            if examples.id in self.checked_examples or made_by is None:
                continue
            if made_by.last_known_state != metadata_store_pb2.Execution.COMPLETE:
                continue
            self.checked_examples.add(examples.id)
            properties = examples.custom_properties
            for source, splits in (("train", ("train", "validation")), ("test", ("test",))):
                images, labels = (
                    self.data.versions.get(properties[f"input_sha256_{source}_{part}"].string_value)
                    for part in ("images", "labels")
                )
                if images is None or labels is None or images.array is None or labels.array is None:
                    problems.append(
                        f"Examples {examples.id} record {source} files that were never in the data dir, "
                        "or never valid IDX files"
                    )
                    continue
                label_of = {image.tobytes(): int(label) for image, label in zip(images.array, labels.array)}
                wrong = sum(
                    label_of.get(pixels.tobytes()) != label
                    for split in splits
                    for pixels, label in records.examples(f"{examples.uri}/Split-{split}")
                )
                if wrong:
                    problems.append(
                        f"Examples {examples.id}: {wrong} {'/'.join(splits)} records differ from the {source} "
                        "files whose SHA-256 they record"
                    )
        return problems

    def summary_problems(self, store, result: Result) -> list[str]:
        """The run's summary (what the console and the report said) against the store now."""
        from pipeline.inspect import runs
        from pipeline.inspect import store as inspect_store

        match = re.search(r"^Run (\S+) of pipeline", result.stderr, re.M)
        summary_path = self.output / "runs" / f"{match.group(1)}.json" if match else None
        if summary_path is None or not summary_path.is_file():
            return []
        summary = json.loads(summary_path.read_text())
        run = inspect_store.find_run_context(store, summary["run_id"])
        if run is None:
            return [f"run {summary['run_id']} has a summary and no record"]
        recorded = {info.node_id: str(info.status) for info in runs.load(store, run).executions}
        return [
            f"the summary says {component['component']} {component['status']}, the store says "
            f"{recorded.get(component['component'], 'nothing')}"
            for component in summary["components"]
            if recorded.get(component["component"]) != component["status"]
        ]


def regression_problems(served: dict[str, str], precision: dict[str, float | None]) -> list[str]:
    """Each served version against the best served before it, by the rule of the settings."""
    max_regression = regression_setting()
    problems, best = [], None
    for path in sorted((path for path in served if path in precision), key=lambda path: int(served[path])):
        figure = precision[path]
        if figure is None:
            continue
        if best is not None and figure < best[0] - max_regression - 1e-9:
            problems.append(
                f"served version {served[path]} has validation Precision@1 {figure:.4f}, more than "
                f"evaluation.max_precision_at_1_regression {max_regression} below version {best[1]}'s {best[0]:.4f}"
            )
        if best is None or figure > best[0]:
            best = (figure, served[path])
    return problems


def producer(store, artifact_id: int):
    """The execution whose output the artifact is (None: none recorded)."""
    from ml_metadata.proto import metadata_store_pb2

    outputs = [
        event.execution_id
        for event in store.get_events_by_artifact_ids([artifact_id])
        if event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
    ]
    return store.get_executions_by_id(outputs[:1])[0] if outputs else None


def validation_precision(store, pusher_id: int) -> float | None:
    """Validation Precision@1 of the model a Pusher execution pushed: the evaluation beside the
    blessing it was given."""
    from ml_metadata.proto import metadata_store_pb2

    inputs = [e.artifact_id for e in store.get_events_by_execution_ids([pusher_id]) if e.type == e.INPUT]
    blessings = [a for a in store.get_artifacts_by_id(inputs) if store_type(store, a) == "ModelBlessing"]
    evaluator = producer(store, blessings[0].id) if blessings else None
    if evaluator is None:
        return None
    outputs = [
        e.artifact_id
        for e in store.get_events_by_execution_ids([evaluator.id])
        if e.type == metadata_store_pb2.Event.OUTPUT
    ]
    for artifact in store.get_artifacts_by_id(outputs):
        if store_type(store, artifact) == "ModelEvaluation" and "precision_at_1" in artifact.custom_properties:
            return artifact.custom_properties["precision_at_1"].double_value
    return None


def store_type(store, artifact) -> str:
    return store.get_artifact_types_by_id([artifact.type_id])[0].name


def regression_setting() -> float:
    """evaluation.max_precision_at_1_regression as the settings have it (the soak sets it nowhere)."""
    from pipeline.config import load_config

    return load_config().evaluation.max_precision_at_1_regression


# --- `make soak` ------------------------------------------------------------------------------


def main() -> int:
    warnings.filterwarnings("ignore", category=FutureWarning)  # google.api_core's on Python 3.10, once per import
    seed = int(os.environ.get("SOAK_SEED") or rotating_seed())
    rounds = int(os.environ.get("SOAK_ROUNDS") or 200)
    work = Path(tempfile.mkdtemp(prefix=f"mnist-soak-{seed}-"))
    # The runs and the checks use a copy of the code: edits made during the soak change neither.
    Cli.project = copy_project(work / "project")
    sys.path.insert(0, str(Cli.project))  # ahead of tests/pipeline/, which this script's folder would make a package
    started = time.monotonic()
    done = soak(work, seed, rounds)
    print(f"\n{len(done)} rounds in {(time.monotonic() - started) / 60:.0f} min, SOAK_SEED={seed}\n")
    print(table(done))
    violated = [round_ for round_ in done if round_.violations]
    for round_ in violated:
        print(f"\n{describe(round_)}")
    if violated:
        print(f"\nReproduce: {reproduce(seed, violated[0].number)} (output dirs kept under {work / 'kept'})")
    else:
        shutil.rmtree(work)
    return 1 if violated else 0


if __name__ == "__main__":
    sys.exit(main())
