"""The programs that bench/benchmark.py measures in a process of their own, besides `mnist-pipeline run`.

    baseline  the Trainer's model and settings in plain Keras, on the train and test splits
              loaded into NumPy arrays: what a user would write without a pipeline
    partial   the pipeline of pipeline/pipeline.py up to one node (IdxExampleGen or StatisticsGen),
              for the scaling run

Each writes its figures as JSON to --result; the benchmark measures wall time and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from components.idx_example_gen import idx
from components.idx_example_gen.layout import SplitPlan, locate_idx_file, plan_splits
from pipeline.config import PipelineConfig, load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=("baseline", "partial"))
    parser.add_argument("--data-dir", type=Path, required=True, help="folder of the IDX files")
    parser.add_argument("--result", type=Path, required=True, help="JSON file to write the figures to")
    parser.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                        help="a setting, as `mnist-pipeline run --set`")
    parser.add_argument("--output-dir", type=Path, help="partial: the pipeline's output dir")
    parser.add_argument("--to-node", help="partial: the last node to run, e.g. StatisticsGen")
    args = parser.parse_args()
    config = load_config(overrides=args.overrides)
    if args.workload == "baseline":
        result = train_baseline(config, args.data_dir)
    else:
        result = run_partial(config, args.data_dir, args.output_dir, args.to_node)
    args.result.write_text(json.dumps(result, indent=2) + "\n")


def train_baseline(config: PipelineConfig, data_dir: Path) -> dict[str, Any]:
    """Trains the Trainer's model with its settings on in-memory arrays; times model.fit alone.

    The batches come from tf.data.Dataset.from_tensor_slices(arrays), shuffled over the whole
    split and repeated, as the Trainer's input does from its TFRecords: the same number of steps
    of the same batch size, one fit call, no callbacks.
    """
    from components.trainer.data import training_batches
    from components.trainer.model import build_model

    settings = config.training
    splits = load_splits(config, data_dir)
    model = build_model(config.data, settings)
    x_train, y_train = splits["train"]
    batches = training_batches(x_train, y_train, settings.batch_size, settings.seed)
    started = time.monotonic()
    model.fit(batches, epochs=1, steps_per_epoch=settings.train_steps, verbose=0)
    fit_seconds = time.monotonic() - started
    x_test, y_test = splits["test"]
    test_metrics = model.evaluate(x_test, y_test, batch_size=1000, verbose=0, return_dict=True)
    return {
        "steps": settings.train_steps,
        "batch_size": settings.batch_size,
        "fit_s": fit_seconds,
        "test_accuracy": float(test_metrics["accuracy"]),
    }


def load_splits(config: PipelineConfig, data_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The train and test splits as the ingest cuts them: uint8 images [N, pixels], int32 labels [N]."""
    files = {role: locate_idx_file(str(data_dir), name) for role, name in config.ingest.file_names().items()}
    counts = {source: idx.check_file(files[f"{source}_labels"], expected_dims=1).header.count for source in ("train", "test")}
    plans = plan_splits(counts["train"], counts["test"], config.ingest.validation_size,
                        config.ingest.train_size, config.ingest.test_size)
    return {
        plan.name: (
            _read(files[f"{plan.source}_images"], 3, plan).reshape(plan.size, -1),
            _read(files[f"{plan.source}_labels"], 1, plan).astype(np.int32),
        )
        for plan in plans
        if plan.name in ("train", "test")
    }


def _read(path: str, dims: int, plan: SplitPlan) -> np.ndarray:
    return np.concatenate(list(idx.iter_records(path, dims, plan.start, plan.stop, chunk_records=10_000)))


def run_partial(config: PipelineConfig, data_dir: Path, output_dir: Path, to_node: str) -> dict[str, Any]:
    """Runs the pipeline's nodes up to `to_node` (TFX partial run; cached nodes stay cached).

    Returns each node's status and seconds as ML Metadata recorded them.
    """
    from pipeline.local_runner import run_pipeline
    from pipeline.output_dir import OutputLayout

    summary = run_pipeline(config, str(data_dir), OutputLayout(output_dir), beam_args=[], to_nodes=[to_node])
    return {c["component"]: {"status": c["status"], "seconds": c["seconds"]} for c in summary["components"]}


if __name__ == "__main__":
    main()
