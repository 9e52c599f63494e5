"""pipeline/local/dag.py: the compiled pipeline a local run runs (compiling runs nothing), and the
TFX RunOptions of a whole run, `run --no-push` and `push RUN`."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import load_config
from pipeline.local import dag
from pipeline.local.partial_run import NO_PUSH, push_of
from pipeline.output_dir import OutputLayout
from pipeline.schema_staging import staged_path


def test_the_compiled_pipeline_carries_the_run_id_and_this_output_dirs_paths(tmp_path):
    layout, config = OutputLayout(tmp_path / "out"), load_config()
    ir = dag.compile_pipeline(config, "/data/mnist", layout, [], "20261206-050000-000001", use_cache=True)
    assert ir.runtime_spec.pipeline_run_id.field_value.string_value == "20261206-050000-000001"
    assert ir.runtime_spec.pipeline_root.field_value.string_value == layout.pipeline_root
    assert Path(staged_path(config.validation.schema_path, layout.schemas_dir)).is_file()  # staged by content


def test_a_whole_run_has_no_run_options():
    assert dag.run_options(None) is None


def test_no_push_stops_at_the_evaluators_and_reuses_the_latest_run():
    options = dag.run_options(NO_PUSH).partial_run
    assert list(options.to_nodes) == ["Evaluator-validation", "Evaluator-test"]
    assert not options.from_nodes  # from the start
    assert options.snapshot_settings.HasField("latest_pipeline_run_strategy")


def test_a_push_runs_from_the_serving_probe_to_the_pusher_on_the_runs_artifacts():
    options = dag.run_options(push_of("20261129-120000-000001")).partial_run
    assert (list(options.from_nodes), list(options.to_nodes)) == (["ServingProbe"], ["Pusher"])
    assert options.snapshot_settings.base_pipeline_run_strategy.base_run_id == "20261129-120000-000001"
