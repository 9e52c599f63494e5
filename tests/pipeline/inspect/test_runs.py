"""pipeline/inspect/runs.py: one record per run, read in one pass, on runs tests/support/mlmd_builder.py
wrote in both layouts."""

from __future__ import annotations

from pipeline import node_ids
from pipeline.inspect import runs, store
from pipeline.inspect.run_made import RunMade
from pipeline.inspect.states import ComponentStatus

from support import mlmd_builder
from support.fake_mnist import FILE_NAMES


def test_runs_are_listed_newest_first_with_each_components_status(written):
    third, second, first = runs.load_all(written.store)
    assert [run.id for run in (third, second, first)] == [
        r.run_id for r in (written.third, written.second, written.first)
    ]
    assert list(first.by_node) == list(mlmd_builder.COMPONENTS)  # in the order they started; KFP's root DAG left out
    assert {execution.status for execution in first.executions} == {ComponentStatus.RAN}
    assert {node for node, e in second.by_node.items() if e.status == ComponentStatus.RAN} == mlmd_builder.RECHECKED
    assert {node for node, e in third.by_node.items() if e.status == ComponentStatus.RAN} == mlmd_builder.RETRAINED
    assert {e.status for node, e in third.by_node.items() if node not in mlmd_builder.RETRAINED} == {"cached"}
    assert (first.status, first.seconds) == ("complete", 13 + 0.5)  # 13 steps a second apart, the last 1.5 s long
    assert (
        runs.load(written.store, store.find_run(written.store), leave_out=node_ids.PUSHER).executions[-1].node_id
        == node_ids.BLESSING_EVALUATOR
    )


def test_a_record_names_the_runs_its_cached_executions_reused_and_its_input_files(written):
    second = runs.load(written.store, store.find_run(written.store, written.second.run_id))
    cached = [e for e in second.executions if e.status is ComponentStatus.CACHED]
    assert cached and {second.made_in[e.id] for e in cached} == {written.first.run_id}
    assert set(second.made_in) == {e.id for e in cached}  # the executions that ran made their own
    assert second.output(node_ids.TRAINER, "model").id == written.first.outputs[node_ids.TRAINER]["model"][0]
    assert second.output(node_ids.TRAINER, "no such key") is None and second.execution("no such node") is None
    # An execution that did not finish may have written outputs (an interrupted one); the run page leaves them out.
    second.execution(node_ids.TRAINER).status = ComponentStatus.INTERRUPTED
    assert second.output(node_ids.TRAINER, "model") is not None
    assert second.output(node_ids.TRAINER, "model", finished_only=True) is None
    assert {(f.role, f.name) for f in runs.input_files(second.executions)} == {
        (role, f"{name}.gz") for role, name in FILE_NAMES.items()
    }
    assert second.first_served is None and second.made is None


def test_a_record_holds_how_the_run_was_made(tmp_path):
    writer = mlmd_builder.TfxLayout(tmp_path / "metadata.sqlite")
    made = RunMade("DirectRunner", [], None, ["training.learning_rate=0.01"], "/data", {}, "git 5fa279a")
    mlmd_builder.mnist_run(writer, tmp_path, "20261130-000100-000001", made=made)
    assert runs.load(writer.store, store.find_run(writer.store)).made == made


def test_settings_are_each_executions_parameters_by_dotted_key(tfx_written):
    settings = runs.settings(runs.load(tfx_written.store, store.find_run(tfx_written.store)))
    assert settings["Trainer.learning_rate"] == 0.01
    assert settings["Trainer.optimizer"] == "adam"
    assert not any(key.endswith(".seen") for key in settings)  # a probe's record of its input, no setting
