"""Benchmarks of the MNIST pipeline: `make bench` and `make bench-scale`.

make bench: each repetition runs, on the same data, one program after the other:
    reference  the straightforward TFX build in ../shared/reference/ (convert_mnist.py, then
               mnist_pipeline.py), as ../shared/reference/ratio.sh times it
    cold       `mnist-pipeline run` into a fresh output dir
    edited     the same command after a changed training setting (learning rate x 1.1), on the
               now warm output dir: what a user waits for after an edit
    plain      ../shared/reference/plain_keras_idx.py with the edited run's training settings:
               the same training and evaluation with no pipeline at all
    kernel     bench/warm_kernel.py: a warm Jupyter kernel's process (pipeline/notebook.py) runs the
               pipeline 5 times (cold, then edited), then calls the plain script in the same process
               with the first edited run's settings; and its peak memory per run
    inspect    `lineage runs`, `lineage trace pushed:latest` and a run refused for a missing data
               dir, on the warm output dir, against Python importing ML Metadata's client
and reports the targets: cold / reference, edited / plain, the kernel's edited run / the plain
script in that kernel, its peak memory over five runs / over one (ratios taken within one
repetition, since the machines drift), the test Precision@1, the Trainer's throughput over the
plain script's (model.fit, first steps included), the peak memory, and the inspection ratios; with
the seconds of each component of the cold and edited runs. Without ../shared/reference/
the reference and plain programs are skipped and the table says so.

make bench-scale (--scale): ingest, then statistics, on synthetic IDX files of 1x, 2x and 4x
MNIST's 60,000 training images (plus 10,000 test images), each step a TFX partial run of the
pipeline (bench/workloads.py partial): seconds (from ML Metadata) and peak memory per size.

Every measured program runs as a child process: wall clock around it, and its peak memory: a
run's executors run in processes forked from it (pipeline/local/executor_processes.py), which
share most of their pages with it, so the memory of the whole process tree is sampled every
0.1 s as the sum of its processes' PSS (proportional set size: a page shared by n processes
counts 1/n in each; for a single process PSS <= RSS); the largest single process's peak RSS
(os.wait4) is reported beside it. Figures are min / median / max over --repeat
repetitions; targets are checked on every repetition's value (a ratio target must hold in each).
The results are printed and written as JSON to bench/results/<time>.json (and to --json-out).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from components.idx_example_gen import idx
from components.idx_example_gen.layout import locate_idx_file
from components.trainer.settings import TrainerSettings
from pipeline import node_ids
from pipeline.config import PipelineConfig, load_config
from pipeline.inspect.run_summary import RunSummary
from pipeline.inspect.states import ComponentStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' synthetic MNIST
from support.fake_mnist import write_large_fake_mnist

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
WORKLOADS = BENCH_DIR / "workloads.py"
WARM_KERNEL = BENCH_DIR / "warm_kernel.py"
KERNEL_RUNS = 5  # runs in one warm kernel: the first cold, then edited ones
REFERENCE_DIR = BENCH_DIR.parent.parent / "shared" / "reference"
PIPELINE_CLI = Path(sys.executable).with_name("mnist-pipeline")
PLAIN_LINE = re.compile(r"wall ([\d.]+) s, fit ([\d.]+) s, Precision@1 train [\d.]+ validation [\d.]+ test ([\d.]+)")
EDITED_LEARNING_RATE_FACTOR = 1.1
SCALE_FACTORS = (1, 2, 4)
MNIST_TRAIN_IMAGES = 60_000
# Figure -> (comparison, threshold), checked on every repetition. From the performance issue.
PIPELINE_TARGETS = {
    "cold_vs_reference.ratio": ("<=", 0.5),
    "edited_vs_plain.ratio": ("<=", 2.0),
    # A warm Jupyter kernel (bench/warm_kernel.py): an edited run against the plain script called in it.
    "kernel_edited_vs_plain.ratio": ("<=", 1.3),
    "kernel_runs.peak_memory_ratio": ("<=", 1.2),  # the peak over KERNEL_RUNS runs against the first run's
    "cold.test_precision_at_1": (">=", 0.980),
    "trainer_vs_plain.throughput_ratio": (">=", 0.9),
    "cold.peak_memory_mib": ("<=", 1536.0),
    # Answers at the speed of a query: against Python importing ML Metadata's client.
    "lineage_runs_vs_mlmd_import.ratio": ("<=", 3.0),
    "refused_run_vs_mlmd_import.ratio": ("<=", 3.0),
    "lineage_trace_vs_mlmd_import.ratio": ("<=", 4.0),
}
# Figure -> (comparison, threshold), checked on the median of the repetitions.
PIPELINE_MEDIAN_TARGETS = {"cold_vs_reference.ratio": ("<=", 0.45)}
MLMD_IMPORT = "import ml_metadata; from ml_metadata import metadata_store"
SCALE_TARGETS = {  # "memory stays flat": 4x within 20% of 1x
    "4x_vs_1x.ingest_peak_memory_ratio": ("<=", 1.2),
    "4x_vs_1x.statistics_peak_memory_ratio": ("<=", 1.2),
}


class BenchmarkError(RuntimeError):
    """A measured program failed or wrote no result."""


@dataclass(frozen=True)
class Measured:
    wall_s: float
    peak_memory_mib: float  # the process tree's, PSS summed
    largest_rss_mib: float  # the peak RSS of its largest process


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = load_config(overrides=args.overrides)
    started = datetime.datetime.now()
    machine = machine_info()
    print(
        f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['memory_gib']} GiB, load "
        f"{machine['load_average_1m']:.2f}; Python {machine['python']}, TensorFlow {machine['tensorflow']}, "
        f"TFX {machine['tfx']}",
        flush=True,
    )
    kept = contextlib.nullcontext(args.work_dir / f"{started:%Y%m%d-%H%M%S}") if args.work_dir else None
    with kept or tempfile.TemporaryDirectory(prefix="mnist-bench-") as work_dir:
        try:
            if args.scale:
                result = bench_scale(config, args, Path(work_dir))
                figures = result["figures"]
            else:
                result = bench_pipeline(config, args, Path(work_dir))
                figures = result["figures"]
                if not args.no_scale:  # target 4's flat memory, once: it does not drift with the machine
                    scale = bench_scale(
                        config, argparse.Namespace(**{**vars(args), "repeat": 1}), Path(work_dir) / "scale"
                    )
                    result["scale"] = scale
                    result["targets"] = result["targets"] + scale["targets"]
                    figures = {**figures, **scale["figures"]}
            print_targets(figures, result["targets"])
        except BenchmarkError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    result = {
        "benchmark": "scale" if args.scale else "pipeline",
        "started": started.isoformat(timespec="seconds"),
        "command": [Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])],
        "machine": machine,
        "settings": {"repeat": args.repeat, "overrides": args.overrides, **result.pop("settings")},
        **result,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    for path in (RESULTS_DIR / f"{started:%Y%m%d-%H%M%S}.json", args.json_out):
        if path is not None:
            path.write_text(json.dumps(result, indent=2) + "\n")
            print(f"Results: {path}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data/mnist"),
        help="the MNIST IDX files, downloaded when missing (not used with --scale)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument(
        "--scale", action="store_true", help="only the scaling run: ingest and statistics at 1x, 2x, 4x"
    )
    parser.add_argument(
        "--no-scale", action="store_true", help="leave out the scaling run that follows the pipeline runs"
    )
    parser.add_argument(
        "--scale-images",
        type=int,
        default=MNIST_TRAIN_IMAGES,
        help=f"training images at 1x (default {MNIST_TRAIN_IMAGES:,}); test images are 1/6 of it",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        dest="overrides",
        metavar="KEY=VALUE",
        help="a pipeline setting for every run, as `mnist-pipeline run --set`",
    )
    parser.add_argument("--json-out", type=Path, help="also write the results JSON here")
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="keep the output dirs, data and logs in a new dir "
        "under this one (default: a temporary dir, removed at the end)",
    )
    return parser


# --- make bench -----------------------------------------------------------------------------


def bench_pipeline(config: PipelineConfig, args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    """Reference, cold, edited and plain, --repeat times; prints the table and returns the results."""
    from pipeline.local.download import ensure_mnist

    ensure_mnist(args.data_dir)
    images = count_images(config, args.data_dir)
    reference = REFERENCE_DIR if (REFERENCE_DIR / "mnist_pipeline.py").is_file() else None
    print(
        f"Pipeline benchmark: {args.repeat} x (reference, cold, edited, plain) on {args.data_dir} ({images:,} images)"
        + ("" if reference else f"; {REFERENCE_DIR} not found: no reference build, no plain script"),
        flush=True,
    )
    repetitions, problems = [], []
    for repetition in range(1, args.repeat + 1):
        figures, found = pipeline_repetition(config, args, work_dir / f"rep{repetition}", images, reference)
        repetitions.append(figures)
        problems += [f"repetition {repetition}: {problem}" for problem in found]
        print(
            f"  repetition {repetition}: "
            + ", ".join(
                f"{name} {figures[f'{name}.wall_s']:.1f} s"
                for name in ("reference", "cold", "edited", "plain")
                if f"{name}.wall_s" in figures
            ),
            flush=True,
        )
    summary = summarize(repetitions)
    targets = check_targets(summary, PIPELINE_TARGETS) + check_targets(summary, PIPELINE_MEDIAN_TARGETS, of_median=True)
    print_figures(summary)
    for problem in problems:
        print(f"warning: {problem}")
    settings = {
        "data_dir": str(args.data_dir.resolve()),
        "images": images,
        "reference": str(reference),
        "training": config.as_dict()["training"],
    }
    return {
        "settings": settings,
        "figures": summary,
        "targets": targets,
        "problems": problems,
        "repetitions": repetitions,
    }


def pipeline_repetition(
    config: PipelineConfig, args: argparse.Namespace, work_dir: Path, images: int, reference: Path | None
) -> tuple[dict[str, float], list[str]]:
    """One reference build, cold run, edited run and plain script: flat figures, and what went unexpectedly."""
    output_dir, logs = work_dir / "output", work_dir / "logs"
    logs.mkdir(parents=True)
    set_args = [arg for override in args.overrides for arg in ("--set", override)]
    run_command = [
        str(PIPELINE_CLI),
        "run",
        "--data-dir",
        str(args.data_dir),
        "--output-dir",
        str(output_dir),
        *set_args,
    ]
    figures: dict[str, float] = {}
    if reference:
        figures["reference.wall_s"] = measure_reference(reference, args.data_dir, work_dir / "reference", logs)

    cold = measure(run_command, logs / "cold.log")
    cold_summary = newest_run(output_dir)
    fit = cold_summary.training
    if fit is None:
        raise BenchmarkError(f"{output_dir}: the cold run's summary has no Trainer fit: did the Trainer run?")
    figures.update(
        {
            "cold.wall_s": cold.wall_s,
            "cold.peak_memory_mib": cold.peak_memory_mib,
            "cold.largest_process_rss_mib": cold.largest_rss_mib,
            "cold.test_precision_at_1": cold_summary.evaluation["test"].precision_at_1,
            **{f"cold.component_s.{c.component}": c.seconds for c in cold_summary.components},
            "ingest.images_per_s": images / _seconds(cold_summary, node_ids.INGEST),
            "trainer.fit_s": fit.seconds,
            "trainer.first_log_interval_s": fit.first_interval_seconds or float("nan"),
            "trainer.examples_per_s": fit.examples / fit.seconds,
        }
    )

    edited_settings = edited_training(config.training)
    edited = measure(
        [*run_command, "--set", f"training.learning_rate={edited_settings.learning_rate!r}"], logs / "edited.log"
    )
    edited_summary = newest_run(output_dir)
    figures.update(
        {
            "edited.wall_s": edited.wall_s,
            **{f"edited.component_s.{c.component}": c.seconds for c in edited_summary.components},
        }
    )
    figures.update(measure_inspection(output_dir, logs))
    problems = [
        f"edited run: {node} ran, it should have been cached"
        for node in (node_ids.INGEST, node_ids.STATISTICS)
        if edited_summary.status_of(node) == ComponentStatus.RAN
    ]

    if reference:
        plain = measure_plain(reference, args.data_dir, edited_settings, logs / "plain.log")
        figures.update(plain)
        figures["cold_vs_reference.ratio"] = figures["cold.wall_s"] / figures["reference.wall_s"]
        figures["edited_vs_plain.ratio"] = figures["edited.wall_s"] / figures["plain.wall_s"]
        plain_examples_per_s = edited_settings.train_steps * edited_settings.batch_size / figures["plain.fit_s"]
        figures["trainer_vs_plain.throughput_ratio"] = figures["trainer.examples_per_s"] / plain_examples_per_s
        figures.update(measure_warm_kernel(reference, args, work_dir / "kernel", logs))
    (output_dir / "runs").rename(logs / "runs")  # the runs' logs, summaries and reports stay, the artifacts go
    shutil.rmtree(output_dir)
    return figures, problems


def measure_warm_kernel(reference: Path, args: argparse.Namespace, work_dir: Path, logs: Path) -> dict[str, float]:
    """bench/warm_kernel.py in a process of its own: KERNEL_RUNS notebook runs, then the plain script, in it."""
    result_json = logs / "kernel.json"
    set_args = [arg for override in args.overrides for arg in ("--set", override)]
    command = [
        sys.executable,
        str(WARM_KERNEL),
        "--data-dir",
        str(args.data_dir),
        "--output-dir",
        str(work_dir / "output"),
        "--plain",
        str(reference / "plain_keras_idx.py"),
        "--runs",
        str(KERNEL_RUNS),
        "--result",
        str(result_json),
        *set_args,
    ]
    measure(command, logs / "kernel.log")
    shutil.rmtree(work_dir)
    return kernel_figures(json.loads(result_json.read_text()))


def kernel_figures(result: dict[str, Any]) -> dict[str, float]:
    """The warm kernel's figures: its first edited run (the second run) against the plain script with its settings."""
    run_s, peaks = result["run_s"], result["peak_memory_mib"]
    return {
        "kernel_cold.wall_s": run_s[0],
        "kernel_edited.wall_s": run_s[1],
        **{f"kernel_edited.component_s.{name}": seconds for name, seconds in result["component_s"][1].items()},
        "kernel_plain.wall_s": result["plain_s"],
        "kernel_edited_vs_plain.ratio": run_s[1] / result["plain_s"],
        "kernel_one_run.peak_memory_mib": peaks[0],
        "kernel_runs.peak_memory_mib": max(peaks),
        "kernel_runs.peak_memory_ratio": max(peaks) / peaks[0],
    }


def measure_inspection(output_dir: Path, logs: Path) -> dict[str, float]:
    """What a user waits for to read runs, or to be told a run cannot start, on the warm output dir."""
    cli = [str(PIPELINE_CLI)]
    figures = {
        "mlmd_import.wall_s": measure([sys.executable, "-c", MLMD_IMPORT], logs / "mlmd-import.log").wall_s,
        "lineage_runs.wall_s": measure(
            [*cli, "lineage", "runs", "--output-dir", str(output_dir)], logs / "runs.log"
        ).wall_s,
        "lineage_trace.wall_s": measure(
            [*cli, "lineage", "trace", "pushed:latest", "--output-dir", str(output_dir)], logs / "trace.log"
        ).wall_s,
        "refused_run.wall_s": measure(
            [*cli, "run", "--data-dir", str(output_dir / "no-data"), "--output-dir", str(output_dir)],
            logs / "refused.log",
            expected_exit=1,
        ).wall_s,
    }
    for name in ("lineage_runs", "refused_run", "lineage_trace"):
        figures[f"{name}_vs_mlmd_import.ratio"] = figures[f"{name}.wall_s"] / figures["mlmd_import.wall_s"]
    return figures


def measure_reference(reference: Path, data_dir: Path, ref_dir: Path, logs: Path) -> float:
    """The straightforward TFX build, cold, as ../shared/reference/ratio.sh runs it: wall seconds."""
    env = {**os.environ, "MNIST_DIR": str(data_dir.resolve()), "REF_DIR": str(ref_dir)}
    started = time.monotonic()
    measure([sys.executable, str(reference / "convert_mnist.py")], logs / "reference-convert.log", env)
    measure(
        [sys.executable, str(reference / "mnist_pipeline.py"), str(ref_dir / "run")], logs / "reference-run.log", env
    )
    wall_s = time.monotonic() - started
    shutil.rmtree(ref_dir)
    return wall_s


def measure_plain(reference: Path, data_dir: Path, settings: TrainerSettings, log_path: Path) -> dict[str, float]:
    """plain_keras_idx.py with the given training settings (it builds the same 128/32 MLP with Adam)."""
    command = [sys.executable, str(reference / "plain_keras_idx.py"), *plain_arguments(data_dir, settings)]
    measured = measure(command, log_path)
    match = PLAIN_LINE.search(log_path.read_text())
    if match is None:
        raise BenchmarkError(f"{log_path}: no 'wall .. fit .. Precision@1' line from the plain script")
    return {
        "plain.wall_s": measured.wall_s,
        "plain.fit_s": float(match[2]),
        "plain.test_precision_at_1": float(match[3]),
    }


def plain_arguments(data_dir: Path, settings: TrainerSettings) -> list[str]:
    """plain_keras_idx.py's arguments for these training settings (it builds the same 128/32 MLP with Adam)."""
    return [
        str(data_dir),
        "--steps",
        str(settings.train_steps),
        "--batch",
        str(settings.batch_size),
        "--lr",
        repr(settings.learning_rate),
        "--seed",
        str(settings.seed),
        "--cosine" if settings.cosine_decay else "--no-cosine",
    ]


def edited_training(training: TrainerSettings, times: int = 1) -> TrainerSettings:
    """The settings with the learning rate edited `times` times (x EDITED_LEARNING_RATE_FACTOR each)."""
    import dataclasses

    rate = training.learning_rate * EDITED_LEARNING_RATE_FACTOR**times
    return dataclasses.replace(training, learning_rate=round(rate, 6))


def _seconds(summary: RunSummary, component: str) -> float:
    return next(c.seconds for c in summary.components if c.component == component)


def count_images(config: PipelineConfig, data_dir: Path) -> int:
    """The images in the two image files: what the ingest reads."""
    return sum(
        idx.read_file_header(locate_idx_file(str(data_dir), name), expected_dims=3).count
        for name in (config.ingest.train_images, config.ingest.test_images)
    )


def newest_run(output_dir: Path) -> RunSummary:
    """The newest run's summary (runs/<run id>.json)."""
    summary_path = max((output_dir / "runs").glob("*.json"))  # run ids sort by time
    return RunSummary.from_json(json.loads(summary_path.read_text()))


# --- make bench-scale -----------------------------------------------------------------------


def bench_scale(config: PipelineConfig, args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    """Ingest and statistics at each size, --repeat times; prints the table and returns the results."""
    test_images = args.scale_images // 6
    sizes = {factor: factor * args.scale_images + test_images for factor in SCALE_FACTORS}
    print(
        f"Scaling benchmark: {args.repeat} x ingest and statistics at "
        f"{', '.join(f'{factor}x ({images:,} images)' for factor, images in sizes.items())}",
        flush=True,
    )
    for factor in SCALE_FACTORS:
        write_large_fake_mnist(work_dir / f"data-{factor}x", factor * args.scale_images, test_images)
    repetitions = []
    for repetition in range(1, args.repeat + 1):
        figures = scale_repetition(args, work_dir, sizes, repetition)
        repetitions.append(figures)
        print(
            f"  repetition {repetition}: "
            + ", ".join(f"{f}x ingest {figures[f'{f}x.ingest_s']:.1f} s" for f in SCALE_FACTORS),
            flush=True,
        )
    summary = summarize(repetitions)
    targets = check_targets(summary, SCALE_TARGETS)
    print_scale_table(summary, sizes)
    settings = {
        "scale_factors": list(SCALE_FACTORS),
        "train_images_1x": args.scale_images,
        "test_images": test_images,
        "images": sizes,
    }
    return {"settings": settings, "figures": summary, "targets": targets, "repetitions": repetitions}


def scale_repetition(
    args: argparse.Namespace, work_dir: Path, sizes: dict[int, int], repetition: int
) -> dict[str, float]:
    """Each size: ingest alone, then statistics (the ingest cached), each in a process of its own."""
    set_args = [arg for override in args.overrides for arg in ("--set", override)]
    logs = work_dir / f"rep{repetition}" / "logs"
    logs.mkdir(parents=True)
    figures: dict[str, float] = {}
    for factor, images in sizes.items():
        output_dir = work_dir / f"rep{repetition}" / f"output-{factor}x"
        for step, node in (("ingest", node_ids.INGEST), ("statistics", node_ids.STATISTICS)):
            result_json = output_dir.with_name(f"{output_dir.name}-{step}.json")
            measured = measure(
                [
                    sys.executable,
                    str(WORKLOADS),
                    "--data-dir",
                    str(work_dir / f"data-{factor}x"),
                    "--output-dir",
                    str(output_dir),
                    "--to-node",
                    node,
                    "--result",
                    str(result_json),
                    *set_args,
                ],
                logs / f"{factor}x-{step}.log",
            )
            figures[f"{factor}x.{step}_s"] = json.loads(result_json.read_text())[node]["seconds"]
            figures[f"{factor}x.{step}_peak_memory_mib"] = measured.peak_memory_mib
        figures[f"{factor}x.images_per_s"] = images / figures[f"{factor}x.ingest_s"]
        shutil.rmtree(output_dir)
    largest = SCALE_FACTORS[-1]
    for step in ("ingest", "statistics"):
        # Linear time is a fixed cost (start-up, Beam pipeline) plus a cost per image.
        per_image_s, fixed_s = np.polyfit(list(sizes.values()), [figures[f"{f}x.{step}_s"] for f in sizes], 1)
        figures[f"linear_fit.{step}_fixed_s"] = float(fixed_s)
        figures[f"linear_fit.{step}_us_per_image"] = float(per_image_s) * 1e6
        figures[f"{largest}x_vs_1x.{step}_peak_memory_ratio"] = (
            figures[f"{largest}x.{step}_peak_memory_mib"] / figures[f"1x.{step}_peak_memory_mib"]
        )
    return figures


# --- measuring and reporting ----------------------------------------------------------------


def measure(command: list[str], log_path: Path, env: dict[str, str] | None = None, expected_exit: int = 0) -> Measured:
    """Runs `command` to its end, its output into `log_path`: wall seconds and peak memory."""
    with log_path.open("w") as log:
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        sampler = TreeMemory(process.pid)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)  # ru_maxrss: the largest process's peak RSS
        wall_s = time.monotonic() - started
        sampler.stop()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != expected_exit:
        tail = "\n".join(log_path.read_text().splitlines()[-20:])
        raise BenchmarkError(f"{' '.join(command)}\nexited with {process.returncode}; the end of {log_path}:\n{tail}")
    return Measured(wall_s, sampler.peak_kib / 1024, usage.ru_maxrss / 1024)  # Linux gives KiB


class TreeMemory(threading.Thread):
    """Samples the PSS summed over a process and its descendants; keeps the peak (KiB)."""

    INTERVAL_S = 0.1

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self._pid, self._stopped = pid, threading.Event()
        self.peak_kib = 0

    def run(self) -> None:
        while not self._stopped.wait(self.INTERVAL_S):
            self.peak_kib = max(self.peak_kib, sum(_pss_kib(pid) for pid in _process_tree(self._pid)))

    def stop(self) -> None:
        self._stopped.set()
        self.join()


def _process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc (Linux); a process that just ended is left out."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                pending += [int(child) for child in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
    return found


def _pss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def summarize(repetitions: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Each figure's min, median and max over the repetitions, and the values themselves."""
    summary = {}
    for key in repetitions[0]:
        values = [figures[key] for figures in repetitions]
        summary[key] = {"min": min(values), "median": statistics.median(values), "max": max(values), "values": values}
    return summary


def check_targets(
    summary: dict[str, dict[str, Any]], targets: dict[str, tuple[str, float]], of_median: bool = False
) -> list[dict[str, Any]]:
    """Each target against every repetition's value (met only when it holds in all of them),
    or `of_median`, against the median of the repetitions."""
    checked = []
    for key, (comparison, threshold) in targets.items():
        values = summary.get(key, {}).get("values", [])
        median = summary[key]["median"] if values else None
        checked_values = [median] if of_median and values else values
        passed = bool(values) and all(
            value <= threshold if comparison == "<=" else value >= threshold for value in checked_values
        )
        checked.append(
            {
                "figure": key,
                "target": f"{'median ' if of_median else ''}{comparison} {threshold:g}",
                "median": median,
                "passed": passed,
                "measured": bool(values),
            }
        )
    return checked


def print_figures(summary: dict[str, dict[str, Any]]) -> None:
    width = max(map(len, summary)) + 2
    print(f"\n{'figure':<{width}}{'min':>11}{'median':>11}{'max':>11}")
    for key, values in summary.items():
        print(f"{key:<{width}}" + "".join(f"{_format(key, values[stat]):>11}" for stat in ("min", "median", "max")))


def print_targets(summary: dict[str, dict[str, Any]], targets: list[dict[str, Any]]) -> None:
    """The targets, each met only if met in every repetition (a median target: by the median)."""
    width = max(len(target["figure"]) for target in targets) + 2
    print(f"\n{'target':<{width}}{'min':>11}{'median':>11}{'max':>11}  {'goal':<16}in every repetition")
    for target in targets:
        key = target["figure"]
        if not target["measured"]:
            print(f"{key:<{width}}{'-':>11}{'-':>11}{'-':>11}  {target['target']:<16}not measured")
            continue
        values = summary[key]
        print(
            f"{key:<{width}}"
            + "".join(f"{_format(key, values[stat]):>11}" for stat in ("min", "median", "max"))
            + f"  {target['target']:<16}{'met' if target['passed'] else 'MISSED'}"
        )


def print_scale_table(summary: dict[str, dict[str, Any]], sizes: dict[int, int]) -> None:
    """One line per size, medians; then time as fixed + per-image cost."""
    print(
        f"\n{'size':>4}{'images':>10}{'ingest s':>10}{'ingest MiB':>16}{'stats s':>9}{'stats MiB':>15}{'images/s':>10}"
    )
    for factor, images in sizes.items():
        median = {
            key.split(".", 1)[1]: values["median"] for key, values in summary.items() if key.startswith(f"{factor}x.")
        }
        print(
            f"{factor:>3}x{images:>10,}{median['ingest_s']:>10.1f}{median['ingest_peak_memory_mib']:>16.0f}"
            f"{median['statistics_s']:>9.1f}{median['statistics_peak_memory_mib']:>15.0f}{median['images_per_s']:>10,.0f}"
        )
    fit = {key.split(".", 1)[1]: values["median"] for key, values in summary.items() if key.startswith("linear_fit.")}
    print(
        f"\ntime = fixed + per image (least squares over the sizes): ingest {fit['ingest_fixed_s']:.1f} s + "
        f"{fit['ingest_us_per_image']:.1f} us/image, statistics {fit['statistics_fixed_s']:.1f} s + "
        f"{fit['statistics_us_per_image']:.1f} us/image"
    )


def _format(key: str, value: float) -> str:
    if key.endswith("precision_at_1"):
        return f"{value:.4f}"
    if key.endswith("ratio"):
        return f"{value:.2f}"
    if key.endswith("per_s"):
        return f"{value:,.0f}"
    return f"{value:.1f}"


def machine_info() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    meminfo = Path("/proc/meminfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
    mem_kib = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model[1] if model else platform.processor(),
        "memory_gib": round(int(mem_kib[1]) / 2**20, 1) if mem_kib else None,
        "load_average_1m": os.getloadavg()[0],  # at the start: how busy the machine was
        "python": platform.python_version(),
        **{package: importlib.metadata.version(package) for package in ("tensorflow", "keras", "tfx", "apache-beam")},
    }


if __name__ == "__main__":
    sys.exit(main())
