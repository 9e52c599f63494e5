"""Checks made before any component runs and before the output dir is made, so that a bad setting
or a missing file costs a second and one line naming it: the pipeline name, the Beam flags, the
schema file, the metadata store, the layout of the output dir, pipeline root and serving dir,
the four IDX files (there, readable, their headers, their sizes), and that the split sizes, the batch size
and the image shape fit what the headers promise.

No TensorFlow or TFX here: local files are read with Python's own I/O; only gs:// and s3://
data dirs load TensorFlow's file system.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from components import files
from components.errors import PipelineError
from components.idx_example_gen import idx
from components.idx_example_gen.layout import SplitSizeError, candidate_paths, plan_splits
from components.idx_example_gen.settings import idx_dims
from components.object_storage import is_uri
from pipeline.config import ConfigError, PipelineConfig
from pipeline.inspect import store
from pipeline.output_dir import OutputDirLock, OutputLayout, lies_within, normalized

# A name Kubeflow Pipelines and Vertex AI take for a pipeline (Vertex AI's rule is the narrower).
PIPELINE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")
BEAM_ARGS = "Beam arguments (beam.pipeline_args, --beam-arg)"


class MissingDataError(PipelineError):
    """Input files are missing or unreadable; the message says which and what to do."""


def check_inputs(
    config: PipelineConfig, data_dir: str, beam_args: list[str], layout: OutputLayout, with_data: bool = True
) -> None:
    """Raises a PipelineError naming the first setting, file or store that would fail the run;
    the data files only `with_data` (a push reuses what an earlier run ingested).

    Cheapest first: all but the Beam arguments need no TensorFlow; Beam's parser costs Beam's
    import.
    """
    if not PIPELINE_NAME.fullmatch(config.pipeline_name):
        raise ConfigError(
            f"'pipeline_name' must be lower-case letters, digits and '-' (a name Kubeflow and "
            f"Vertex AI take), got {config.pipeline_name!r}"
        )
    check_schema(config.validation.schema_path)
    check_layout(layout)
    check_store(layout.metadata_path)
    if with_data:
        check_fit(config, data_dir, check_data(config, data_dir))
    OutputDirLock.check_idle(layout.output_dir)
    check_beam_args(beam_args, config.beam.pipeline_args)


def check_beam_flag_names(beam_args: list[str], from_config: Sequence[str] = ()) -> None:
    """Every argument is a flag Beam knows by its full name (FlinkRunnerOptions' too). Beam drops
    an unknown one with a warning in the run's log, and takes a prefix of one flag for it
    (`--direct_num_worker`), which a runner reading the flags again may not; so both are
    refused, naming the argument (from `from_config`, beam.pipeline_args, else --beam-arg) and
    the nearest flag Beam knows."""
    from apache_beam.options.pipeline_options import PipelineOptions

    parsers: list[argparse.ArgumentParser] = []  # the parser Beam builds of every registered option
    PipelineOptions([]).get_all_options(add_extra_args_fn=parsers.append)
    parser = parsers[0]
    parser.allow_abbrev = False
    _, unknown = parser.parse_known_args(beam_args)
    if not unknown:
        return
    argument = unknown[0]  # as given: "--name=value", or "--name" with its value after it
    source = f"beam.pipeline_args: {argument}" if argument in from_config else f"--beam-arg={argument}"
    name = argument.partition("=")[0]
    if not name.startswith("-"):
        raise ConfigError(f"{source}: not a flag; Beam takes flags only (--name=value)")
    known = [option for option in parser._option_string_actions if option.startswith("--")]  # argparse's table
    nearest = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {nearest[0]}?)" if nearest else ""
    raise ConfigError(f"{source}: Beam has no option {name}{hint}")


def check_beam_args(beam_args: list[str], from_config: Sequence[str] = ()) -> None:
    """Beam's own parsing, flags it does not know (check_beam_flag_names) and its runner's
    validation, whose reasons Beam would only log mid-run; for Flink, the cluster and the job
    server it needs (flink_checks.py)."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
    from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator
    from apache_beam.runners import runner
    from apache_beam.runners.portability.flink_runner import FlinkRunner

    from pipeline.local.flink_checks import check_flink

    options = PipelineOptions(beam_args)
    problems = io.StringIO()
    try:
        with contextlib.redirect_stderr(problems):  # argparse prints "PROG: error: REASON", then exits
            options.get_all_options()
    except SystemExit:
        reason = problems.getvalue().strip().splitlines()[-1].partition("error: ")[2]
        raise ConfigError(f"{BEAM_ARGS}: {reason}") from None
    check_beam_flag_names(beam_args, from_config)
    name = options.view_as(StandardOptions).runner
    if name is None:
        return
    try:
        beam_runner = runner.create_runner(name)
        errors = PipelineOptionsValidator(options, beam_runner).validate()
    except (ValueError, ImportError) as error:
        raise ConfigError(f"{BEAM_ARGS}: --runner={name}: {error}") from None
    if errors:
        raise ConfigError(f"{BEAM_ARGS}: --runner={name}: {' '.join(error.strip() for error in errors)}")
    if isinstance(beam_runner, FlinkRunner):
        try:
            check_flink(options)
        except ConfigError as error:
            raise ConfigError(f"{BEAM_ARGS}: {error}") from None


def check_schema(schema_path: Path) -> None:
    """The schema file is there and parses as a TFDV schema (the error names its line)."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    try:
        text = schema_path.read_text()
    except OSError as error:
        raise ConfigError(
            f"{schema_path}: cannot read the schema file set by 'validation.schema_file' ({error.strerror})"
        ) from None
    try:
        text_format.Parse(text, schema_pb2.Schema())
    except text_format.ParseError as error:
        raise ConfigError(f"{schema_path}: not a valid schema ({error})") from None


# Nestings that would let one folder's clean-up delete another's content: (inner, outer, why); the
# inner folder may be neither the outer one nor inside it. Recovery deletes the numbered folders
# under the pipeline root that no record names (pipeline/local/recovery.py); TF Serving takes every
# numbered folder of the serving dir for a version and the Pusher removes its `.staging-<N>` folders
# (components/serving_dir.py). The output dir holds the store and the runs' files; a pipeline root
# or serving dir inside it (the defaults OUTPUT_DIR/pipeline and OUTPUT_DIR/serving) is fine.
_SERVING_DIR, _PIPELINE_ROOT, _OUTPUT_DIR = "--serving-dir", "--pipeline-root", "--output-dir"
_FOR_VERSIONS_ONLY = "the serving dir is TF Serving's base path, for pushed versions only"
_DANGEROUS_NESTINGS = (  # the output dir's first: the other two may be inside it by default
    (_OUTPUT_DIR, _SERVING_DIR, _FOR_VERSIONS_ONLY),
    (_OUTPUT_DIR, _PIPELINE_ROOT, "recovery deletes the artifact folders under the pipeline root no record names"),
    (_SERVING_DIR, _PIPELINE_ROOT, "recovery would delete served versions as artifact folders no record names"),
    (_PIPELINE_ROOT, _SERVING_DIR, _FOR_VERSIONS_ONLY),
)


def check_layout(layout: OutputLayout) -> None:
    """The output dir, pipeline root and serving dir do not nest so that one's clean-up could
    delete another's content (a serving dir inside the pipeline root, an output dir inside the
    serving dir, ...)."""
    where = {
        _OUTPUT_DIR: normalized(str(layout.output_dir)),
        _PIPELINE_ROOT: normalized(layout.pipeline_root),
        _SERVING_DIR: normalized(layout.serving_dir),
    }
    for inner, outer, why in _DANGEROUS_NESTINGS:
        if lies_within(where[inner], where[outer]):
            relation = "is" if where[inner] == where[outer] else "lies inside"
            raise ConfigError(
                f"{inner} {where[inner]} {relation} {outer} {where[outer]}: {why}; give each a folder of its "
                "own (as the defaults OUTPUT_DIR/pipeline and OUTPUT_DIR/serving are)"
            )


def check_store(metadata_path: Path) -> None:
    """An existing store file is an ML Metadata store (not, say, a file copied over it) that no
    other process holds locked, of a schema this ml-metadata reads (not one a newer release wrote)."""
    if not metadata_path.exists():
        return
    if store.schema_version(metadata_path) is None:  # StoreLocked: one in use, never to be moved away
        raise PipelineError(
            f"{metadata_path}: not an ML Metadata store; move it away (a new store starts empty) "
            "or give another --output-dir"
        )
    store.open_store(metadata_path)  # read-only: MLMD refuses a schema version it does not read


def check_data(config: PipelineConfig, data_dir: str) -> dict[str, idx.IdxHeader]:
    """The four files, found and readable, each as long as its header promises; their headers,
    by role."""
    if not is_uri(data_dir) and os.path.isdir(data_dir) and not os.access(data_dir, os.R_OK | os.X_OK):
        raise MissingDataError(f"{data_dir}: cannot read this folder (permission denied)")
    found, missing = {}, []
    for role, name in config.ingest.file_names().items():
        paths = [path for path in candidate_paths(data_dir, name) if files.exists(path)]
        if paths:
            found[role] = paths[0]
        else:
            missing.append(name)
    if missing:
        raise MissingDataError(
            f"{data_dir}: missing {', '.join(missing)} (nor .gz); copy the four MNIST files there, "
            "point --data-dir at a folder that has them" + ("" if is_uri(data_dir) else ", or add --download")
        )
    headers = {role: idx.read_file_header(path, idx_dims(role), opener=_open) for role, path in found.items()}
    for header in headers.values():
        idx.check_stored_size(header, opener=_open)
    return headers


def check_fit(config: PipelineConfig, data_dir: str, headers: dict[str, idx.IdxHeader]) -> None:
    """The split sizes, the batch size and the image shape fit what the files promise."""
    ingest = config.ingest
    for role in ("train_images", "test_images"):
        if headers[role].record_shape != tuple(config.data.image_shape):
            raise ConfigError(
                f"'data.image_shape' is {list(config.data.image_shape)}, but {headers[role].path} holds images of "
                f"{list(headers[role].record_shape)}"
            )
    try:
        plans = plan_splits(
            headers["train_images"].count,
            headers["test_images"].count,
            ingest.validation_size,
            ingest.train_size,
            ingest.test_size,
        )
    except SplitSizeError as error:
        raise ConfigError(f"the ingest settings do not fit the files in {data_dir}: {error}") from error
    train_examples = next(plan.size for plan in plans if plan.name == "train")
    if config.training.batch_size > train_examples:
        raise ConfigError(
            f"'training.batch_size' is {config.training.batch_size}, more than the "
            f"{train_examples:,} examples of the training split"
        )


def _open(path: str) -> IO[bytes]:
    """A data file, opened for its header; a folder or an unreadable file is named."""
    if files.isdir(path):  # GFile opens a folder and fails on the first read with a TF error
        raise IsADirectoryError(path)
    try:
        return files.open(path, "rb")
    except PermissionError:
        raise MissingDataError(f"{path}: cannot read this file (permission denied)") from None
