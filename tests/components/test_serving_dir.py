"""components/serving_dir.py: complete versions only, the marker last, what dead pushes left removed."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from components import serving_dir
from components.serving_dir import MARKER_FILE, NOTHING_SERVED, STAGING_PREFIX, ServedVersion

from fake_artifacts import SAVED_MODEL_FILES, read_files, write_files


def complete(base: Path, name: str, model_uri: str = "/model") -> Path:
    """A version as a push leaves it: the SavedModel, then the marker."""
    version_dir = write_files(base / name, SAVED_MODEL_FILES)
    serving_dir.write_marker(str(version_dir), model_uri, serving_dir.model_digest(str(version_dir)))
    return version_dir


def test_only_complete_versions_named_by_ascii_digits_count_in_numeric_order(tmp_path, caplog):
    for name in ("9", "10", "1700000000"):
        complete(tmp_path, name)
    write_files(tmp_path / "1800000000", SAVED_MODEL_FILES)  # no marker: a push that died midway
    (tmp_path / "9999999999").write_text("a file")
    complete(tmp_path, "²")  # a Unicode digit, which int() and TF Serving refuse
    complete(tmp_path, "notes")
    (tmp_path / f"{STAGING_PREFIX}11").mkdir()
    with caplog.at_level(logging.INFO, logger=serving_dir.__name__):
        versions = serving_dir.complete_versions(str(tmp_path))
    assert [served.version for served in versions] == [9, 10, 1700000000]
    [line] = [record.getMessage() for record in caplog.records]
    assert line == (
        f"{tmp_path}: skipped 1800000000 (no {MARKER_FILE}: incomplete, or not pushed by this pipeline), "
        "9999999999 (a file), notes (not a version number), ² (not a version number)"
    )


def test_a_version_keeps_the_name_it_has_on_disk(tmp_path):
    complete(tmp_path, "01795974624", "/model/a")
    served = serving_dir.latest(str(tmp_path))
    assert (served.version, served.path, served.model_uri) == (1795974624, str(tmp_path / "01795974624"), "/model/a")


def test_a_missing_or_empty_serving_dir_serves_nothing(tmp_path):
    assert serving_dir.latest(str(tmp_path / "missing")) is None
    assert serving_dir.latest(str(tmp_path)) is None
    assert serving_dir.fingerprint(None) == NOTHING_SERVED
    assert serving_dir.highest_number(str(tmp_path / "missing")) is None


def test_latest_is_the_highest_complete_version_with_the_model_its_marker_names(tmp_path):
    complete(tmp_path, "9", "/pipeline/Trainer/model/3")
    complete(tmp_path, "10", "/pipeline/Trainer/model/7")
    write_files(tmp_path / "11", SAVED_MODEL_FILES)
    newest = serving_dir.latest(str(tmp_path))
    assert (newest.version, newest.path, newest.model_uri) == (10, str(tmp_path / "10"), "/pipeline/Trainer/model/7")
    assert serving_dir.fingerprint(serving_dir.latest(str(tmp_path))) == "10:/pipeline/Trainer/model/7"
    assert serving_dir.highest_number(str(tmp_path)) == 11  # a new version goes above an incomplete one too


def test_the_marker_lives_in_assets_extra(tmp_path):
    serving_dir.write_marker(str(tmp_path), "s3://bucket/model/1", "abc")
    assert (tmp_path / MARKER_FILE).is_file() and MARKER_FILE.startswith("assets.extra")
    assert serving_dir.read_marker(str(tmp_path)) == {"model_uri": "s3://bucket/model/1", "model_sha256": "abc"}


def test_the_model_digest_tells_models_apart_by_graph_and_weights(tmp_path):
    one = write_files(tmp_path / "one", SAVED_MODEL_FILES)
    same = write_files(tmp_path / "same", {**SAVED_MODEL_FILES, "assets/other": b"not hashed"})
    weights = write_files(tmp_path / "weights", {**SAVED_MODEL_FILES, "variables/variables.index": b"other"})
    digests = [serving_dir.model_digest(str(path)) for path in (one, same, weights)]
    assert digests[0] == digests[1] != digests[2]


def test_a_local_publish_is_one_rename_with_the_marker_inside(tmp_path):
    staging = write_files(tmp_path / f"{STAGING_PREFIX}5", SAVED_MODEL_FILES)
    serving_dir.publish(str(staging), str(tmp_path / "5"), "/model")
    assert not staging.exists()
    files = read_files(tmp_path / "5")
    assert json.loads(files.pop(MARKER_FILE)) == {
        "model_uri": "/model",
        "model_sha256": serving_dir.model_digest(str(tmp_path / "5")),
    }
    assert files == SAVED_MODEL_FILES


def test_an_object_store_publish_copies_saved_model_pb_after_the_rest_and_the_marker_last(tmp_path, monkeypatch):
    """Where a rename is a copy; `ram://` is TensorFlow's in-memory filesystem, a URI like s3://."""
    staging, version = "ram://serving/.staging-5", "ram://serving/5"
    for relative, content in SAVED_MODEL_FILES.items():
        serving_dir.files.makedirs(f"{staging}/{Path(relative).parent}")
        with serving_dir.files.open(f"{staging}/{relative}", "wb") as file:
            file.write(content)
    written = []
    copy, write_marker = serving_dir.files.copy, serving_dir.write_marker
    monkeypatch.setattr(
        serving_dir.files, "copy", lambda src, dst, overwrite: (written.append(dst), copy(src, dst, overwrite))
    )
    monkeypatch.setattr(
        serving_dir,
        "write_marker",
        lambda path, uri, digest: (written.append("marker"), write_marker(path, uri, digest)),
    )

    serving_dir.publish(staging, version, "/model")

    assert written == [f"{version}/variables/variables.index", f"{version}/saved_model.pb", "marker"]
    assert not serving_dir.files.exists(staging)
    assert serving_dir.latest("ram://serving") == ServedVersion(5, version, "/model", serving_dir.model_digest(version))


def test_what_dead_pushes_left_is_removed_and_nothing_else(tmp_path):
    complete(tmp_path, "5")
    write_files(tmp_path / f"{STAGING_PREFIX}6", {"saved_model.pb": b"partial"})  # died while copying
    write_files(tmp_path / f"{STAGING_PREFIX}7", SAVED_MODEL_FILES)  # died while publishing to a bucket
    write_files(tmp_path / "7", {"variables/variables.index": b"index"})
    write_files(tmp_path / "8", SAVED_MODEL_FILES)  # no staging folder: not ours to remove
    removed = serving_dir.remove_unfinished(str(tmp_path))
    assert sorted(removed) == sorted(str(tmp_path / name) for name in (f"{STAGING_PREFIX}6", f"{STAGING_PREFIX}7", "7"))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["5", "8"]
    assert serving_dir.remove_unfinished(str(tmp_path / "missing")) == []


def test_a_staging_name_on_something_other_than_a_model_copy_is_left_alone(tmp_path):
    """Issue 27: an output dir named `.staging-1` inside its serving dir was deleted by the clean-up."""
    output_dir = write_files(tmp_path / f"{STAGING_PREFIX}1", {"metadata.sqlite": b"store", "runs/a.log": b"log"})
    write_files(tmp_path / "1", {"notes.txt": b"someone's"})  # no marker, and not a model either
    not_a_version = write_files(tmp_path / f"{STAGING_PREFIX}new", SAVED_MODEL_FILES)
    assert serving_dir.remove_unfinished(str(tmp_path)) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["1", output_dir.name, not_a_version.name])
