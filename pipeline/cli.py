"""`mnist-pipeline`: the command line. Thin: parse the arguments, call the runner, print."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

from absl import logging as absl_logging

from components.errors import PipelineError
from pipeline.config import load_config


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _quiet_libraries()
    try:
        return args.command(args)
    except Exception as error:  # noqa: BLE001 - bad input gets one line, a bug its traceback
        cause = _pipeline_error(error)
        if cause is None:
            raise
        print(f"error: {cause}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mnist-pipeline", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the whole pipeline locally")
    run.add_argument("--data-dir", type=Path, default=Path("data/mnist"), help="folder of the IDX files")
    run.add_argument("--output-dir", type=Path, default=Path("outputs"), help="pipeline root, MLMD, models")
    _add_config_arguments(run)
    run.add_argument("--download", action="store_true", help="download missing MNIST files first")
    run.add_argument("--beam-arg", action="append", default=[], metavar="ARG",
                     help="extra Beam pipeline argument, e.g. --beam-arg=--direct_num_workers=2")
    run.set_defaults(command=_run)
    return parser


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML file overriding configs/pipeline.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="override one setting, e.g. --set training.learning_rate=0.01")


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    if args.download:
        from pipeline.download import ensure_mnist

        ensure_mnist(args.data_dir)
    from pipeline.local_runner import run_pipeline

    run_pipeline(config, args.data_dir, args.output_dir, args.beam_arg)
    return 0


def _quiet_libraries() -> None:
    """Keeps the console for the pipeline's own lines; the libraries' INFO logs go to the run log."""
    # Level 3 also hides TensorFlow's start-up errors about missing CUDA plugins on CPU machines.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(message)s"))
    console.addFilter(_is_for_console)
    logging.root.handlers = [console]
    logging.root.setLevel(logging.INFO)
    # Through absl's flag, not the logger: TensorFlow resets the logger to the flag's level.
    absl_logging.set_verbosity(absl_logging.INFO)


def _is_for_console(record: logging.LogRecord) -> bool:
    """The pipeline's own INFO lines, and errors from anywhere."""
    own = record.name.split(".")[0] in ("pipeline", "components")
    return own or record.levelno >= logging.ERROR


def _pipeline_error(error: BaseException) -> PipelineError | None:
    """The PipelineError in the chain of causes, if any (TFX and Beam wrap exceptions)."""
    seen: BaseException | None = error
    while seen is not None and not isinstance(seen, PipelineError):
        seen = seen.__cause__ or seen.__context__
    return seen


if __name__ == "__main__":
    sys.exit(main())
