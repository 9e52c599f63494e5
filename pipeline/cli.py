"""mnist-pipeline: run the MNIST TFX pipeline on this machine or on Kubeflow, and look at its runs."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
import traceback
import warnings
from pathlib import Path

from absl import logging as absl_logging

from components.errors import PipelineError
from components.object_storage import is_uri
from components.settings import is_utf8
from components.workarounds import exit_process
from pipeline.config import ConfigError, load_config
from pipeline.faults import causes, first_line, no_space
from pipeline.inspect.states import RunStatus
from pipeline.local.stopping import RunFailed, RunInterrupted

NOT_UTF8 = "not UTF-8 text, which every path and value must be (TFX and ML Metadata record them as text)"
RUN_HELP = "a run: its id (a prefix is enough) or the number `lineage runs` shows (1 is the oldest)"


def main(argv: list[str] | None = None) -> int:
    """Runs one command; bad input and faults end in one line and an exit code, a bug in its traceback
    (the traceback of a failed run goes to the run's log file)."""
    parser = _parser()
    args = parser.parse_args(argv)
    quiet_libraries()
    try:
        _refuse_what_is_not_utf8(sys.argv[1:] if argv is None else argv, args)
        return args.command(args)
    except BrokenPipeError:  # e.g. `mnist-pipeline lineage runs | head`
        sys.stderr.close()
        return 0
    except RunInterrupted as interrupted:
        where = f" during {interrupted.component}" if interrupted.component else ""
        print(f"interrupted{where} ({interrupted}); the next run resumes from the cached components", file=sys.stderr)
        return 128 + interrupted.signal_number
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Exception as error:
        line = describe_fault(error)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return 1


def console_main() -> None:
    """The `mnist-pipeline` command: main(), then an exit that tensorflow-io cannot abort."""
    try:
        code = main()
    except SystemExit as error:  # argparse's usage errors, --help
        code = error.code if isinstance(error.code, int) else 1 if error.code else 0
    except Exception:  # noqa: BLE001 - a bug: its traceback, as Python would print it
        traceback.print_exc()
        code = 1
    exit_process(code)


def _refuse_what_is_not_utf8(argv: list[str], args: argparse.Namespace) -> None:
    """A ConfigError naming the first argument, or the current folder under which default paths
    go, that holds bytes that are not UTF-8 (Python keeps them as lone surrogates): TFX, ML Metadata
    and the run's JSON record paths and values as UTF-8 text, and fail deep in a run on them."""
    for index, token in enumerate(argv):
        if not is_utf8(token):
            option, equals, value = token.partition("=") if token.startswith("--") else ("", "", token)
            if not equals:
                option, value = (argv[index - 1] if index and argv[index - 1].startswith("-") else ""), token
            raise ConfigError(f"{option} {_shown(value)}".strip() + f": {NOT_UTF8}")
    if any(isinstance(value, (str, Path)) and not is_utf8(str(value)) for value in vars(args).values()):
        raise ConfigError(f"the current folder {_shown(os.getcwd())} (of the default paths): {NOT_UTF8}")


def _shown(text: str) -> str:
    """`text` with each byte that is not UTF-8 as \\xNN."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mnist-pipeline", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the whole pipeline on this machine")
    run.add_argument(
        "--data-dir", default="data/mnist", type=_location, help="folder or gs:// / s3:// URI of the IDX files"
    )
    _add_output_dir(run)
    run.add_argument(
        "--pipeline-root",
        type=_location,
        help="where the artifacts go, e.g. s3://BUCKET/PATH (default: OUTPUT_DIR/pipeline)",
    )
    run.add_argument(
        "--serving-dir",
        type=_location,
        help="where pushed models go, e.g. s3://BUCKET/PATH (default: OUTPUT_DIR/serving)",
    )
    _add_config_arguments(run)
    run.add_argument("--download", action="store_true", help="download missing MNIST files first")
    run.add_argument(
        "--no-push",
        action="store_true",
        help="stop after the evaluation: nothing is published (`push RUN` publishes the model later)",
    )
    run.add_argument(
        "--no-cache",
        action="store_true",
        help="run every component again instead of reusing cached results (rebuilds damaged artifacts)",
    )
    run.add_argument(
        "--beam-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra Beam pipeline argument, e.g. --beam-arg=--direct_num_workers=2",
    )
    run.set_defaults(command=_run)

    push = commands.add_parser(
        "push",
        help="publish the model of an earlier run (say, one made with --no-push): compared with the model "
        "served now first, pushed only if blessed",
    )
    push.add_argument("run", help=RUN_HELP)
    _add_output_dir(push)
    push.add_argument("--pipeline-root", type=_location, help="as the run had it (default: OUTPUT_DIR/pipeline)")
    push.add_argument("--serving-dir", type=_location, help="where pushed models go (default: OUTPUT_DIR/serving)")
    _add_config_arguments(push)
    push.set_defaults(command=_push)

    download = commands.add_parser(
        "download", help="download the four MNIST IDX files (checked by SHA-256) into a folder, unless there"
    )
    download.add_argument("--data-dir", default="data/mnist", type=_location, help="the folder (default: data/mnist)")
    download.set_defaults(command=_download)

    compile_ = commands.add_parser("compile", help="compile the pipeline for Kubeflow Pipelines (KFP v2 spec)")
    compile_.add_argument("--output", type=Path, default=Path("pipeline.json"), help="the pipeline spec to write")
    _add_kubeflow_arguments(compile_)
    compile_.set_defaults(command=_compile)

    submit = commands.add_parser("submit", help="compile and submit a run to a Kubeflow Pipelines endpoint")
    submit.add_argument("--host", required=True, help="KFP API endpoint, e.g. http://localhost:8080")
    submit.add_argument("--namespace", help="Kubeflow namespace (multi-user installs)")
    submit.add_argument("--experiment", default="mnist", help="experiment name; created when missing")
    submit.add_argument("--run-name", help="name of the run or recurring run (default: pipeline name and time)")
    submit.add_argument("--wait", action="store_true", help="wait for the run to end; fail when it fails")
    submit.add_argument("--timeout", type=int, default=3600, help="seconds to wait with --wait")
    submit.add_argument(
        "--no-cache", action="store_true", help="reuse no cached results: every task of this run runs again"
    )
    submit.add_argument("--service-account", help="Kubernetes service account the run's pods run as")
    submit.add_argument(
        "--schedule",
        metavar="CRON",
        help="a recurring run instead of one run; KFP's cron has seconds first, e.g. '0 0 2 * * *' "
        "(02:00 every day), or is a descriptor such as @daily",
    )
    submit.add_argument(
        "--upload",
        metavar="VERSION",
        help="upload the spec as this version of the pipeline (created when missing) and run that version",
    )
    _add_kubeflow_arguments(submit)
    submit.set_defaults(command=_submit)

    lineage = commands.add_parser("lineage", help="inspect runs and artifacts in the metadata store")
    # Common options go on each query, so they may follow it: `lineage runs --json`.
    common = argparse.ArgumentParser(add_help=False)
    _add_output_dir(common)
    _add_config_arguments(common)
    common.add_argument("--json", action="store_true", help="print JSON instead of tables")
    queries = lineage.add_subparsers(required=True, metavar="QUERY", dest="query")
    queries.add_parser("runs", help="pipeline runs, newest first", parents=[common])
    artifacts = queries.add_parser("artifacts", help="artifacts with their properties", parents=[common])
    artifacts.add_argument("--type", dest="artifact_type", help="e.g. Examples, Model, PushedModel")
    artifacts.add_argument("--run", help=RUN_HELP)
    trace = queries.add_parser("trace", help="what an artifact came from and what used it", parents=[common])
    trace.add_argument("artifact", help="artifact id, URI, or pushed:latest (what the serving dir serves now)")
    trace.add_argument(
        "--serving-dir", type=_location, help="the serving dir pushed:latest reads (default: OUTPUT_DIR/serving)"
    )
    diff = queries.add_parser(
        "diff", help="what differs between two runs: inputs, settings, metrics, blessing", parents=[common]
    )
    diff.add_argument("run_a", metavar="RUN_A", help=RUN_HELP)
    diff.add_argument("run_b", metavar="RUN_B", help=RUN_HELP)
    graph = queries.add_parser("graph", help="the lineage graph of a run as Graphviz DOT, SVG or PNG", parents=[common])
    graph.add_argument("--run", help=RUN_HELP + " (default: the newest)")
    graph.add_argument(
        "--output",
        type=Path,
        help="FILE.dot, FILE.svg or FILE.png; a bare file name goes to OUTPUT_DIR/runs/ "
        "(default: DOT, or JSON with --json, on stdout)",
    )
    lineage.set_defaults(command=_lineage)

    predict = commands.add_parser(
        "predict",
        help="classify pictures of digits (PNG, JPEG) or the images of an IDX file",
        description="Classifies each image with a pushed model. A PNG or JPEG is a picture of one digit: any "
        "size, colour or grey, dark on light or light on dark, on a transparent page or not; it is prepared as "
        "MNIST's digits were made (the digit scaled into a 20x20 box, centred by its centre of mass in 28x28, "
        "light on black), and the line says when its grey levels were inverted. An IDX file's images (MNIST's "
        "own format) are used as they are. An input that cannot be used is one error line and the others go "
        "on; the exit code is then 1.",
    )
    predict.add_argument(
        "--model",
        type=Path,
        help="a SavedModel, or a serving dir: its newest version is used (default: OUTPUT_DIR/serving)",
    )
    _add_output_dir(predict)
    predict.add_argument("inputs", nargs="+", type=Path, help="PNG or JPEG pictures of digits, or IDX image files")
    predict.add_argument("--limit", type=int, default=10, help="at most this many images per IDX file")
    predict.set_defaults(command=_predict)

    report = commands.add_parser(
        "report",
        help="write a run's report: one HTML page with its data, training, evaluation and lineage",
        description="Writes one self-contained HTML page about a run (it opens offline): the data, the training "
        "curves, the evaluation with the test confusion matrix and misclassified digits, the "
        "blessing, the lineage, and for a failed run what failed. Every `run` writes one too.",
    )
    report.add_argument("run", nargs="?", metavar="RUN", help=RUN_HELP + " (default: the newest)")
    _add_output_dir(report)
    _add_config_arguments(report)  # metadata.grpc_host: a Kubeflow run's report
    report.add_argument(
        "--output", type=Path, metavar="FILE", help="where to write the page (default: OUTPUT_DIR/runs/RUN_ID.html)"
    )
    report.set_defaults(command=_report)
    return parser


def _add_output_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output-dir",
        type=_absolute,
        default=_absolute("outputs"),
        help="pipeline root, MLMD store, pushed models (default: outputs)",
    )


def _absolute(path: str) -> Path:
    """A local path, made absolute once, here: what runs record must not depend on where they started."""
    return Path(os.path.abspath(path))


def _location(text: str) -> str:
    """A URI as it is, or a local path made absolute."""
    return text if is_uri(text) else str(_absolute(text))


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML file overriding configs/pipeline.yaml")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="override one setting, e.g. --set training.learning_rate=0.01",
    )


def _add_kubeflow_arguments(parser: argparse.ArgumentParser) -> None:
    _add_config_arguments(parser)
    parser.add_argument("--image", help="container image (default: kubeflow.image in the config)")
    parser.add_argument("--pipeline-root", help="gs:// or s3:// URI (default: kubeflow.pipeline_root)")
    parser.add_argument("--data-dir", help="URI of the IDX files (default: kubeflow.data_dir)")
    parser.add_argument("--serving-dir", help="URI where pushed models go (default: kubeflow.serving_dir)")


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    if args.download:
        from pipeline.local.download import ensure_mnist

        if is_uri(args.data_dir):
            raise ConfigError(f"--download writes to a local folder, not to {args.data_dir}")
        ensure_mnist(Path(args.data_dir))
    from pipeline.local.partial_run import NO_PUSH
    from pipeline.local.runner import run_pipeline
    from pipeline.output_dir import OutputLayout

    layout = OutputLayout(args.output_dir, args.pipeline_root, args.serving_dir)
    summary = run_pipeline(
        config,
        args.data_dir,
        layout,
        args.beam_arg,
        partial=NO_PUSH if args.no_push else None,
        use_cache=not args.no_cache,
        config_file=args.config,
        overrides=args.overrides,
    )
    return 0 if summary and summary.status != RunStatus.FAILED else 1


def _push(args: argparse.Namespace) -> int:
    from pipeline.local.runner import push_run
    from pipeline.output_dir import OutputLayout

    layout = OutputLayout(args.output_dir, args.pipeline_root, args.serving_dir)
    summary = push_run(load_config(args.config, args.overrides), layout, args.run)
    return 0 if summary and summary.status != RunStatus.FAILED else 1


def _download(args: argparse.Namespace) -> int:
    """Each file downloaded and checked, or already there: then checked too (a damaged copy is
    named in one line), so that a second `download` says the data is right, not only there."""
    from pipeline.local.download import MNIST_FILES, ensure_mnist, verify_file

    data_dir = Path(args.data_dir)
    there = set(data_dir.iterdir()) if data_dir.is_dir() else set()
    for path in ensure_mnist(data_dir):
        if path in there:
            verify_file(path, MNIST_FILES[path.name.removesuffix(".gz") + ".gz"])
            print(f"{path}: already there, checksums match")
        else:
            print(f"{path}: downloaded, checksums match")
    return 0


def _compile(args: argparse.Namespace) -> int:
    from pipeline.kubeflow import compiler

    config = _kubeflow_config(args)
    placeholders = compiler.placeholders_in(config.kubeflow)
    if placeholders:
        logging.getLogger("pipeline.cli").warning(  # named: as `python -m pipeline.cli` this is __main__
            "warning: the spec holds example values: %s; give your own before submitting (see docs/kubeflow.md)",
            ", ".join(placeholders),
        )
    path = compiler.compile_pipeline(config, args.output)
    print(f"Wrote {path} (image {config.kubeflow.image}, pipeline root {config.kubeflow.pipeline_root})")
    return 0


def _submit(args: argparse.Namespace) -> int:
    from pipeline.kubeflow import client, compiler

    if args.wait and args.schedule:
        raise ConfigError("--wait follows one run; a recurring run (--schedule) starts its runs later")
    submission = client.Submission(
        experiment=args.experiment,
        run_name=args.run_name,
        namespace=args.namespace,
        service_account=args.service_account,
        schedule=args.schedule,
        version=args.upload,
        use_cache=not args.no_cache,
    )
    run = compiler.submit_pipeline(_kubeflow_config(args), args.host, submission)
    if run.version_url:
        print(f"Uploaded version {args.upload}: {run.version_url}")
    print(f"Submitted {'recurring run' if run.recurring else 'run'} {run.run_id}: {run.url}")
    if not args.wait:
        return 0
    state = client.wait_for_run(args.host, run.run_id, namespace=args.namespace, timeout=args.timeout)
    print(f"Run {run.run_id} ended: {state}")
    return 0 if state == "SUCCEEDED" else 1


def _kubeflow_config(args: argparse.Namespace):
    """The config with the `kubeflow` section checked and overridden by the flags that were given."""
    from pipeline.kubeflow.compiler import with_overrides
    from pipeline.kubeflow.settings import load_kubeflow_config

    config = load_kubeflow_config(args.config, args.overrides)
    kubeflow = with_overrides(
        config.kubeflow,
        image=args.image,
        pipeline_root=args.pipeline_root,
        data_dir=args.data_dir,
        serving_dir=args.serving_dir,
    )
    return dataclasses.replace(config, kubeflow=kubeflow)


def _lineage(args: argparse.Namespace) -> int:
    from pipeline.inspect import lineage_views
    from pipeline.local.store_writes import open_for_reading

    config = load_config(args.config, args.overrides)
    request = lineage_views.Request(
        query=args.query,
        output_dir=args.output_dir,
        as_json=args.json,
        pipeline_name=config.pipeline_name,
        **{
            name: getattr(args, name)
            for name in ("artifact_type", "run", "artifact", "serving_dir", "run_a", "run_b", "output")
            if hasattr(args, name)
        },
    )
    print(lineage_views.report(request, open_for_reading(args.output_dir, config.metadata)))
    return 0


def _report(args: argparse.Namespace) -> int:
    from pipeline.inspect.run_page.page import write_run_report
    from pipeline.local.store_writes import open_for_reading

    config = load_config(args.config, args.overrides)
    store = open_for_reading(args.output_dir, config.metadata)
    path = write_run_report(store, args.output_dir, args.run, args.output, config.pipeline_name)
    print(f"Report: {path}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from pipeline.inspect.predict import predict_inputs
    from pipeline.output_dir import OutputLayout

    model = args.model or Path(OutputLayout(args.output_dir).serving_dir)
    failed = 0
    for line in predict_inputs(model, args.inputs, args.limit):
        if line.failed:
            failed += 1
            print(f"error: {line.text}", file=sys.stderr, flush=True)
        else:
            print(line.text, flush=True)
    return 1 if failed else 0


def quiet_libraries() -> None:
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
    """The pipeline's own lines; the libraries' (their errors and tracebacks too) go to the run's log."""
    return record.name.split(".")[0] in ("pipeline", "components")


def describe_fault(error: BaseException) -> str | None:
    """One line for bad input, a fault of the machine (no space, a read-only or unwritable
    path) or a failed run; None for anything else, a bug."""
    chain = causes(error)
    bad_input = next((cause for cause in chain if isinstance(cause, PipelineError)), None)
    machine = next((cause for cause in chain if isinstance(cause, OSError) and cause.errno), None)
    full_disk = no_space(error, error.store if isinstance(error, RunFailed) else None)
    line = first_line(bad_input) if bad_input else full_disk or (first_line(machine) if machine else None)
    if isinstance(error, RunFailed):
        where = f"{error.component} failed" if error.component else "the run failed"
        return f"{where}: {line or first_line(chain[-1])} (full log: {error.log_path})"
    return line


if __name__ == "__main__":
    console_main()
