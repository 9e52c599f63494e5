"""components/evaluator/executor.py: a baseline that says "none served" is dropped before TFX's
executor sees its inputs (which then blesses on the thresholds alone); a served one is kept;
the split is checked against the ingest's checksums and the model against the Trainer's first;
the floor is raised to the best served less the tolerance; the blessing names the served model
the candidate was compared with and carries its validation figures."""

from __future__ import annotations

import pytest
import tensorflow_model_analysis as tfma
from tfx.components.evaluator import executor as tfx_evaluator
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components import examples_integrity, model_integrity
from components.evaluator import executor, figures
from components.evaluator.eval_config import eval_config
from components.evaluator.settings import MAX_REGRESSION_KEY, MAX_TEST_GAP_KEY, MIN_PRECISION_KEY, PRECISION_PROPERTY
from components.served_model.properties import FINGERPRINT_KEY, SERVED_KEY, SERVED_VALIDATION_KEY
from components.serving_dir import NOTHING_SERVED, Validation

from support.fake_artifacts import SAVED_MODEL_FILES, VALIDATION, artifact, write_files

VALIDATION_SHARDS = {"Split-validation/data_tfrecord-00000-of-00001.gz": b"records"}


@pytest.fixture
def inputs_seen_by_tfx(monkeypatch) -> list[dict]:
    """The input_dict that TFX's Evaluator executor receives (it is not run, so neither is the
    recording of its figures)."""
    seen: list[dict] = []
    monkeypatch.setattr(tfx_evaluator.Executor, "Do", lambda self, inputs, outputs, properties: seen.append(inputs))
    monkeypatch.setattr(figures, "record", lambda evaluation, floor_source=None: None)
    return seen


def evaluate(
    tmp_path,
    baseline_served: int | None,
    damage: bool = False,
    damage_model: bool = False,
    served_validation: Validation = VALIDATION,
    properties: dict | None = None,
):
    """Runs the executor on a validation split whose checksums the ingest recorded and a model
    the Trainer recorded; returns the blessing."""
    examples = artifact(standard_artifacts.Examples, tmp_path / "examples", split_names=["validation"])
    shard = write_files(tmp_path / "examples", VALIDATION_SHARDS)
    examples_integrity.record(examples)
    if damage:
        (shard / "Split-validation/data_tfrecord-00000-of-00001.gz").write_bytes(b"other records")
    model = artifact(standard_artifacts.Model, tmp_path / "model")
    write_files(tmp_path / "model" / "Format-Serving", SAVED_MODEL_FILES)
    model_integrity.record(model)
    if damage_model:
        (tmp_path / "model" / "Format-Serving" / "saved_model.pb").unlink()
    inputs = {"examples": [examples], "model": [model]}
    if baseline_served is not None:
        served = "7:/model/7" if baseline_served else NOTHING_SERVED
        baseline = artifact(
            standard_artifacts.Model, tmp_path / "baseline", **{SERVED_KEY: baseline_served, FINGERPRINT_KEY: served}
        )
        if baseline_served:
            baseline.set_json_value_custom_property(SERVED_VALIDATION_KEY, served_validation.__dict__)
        inputs["baseline_model"] = [baseline]
    blessing = artifact(standard_artifacts.ModelBlessing, tmp_path / "blessing")
    evaluation = artifact(standard_artifacts.ModelEvaluation, tmp_path / "evaluation")
    outputs = {"blessing": [blessing], "evaluation": [evaluation]}
    executor.Executor().Do(inputs, outputs, {"example_splits": '["validation"]', **(properties or {})})
    return blessing


def validation_data(tmp_path) -> str:
    """The digest of the validation split evaluate() writes."""
    examples = artifact(standard_artifacts.Examples, tmp_path / "examples", split_names=["validation"])
    write_files(tmp_path / "examples", VALIDATION_SHARDS)
    examples_integrity.record(examples)
    return examples_integrity.split_digest(examples, "validation")


def test_a_baseline_that_says_nothing_is_served_is_dropped(tmp_path, inputs_seen_by_tfx):
    blessing = evaluate(tmp_path, baseline_served=0)
    [inputs] = inputs_seen_by_tfx
    assert sorted(inputs) == ["examples", "model"]
    assert blessing.get_string_custom_property(executor.BASELINE_SERVED_KEY) == NOTHING_SERVED


def test_a_served_baseline_is_kept_and_named_on_the_blessing(tmp_path, inputs_seen_by_tfx):
    blessing = evaluate(tmp_path, baseline_served=1)
    [inputs] = inputs_seen_by_tfx
    assert sorted(inputs) == ["baseline_model", "examples", "model"]
    assert inputs["baseline_model"][0].get_int_custom_property(SERVED_KEY) == 1
    assert blessing.get_string_custom_property(executor.BASELINE_SERVED_KEY) == "7:/model/7"


def test_without_a_baseline_input_the_inputs_pass_unchanged(tmp_path, inputs_seen_by_tfx):
    blessing = evaluate(tmp_path, baseline_served=None)
    [inputs] = inputs_seen_by_tfx
    assert sorted(inputs) == ["examples", "model"]
    assert not blessing.has_custom_property(executor.BASELINE_SERVED_KEY)  # the test Evaluator compares with nothing


def test_damaged_examples_stop_it_before_tfx_evaluates(tmp_path, inputs_seen_by_tfx):
    with pytest.raises(examples_integrity.ExamplesIntegrityError, match="split 'validation'.*differs"):
        evaluate(tmp_path, baseline_served=1, damage=True)
    assert inputs_seen_by_tfx == []


def test_a_damaged_model_stops_it_before_tfx_evaluates(tmp_path, inputs_seen_by_tfx):
    with pytest.raises(model_integrity.ModelIntegrityError, match="saved_model.pb is missing"):
        evaluate(tmp_path, baseline_served=1, damage_model=True)
    assert inputs_seen_by_tfx == []


@pytest.fixture
def config_seen_by_tfx(monkeypatch) -> list[tfma.EvalConfig]:
    """The eval_config TFX's Evaluator executor receives; it "measures" Precision@1 0.975."""
    seen: list[tfma.EvalConfig] = []

    def tfx_do(self, inputs, outputs, properties):
        config = tfma.EvalConfig()
        proto_utils.json_to_proto(properties["eval_config"], config)
        seen.append(config)

    monkeypatch.setattr(tfx_evaluator.Executor, "Do", tfx_do)
    monkeypatch.setattr(figures, "record", lambda evaluation, floor_source=None: measured(evaluation))
    return seen


def measured(evaluation) -> None:
    evaluation.set_float_custom_property(PRECISION_PROPERTY, 0.975)


@pytest.fixture
def floor_sources(monkeypatch, config_seen_by_tfx) -> list[str | None]:
    """What the executor says of the floor as it records the figures (which the failure lines follow)."""
    sources: list[str | None] = []

    def record(evaluation, floor_source=None):
        measured(evaluation)
        sources.append(floor_source)

    monkeypatch.setattr(figures, "record", record)
    return sources


RULE = {MIN_PRECISION_KEY: 0.5, MAX_REGRESSION_KEY: 0.01}  # the validation Evaluator's parameters


def test_the_floor_is_raised_to_the_best_served_on_the_same_data_less_the_tolerance(
    tmp_path, config_seen_by_tfx, floor_sources
):
    """A chain of pushes, each within the tolerance of the one before, cannot drift down: the
    served marker carries the best served (0.985 here, though the newest served has 0.98); a
    model below the floor is told where it came from."""
    data = validation_data(tmp_path)
    blessing = evaluate(tmp_path, 1, served_validation=Validation(data, 0.98, 0.985), properties=RULE)
    [config] = config_seen_by_tfx
    assert config == eval_config(0.985 - 0.01, max_precision_at_1_regression=0.01)
    assert dict(blessing.get_json_value_custom_property(executor.VALIDATION_KEY)) == {
        "data_sha256": data,
        "precision_at_1": 0.975,
        "best_precision_at_1": 0.985,
    }
    assert blessing.get_float_custom_property(executor.TOLERANCE_KEY) == 0.01
    assert floor_sources == ["the best served on this validation data, 0.9850, less the tolerance 0.01"]


def test_without_figures_on_the_same_data_the_floor_stays_the_runs(tmp_path, config_seen_by_tfx, floor_sources):
    """A served model validated on other data: TFMA's comparison with the served model alone."""
    blessing = evaluate(tmp_path, 1, served_validation=Validation("other validation data", 0.99, 0.99), properties=RULE)
    [config] = config_seen_by_tfx
    assert config == eval_config(0.5, max_precision_at_1_regression=0.01)
    assert floor_sources == [None]
    assert blessing.get_json_value_custom_property(executor.VALIDATION_KEY)["best_precision_at_1"] == 0.975


def test_the_eval_config_is_built_from_the_parameters_before_tfx_reads_it(tmp_path, config_seen_by_tfx):
    """The validation Evaluator's blessing rule and the test Evaluator's report are its parameters
    (a run may set them): TFX's executor gets the eval_config made of them, and of nothing else."""
    evaluate(tmp_path / "validation", 0, properties={MIN_PRECISION_KEY: 0.25, MAX_REGRESSION_KEY: 0.02})
    evaluate(tmp_path / "test", None, properties={MAX_TEST_GAP_KEY: 0.03})
    assert config_seen_by_tfx == [eval_config(0.25, max_precision_at_1_regression=0.02), eval_config()]
