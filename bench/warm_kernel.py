"""The program `make bench` measures as a warm Jupyter kernel: one Python process that, as a
notebook would, opens an output dir with pipeline/notebook.py and runs the pipeline --runs
times (the first cold, each next one with the learning rate edited again), then calls the plain
script (../shared/reference/plain_keras_idx.py) in the same process, its imports already paid,
with the first edited run's training settings. The plain script comes last: it starts
TensorFlow's runtime in this process, after which a run's executors would stay in threads.

It writes to --result, as JSON: each run's wall seconds, its components' seconds (from ML
Metadata, as the run's summary has them) and the peak memory of this process and its worker
processes during it (PSS summed, MiB), and the plain script's wall seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from benchmark import TreeMemory, edited_training, plain_arguments

from pipeline.notebook import Pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="folder of the IDX files")
    parser.add_argument("--output-dir", type=Path, required=True, help="the pipeline's output dir")
    parser.add_argument("--plain", type=Path, required=True, help="plain_keras_idx.py")
    parser.add_argument("--runs", type=int, default=5, help="pipeline runs: one cold, the others edited")
    parser.add_argument("--result", type=Path, required=True, help="JSON file to write the figures to")
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE")
    args = parser.parse_args()
    result = warm_kernel(args.data_dir, args.output_dir, args.plain, args.runs, args.overrides)
    args.result.write_text(json.dumps(result, indent=2) + "\n")


def warm_kernel(data_dir: Path, output_dir: Path, plain: Path, runs: int, overrides: list[str]) -> dict[str, Any]:
    """The figures of one kernel's life (see the module's docstring)."""
    settings = {key: yaml.safe_load(value) for key, value in (override.split("=", 1) for override in overrides)}
    memory = TreeMemory(os.getpid())
    memory.start()
    pipeline = Pipeline(output_dir, data_dir, settings=settings)
    training = pipeline.config().training
    run_s, component_s, peak_mib = [], [], []
    for number in range(runs):
        memory.peak_kib = 0
        started = time.monotonic()
        run = pipeline.run(learning_rate=edited_training(training, times=number).learning_rate)
        run_s.append(time.monotonic() - started)
        component_s.append({outcome.component: outcome.seconds for outcome in run.summary.components})
        peak_mib.append(memory.peak_kib / 1024)
    memory.stop()
    kernel_argv = sys.argv
    sys.argv = [str(plain), *plain_arguments(data_dir, edited_training(training, times=1))]
    started = time.monotonic()
    try:
        runpy.run_path(str(plain), run_name="__main__")
    finally:
        sys.argv = kernel_argv
    return {
        "run_s": run_s,
        "component_s": component_s,
        "peak_memory_mib": peak_mib,
        "plain_s": time.monotonic() - started,
    }


if __name__ == "__main__":
    main()
