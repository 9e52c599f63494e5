"""The program that `make bench-scale` measures in a process of its own: the pipeline of
pipeline/pipeline.py run up to one node (IdxExampleGen or StatisticsGen), a TFX partial run.

It writes each node's status and seconds, as ML Metadata recorded them, as JSON to --result;
the benchmark measures wall time and peak memory.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipeline.config import load_config
from pipeline.local.partial_run import PartialRun
from pipeline.local.runner import run_pipeline
from pipeline.output_dir import OutputLayout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="folder of the IDX files")
    parser.add_argument("--output-dir", type=Path, required=True, help="the pipeline's output dir")
    parser.add_argument("--to-node", required=True, help="the last node to run, e.g. StatisticsGen")
    parser.add_argument("--result", type=Path, required=True, help="JSON file to write the figures to")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        dest="overrides",
        metavar="KEY=VALUE",
        help="a setting, as `mnist-pipeline run --set`",
    )
    args = parser.parse_args()
    summary = run_pipeline(
        load_config(overrides=args.overrides),
        str(args.data_dir),
        OutputLayout(args.output_dir),
        beam_args=[],
        partial=PartialRun(to_nodes=(args.to_node,)),
    )
    if summary is None:
        raise SystemExit(f"{args.output_dir}: the run reached no ML Metadata record")
    result = {c.component: {"status": c.status, "seconds": c.seconds} for c in summary.components}
    args.result.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
