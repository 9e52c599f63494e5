"""components/served_model/executor.py: the baseline is what the serving dir serves now, checked
against its marker, with the validation figures the marker carries."""

from __future__ import annotations

from pathlib import Path

import pytest
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components import model_integrity, serving_dir
from components.served_model import executor
from components.served_model.executor import BASELINE_KEY
from components.served_model.probe import SERVING_DIR_KEY, served_now
from components.served_model.properties import (
    FINGERPRINT_KEY,
    SERVED_KEY,
    SERVED_PATH_KEY,
    SERVED_VALIDATION_KEY,
    SERVED_VERSION_KEY,
    SOURCE_MODEL_KEY,
    is_served,
)
from components.serving_dir import NOTHING_SERVED, DamagedVersion, ServedModelChanged, Validation

from support.fake_artifacts import SAVED_MODEL_FILES, VALIDATION, artifact, read_files, write_files


def find_baseline(serving: Path, tmp_path: Path, seen: str | None = None):
    """Runs the executor as the pipeline does: with what ServingProbe saw (default: what is served now)."""
    baseline = artifact(standard_artifacts.Model, tmp_path / "baseline")
    properties = {SERVING_DIR_KEY: str(serving), "code_sha256": "x"}
    properties[FINGERPRINT_KEY] = served_now(properties) if seen is None else seen
    executor.Executor().Do({}, {BASELINE_KEY: [baseline]}, properties)
    return baseline


def serve(serving: Path, version: int, model_uri: str | None, validation: Validation = VALIDATION) -> Path:
    version_dir = write_files(serving / str(version), SAVED_MODEL_FILES)
    if model_uri is not None:
        serving_dir.write_marker(str(version_dir), model_uri, model_integrity.manifest(str(version_dir)), validation)
    return version_dir


def test_nothing_served_gives_an_empty_baseline_that_says_so(tmp_path):
    baseline = find_baseline(tmp_path / "serving", tmp_path)
    assert baseline.get_int_custom_property(SERVED_KEY) == 0
    assert baseline.get_string_custom_property(FINGERPRINT_KEY) == NOTHING_SERVED
    assert not is_served(baseline)
    assert not Path(baseline.uri).exists() or read_files(Path(baseline.uri)) == {}


def test_the_newest_version_is_copied_with_its_version_path_and_model(tmp_path):
    serve(tmp_path / "serving", 5, "/pipeline/Trainer/model/3")
    newest = serve(tmp_path / "serving", 7, "/pipeline/Trainer/model/9")
    baseline = find_baseline(tmp_path / "serving", tmp_path)
    assert is_served(baseline)
    assert baseline.get_int_custom_property(SERVED_VERSION_KEY) == 7
    assert baseline.get_string_custom_property(SERVED_PATH_KEY) == str(newest)
    assert baseline.get_string_custom_property(SOURCE_MODEL_KEY) == "/pipeline/Trainer/model/9"
    assert baseline.get_string_custom_property(FINGERPRINT_KEY) == "7:/pipeline/Trainer/model/9"
    # Where TFX's Evaluator looks for a Model's SavedModel: Format-Serving.
    copied = read_files(Path(path_utils.serving_model_path(baseline.uri)))
    assert copied == read_files(newest)


def test_a_version_without_its_marker_is_not_served(tmp_path):
    """Incomplete (a push that died), or not pushed by this pipeline: the older complete version is the baseline."""
    serve(tmp_path / "serving", 4, "/model/a")
    serve(tmp_path / "serving", 5, None)
    baseline = find_baseline(tmp_path / "serving", tmp_path)
    assert baseline.get_int_custom_property(SERVED_VERSION_KEY) == 4


def test_a_model_pushed_since_the_probe_looked_stops_the_run(tmp_path):
    """The baseline must be what the probe saw, which is what the cache key holds."""
    serving = tmp_path / "serving"
    serve(serving, 5, "/model/a")
    serve(serving, 6, "/model/b")
    with pytest.raises(ServedModelChanged, match=r"changed while this run started \(5:/model/a -> 6:/model/b\)"):
        find_baseline(serving, tmp_path, seen="5:/model/a")
    with pytest.raises(ServedModelChanged, match=f"{NOTHING_SERVED} -> 6:/model/b"):
        find_baseline(serving, tmp_path, seen=NOTHING_SERVED)


def test_the_served_versions_validation_figures_go_on_the_baseline(tmp_path):
    serve(tmp_path / "serving", 5, "/model/a", Validation("data", 0.98, 0.99))
    baseline = find_baseline(tmp_path / "serving", tmp_path)
    assert dict(baseline.get_json_value_custom_property(SERVED_VALIDATION_KEY)) == {
        "data_sha256": "data",
        "precision_at_1": 0.98,
        "best_precision_at_1": 0.99,
    }


def test_a_damaged_served_version_stops_the_run_in_one_line_naming_it(tmp_path):
    """Not a traceback in every later run: which version, which file, and what to do."""
    version_dir = serve(tmp_path / "serving", 5, "/model/a")
    (version_dir / "saved_model.pb").unlink()
    with pytest.raises(DamagedVersion) as damaged:
        find_baseline(tmp_path / "serving", tmp_path)
    assert str(damaged.value) == (
        f"{version_dir}/saved_model.pb is missing; it is part of what its push published: served version 5 is "
        f"damaged; TF Serving cannot serve it as pushed: move {version_dir} out of {tmp_path / 'serving'} (the "
        "version before it is then served) and run again"
    )
