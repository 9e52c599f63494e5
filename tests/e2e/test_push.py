"""Experiments stay experiments: `run --no-push` evaluates and publishes nothing; `push RUN`
publishes that run's model later, compared with the model served then, as a run's push is."""

from __future__ import annotations

import json
import shutil

import pytest

from components.serving_dir import MARKER_FILE
from pipeline.config import load_config

from conftest import SMALL_RUN, newest_summary, run_cli
from support.fake_mnist import balanced_labels, write_fake_mnist
from support.report_page import Page

pytestmark = pytest.mark.e2e


def served_models(serving) -> dict[str, str]:
    """Each complete version in the serving dir and the model URI its marker names."""
    if not serving.exists():
        return {}
    return {
        path.name: json.loads((path / MARKER_FILE).read_text())["model_uri"]
        for path in serving.iterdir()
        if (path / MARKER_FILE).is_file()
    }


def ran(summary: dict) -> set[str]:
    return {c["component"] for c in summary["components"] if c["status"] == "ran"}


def test_no_push_then_push_later_against_what_is_served_then(fake_mnist_dir, tmp_path, capsys):
    output, serving = tmp_path / "out", tmp_path / "out" / "serving"
    run = ["run", "--data-dir", fake_mnist_dir, "--output-dir", output, *SMALL_RUN]

    assert run_cli(*run, "--no-push") == 0
    experiment = newest_summary(output)
    assert served_models(serving) == {}
    assert "Pusher" not in {c["component"] for c in experiment["components"]}
    assert experiment["blessing"]["blessed"] and experiment["pushed"] is None
    held_back = f"Pushed: no: run with --no-push; `mnist-pipeline push {experiment['run_id']}` publishes"
    assert held_back in capsys.readouterr().err
    assert "run with --no-push" in (output / "runs" / f"{experiment['run_id']}.html").read_text()

    # Meanwhile another run, with other settings, is pushed.
    assert run_cli(*run, "--set", "training.learning_rate=0.005") == 0
    [(first_version, other_model)] = served_models(serving).items()

    # The experiment's model, compared with the one served now (not with what it saw), is pushed.
    assert run_cli("push", experiment["run_id"], "--output-dir", output) == 0
    pushed = newest_summary(output)
    assert ran(pushed) == {"ServingProbe", "ServedModel", "Evaluator-validation", "Pusher"}
    assert pushed["blessing"]["baseline"]["served_version"] == int(first_version)
    trained = {c["component"]: c["status"] for c in pushed["components"]}
    assert trained["Trainer"] == trained["Evaluator-test"] == "cached"  # reused from the experiment
    versions = served_models(serving)
    assert versions.pop(first_version) == other_model
    [(new_version, model)] = versions.items()
    assert pushed["pushed"]["version"] == new_version and model != other_model
    # Its report shows what it reused: the nodes the partial run reused carry no parameters of their
    # own in MLMD, so the data and training come from the experiment's executions.
    assert f"Report: {output / 'runs' / (pushed['run_id'] + '.html')}" in capsys.readouterr().err
    page = Page.read(output / "runs" / f"{pushed['run_id']}.html")
    assert {row["setting"]: row["value"] for row in page.table("Settings")}["learning_rate"] == str(
        load_config().training.learning_rate
    )

    # Pushed again: that version already serves it; nothing new is published.
    capsys.readouterr()
    assert run_cli("push", experiment["run_id"], "--output-dir", output) == 0
    assert f"Pushed: nothing new: version {new_version} already serves this model" in capsys.readouterr().err
    assert len(served_models(serving)) == 2


def test_a_run_without_a_model_is_refused_in_one_line(tmp_path, capsys):
    data, output = tmp_path / "skewed", tmp_path / "out"
    write_fake_mnist(data, test_labels=balanced_labels(200, 2, num_classes=5))  # DataGate stops the run
    assert run_cli("run", "--data-dir", data, "--output-dir", output, *SMALL_RUN) == 1
    failed = newest_summary(output)["run_id"]
    capsys.readouterr()
    assert run_cli("push", failed, "--output-dir", output) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: run {failed}: its Trainer did not finish, so it has no model to push"
    )
    assert run_cli("push", "no-such-run", "--output-dir", output) == 1
    assert capsys.readouterr().err.strip() == "error: run 'no-such-run' not found (see `lineage runs`)"


def test_a_model_damaged_after_its_run_is_refused_at_push_and_nothing_is_published(fake_mnist_dir, tmp_path, capsys):
    """`run --no-push`, the model's files damaged, `push RUN`: one line naming the file, no version."""
    output = tmp_path / "out"
    assert run_cli("run", "--data-dir", fake_mnist_dir, "--output-dir", output, *SMALL_RUN, "--no-push") == 0
    experiment = newest_summary(output)["run_id"]
    [model] = (output / "pipeline" / "Trainer" / "model").iterdir()
    saved = model / "Format-Serving"
    pristine = tmp_path / "pristine"
    shutil.copytree(model, pristine)
    damages = {
        "saved_model.pb deleted": (lambda: (saved / "saved_model.pb").unlink(), f"{saved}/saved_model.pb is missing"),
        "variables deleted": (lambda: shutil.rmtree(saved / "variables"), f"{saved}/variables/variables."),
        "model folder deleted": (lambda: shutil.rmtree(model), f"{saved} is missing"),
        "a byte changed": (lambda: _flip_a_byte(saved / "saved_model.pb"), f"{saved}/saved_model.pb differs"),
    }
    for damage, line in damages.values():
        damage()
        capsys.readouterr()
        assert run_cli("push", experiment, "--output-dir", output) == 1
        [error] = [text for text in capsys.readouterr().err.splitlines() if text.startswith("error:")]
        assert line in error and "the model is damaged; run again with --no-cache to train it again" in error
        assert served_models(output / "serving") == {}
        shutil.rmtree(model, ignore_errors=True)
        shutil.copytree(pristine, model)

    assert run_cli("push", experiment, "--output-dir", output) == 0  # whole again: published
    assert len(served_models(output / "serving")) == 1


def _flip_a_byte(path) -> None:
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 1
    path.write_bytes(bytes(content))
