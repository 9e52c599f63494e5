"""Runs the pipeline on this machine, MLMD in SQLite, the Beam components on Beam's DirectRunner.

Two orchestrators, on the same pipeline and the same store: TFX's LocalDagRunner (the
default) runs the components one after another in this process; BeamDagRunner turns the DAG
itself into a Beam pipeline, one step per component.

Everything a run writes lives under one output dir:
    pipeline/        the pipeline root: every component's artifacts
    metadata.sqlite  the MLMD store (lineage, cache)
    schemas/         the curated schema, copied under its content hash
    serving/         pushed models, one numbered version each (a TF Serving base path)
    runs/            a JSON summary of each run
The data, the pipeline root and the serving dir may instead be gs:// or s3:// URIs.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from components.object_storage import enable_s3, is_uri
from pipeline.config import ConfigError, PipelineConfig
from pipeline.fingerprint import content_addressed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputLayout:
    """The folders and files of one output dir; artifacts and pushed models may live elsewhere."""

    output_dir: Path
    pipeline_root_uri: str | None = None  # e.g. s3://BUCKET/PATH instead of <output_dir>/pipeline
    serving_dir_uri: str | None = None  # e.g. s3://BUCKET/PATH instead of <output_dir>/serving

    @property
    def pipeline_root(self) -> str:
        return self.pipeline_root_uri or str(self.output_dir / "pipeline")

    @property
    def metadata_path(self) -> Path:
        return self.output_dir / "metadata.sqlite"

    @property
    def schemas_dir(self) -> Path:
        return self.output_dir / "schemas"

    @property
    def serving_dir(self) -> str:
        return self.serving_dir_uri or str(self.output_dir / "serving")

    @property
    def runs_dir(self) -> Path:
        return self.output_dir / "runs"


def stage_schema(schema_path: Path, schemas_dir: Path) -> Path:
    """Copies the schema to a path named by its content hash.

    ImportSchemaGen's cache key holds the schema's path, not its content: a new path per
    content makes an edited schema re-run validation instead of hitting the cache.
    """
    if not schema_path.is_file():
        raise ConfigError(f"{schema_path}: schema file not found")
    staged = schemas_dir / content_addressed(schema_path)
    if not staged.exists():
        staged.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(schema_path, staged.with_suffix(".tmp"))
        staged.with_suffix(".tmp").replace(staged)
    return staged


def run_pipeline(
    config: PipelineConfig,
    data_dir: str,
    layout: OutputLayout,
    beam_args: list[str],
    runner: str = "local",
    to_nodes: list[str] | None = None,
) -> dict:
    """Runs the pipeline once, up to `to_nodes` if given (a TFX partial run); returns the run
    summary (also written to runs/*.json)."""
    from tfx.orchestration import metadata
    from tfx.orchestration.pipeline import RunOptions

    from pipeline.pipeline import PipelinePaths, create_pipeline

    enable_s3()
    data_dir = data_dir if is_uri(data_dir) else str(Path(data_dir).resolve())
    _check_data_dir(config, data_dir)
    layout = dataclasses.replace(layout, output_dir=layout.output_dir.resolve())
    layout.output_dir.mkdir(parents=True, exist_ok=True)
    paths = PipelinePaths(
        data_dir=data_dir,
        pipeline_root=layout.pipeline_root,
        serving_dir=layout.serving_dir,
        schema_file=str(stage_schema(config.validation.schema_path, layout.schemas_dir)),
    )
    beam_pipeline_args = [*config.beam.pipeline_args, *beam_args]
    tfx_pipeline = create_pipeline(
        config,
        paths,
        beam_pipeline_args=beam_pipeline_args,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(str(layout.metadata_path)),
    )
    log_path = layout.runs_dir / f"{datetime.datetime.now():%Y%m%d-%H%M%S-%f}.log"  # a cached run takes < 1 s
    log.info("Running pipeline '%s' (full log: %s)", config.pipeline_name, log_path)
    earlier_runs = _run_ids(layout.metadata_path)
    try:
        with _RunLog(log_path), _ComponentProgress():
            _dag_runner(runner).run(tfx_pipeline, run_options=RunOptions(to_nodes=to_nodes) if to_nodes else None)
    finally:  # a failed run gets its summary too: which component failed, what ran before
        summary = write_summary(layout, log_path.with_suffix(".json"), earlier_runs)
    return summary


def write_summary(layout: OutputLayout, summary_path: Path, earlier_runs: set[str]) -> dict:
    """Prints the summary of the run that is not among `earlier_runs` and writes it as JSON.

    Returns {} when the run failed before it was recorded in MLMD.
    """
    from pipeline import lineage
    from pipeline.run_summary import format_summary, summarize_run

    if not layout.metadata_path.exists():
        return {}
    store = lineage.open_store(layout.metadata_path)
    new_runs = [run for run in lineage.run_contexts(store) if run.name not in earlier_runs]
    if not new_runs:
        return {}
    summary = summarize_run(store, new_runs[0])
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    log.info("%s\nSummary: %s", format_summary(summary), summary_path)
    return summary


def _run_ids(metadata_path: Path) -> set[str]:
    if not metadata_path.exists():
        return set()
    from pipeline import lineage

    return {run.name for run in lineage.run_contexts(lineage.open_store(metadata_path))}


def _check_data_dir(config: PipelineConfig, data_dir: str) -> None:
    """Fails fast, with the file's name, when an input file is missing (before TFX's driver would)."""
    import tensorflow as tf

    from components.idx_example_gen.layout import locate_idx_file

    for name in (config.data.train_images, config.data.train_labels, config.data.test_images, config.data.test_labels):
        locate_idx_file(data_dir, name, tf.io.gfile.exists)


def _dag_runner(runner: str):
    if runner == "beam":
        from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

        # No arguments: given beam_orchestrator_args, TFX falls back to its legacy, pre-IR runner.
        return BeamDagRunner()
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    return LocalDagRunner()


class _RunLog(logging.FileHandler):
    """Writes every INFO line of the run, the libraries' included, to the run's log file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(path)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def __enter__(self) -> "_RunLog":
        logging.root.addHandler(self)
        return self

    def __exit__(self, *exc_info) -> None:
        logging.root.removeHandler(self)
        self.close()


class _ComponentProgress(logging.Handler):
    """Prints a line as each component starts and ends, from the DAG runners' own log lines."""

    STARTED = ("Component %s is running.", "node %s is running.")  # LocalDagRunner, BeamDagRunner
    FINISHED = ("Component %s is finished.", "node %s is finished.")

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self._started: dict[str, float] = {}

    def __enter__(self) -> "_ComponentProgress":
        logging.getLogger("absl").addHandler(self)
        return self

    def __exit__(self, *exc_info) -> None:
        logging.getLogger("absl").removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg in self.STARTED:
            node_id = record.args[0]
            self._started[node_id] = time.monotonic()
            log.info("%s ...", node_id)
        elif record.msg in self.FINISHED:
            node_id = record.args[0]
            log.info("%s done in %.1f s", node_id, time.monotonic() - self._started.get(node_id, time.monotonic()))
