"""The TFX half of a local run: the pipeline compiled into its IR with the run id set, then run
by the ConcurrentDagRunner (pipeline/local/concurrent_dag_runner.py), whole or in part.

This module loads TFX and TensorFlow, a slow import (docs/performance.md, "Where the time goes"):
pipeline/local/runner.py imports it when a run starts, not before.
"""

from __future__ import annotations

from tfx.dsl.compiler import compiler, constants
from tfx.orchestration import metadata
from tfx.orchestration.portable import runtime_parameter_utils
from tfx.proto.orchestration import pipeline_pb2

from components import workarounds
from components.object_storage import BEAM_WORKER_PLUGIN_ARG
from pipeline.config import PipelineConfig
from pipeline.local.concurrent_dag_runner import ConcurrentDagRunner
from pipeline.local.partial_run import PartialRun
from pipeline.output_dir import OutputLayout
from pipeline.pipeline import PipelinePaths, create_pipeline
from pipeline.schema_staging import stage_schema


def compile_pipeline(
    config: PipelineConfig, data_dir: str, layout: OutputLayout, beam_args: list[str], run_id: str, use_cache: bool
) -> pipeline_pb2.Pipeline:
    """The pipeline's IR with the run id set (TFX's runners would otherwise pick one of their own)."""
    paths = PipelinePaths(
        data_dir=data_dir,
        pipeline_root=layout.pipeline_root,
        serving_dir=layout.serving_dir,
        schema_file=str(stage_schema(config.validation.schema_path, layout.schemas_dir)),
    )
    tfx_pipeline = create_pipeline(
        config,
        paths,
        beam_pipeline_args=[*beam_args, BEAM_WORKER_PLUGIN_ARG],
        metadata_connection_config=metadata.sqlite_metadata_connection_config(str(layout.metadata_path)),
        enable_cache=use_cache,
    )
    ir = compiler.Compiler().compile(tfx_pipeline)
    runtime_parameter_utils.substitute_runtime_parameter(ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
    return ir


def run(ir: pipeline_pb2.Pipeline, partial: PartialRun | None, beam_args: list[str], paths: list[str]) -> None:
    """Runs the IR, or the part of it `partial` says; executors run in forked worker processes
    where `paths` (read and written by the run) allow (components/workarounds.py)."""
    runner = ConcurrentDagRunner(executors_in_processes=workarounds.executors_can_fork(paths))
    with workarounds.beam_packaging(beam_args):
        runner.run_with_ir(ir, run_options=run_options(partial))


def run_options(partial: PartialRun | None) -> pipeline_pb2.RunOptions | None:
    """TFX's RunOptions for a partial run; None for a whole run."""
    if partial is None:
        return None
    options = pipeline_pb2.RunOptions()
    options.partial_run.from_nodes.extend(partial.from_nodes)
    options.partial_run.to_nodes.extend(partial.to_nodes)
    snapshot = options.partial_run.snapshot_settings
    if partial.base_run_id:
        snapshot.base_pipeline_run_strategy.base_run_id = partial.base_run_id
    else:
        snapshot.latest_pipeline_run_strategy.SetInParent()
    return options
