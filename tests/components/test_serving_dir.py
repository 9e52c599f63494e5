"""components/serving_dir.py: complete versions only, the marker last and checked, damaged versions
named in one line, what dead pushes left removed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components import model_integrity, serving_dir
from components.serving_dir import MARKER_FILE, NOTHING_SERVED, STAGING_PREFIX, DamagedVersion, ServedVersion

from support.fake_artifacts import SAVED_MODEL_FILES, VALIDATION, read_files, write_files

MANIFEST = model_integrity.manifest  # what the Trainer records, of a folder


def complete(base: Path, name: str, model_uri: str = "/model") -> Path:
    """A version as a push leaves it: the SavedModel, then the marker."""
    version_dir = write_files(base / name, SAVED_MODEL_FILES)
    serving_dir.write_marker(str(version_dir), model_uri, MANIFEST(str(version_dir)), VALIDATION)
    return version_dir


def test_only_complete_versions_named_by_ascii_digits_within_int64_count_in_numeric_order(tmp_path):
    for name in ("9", "10", "1700000000"):
        complete(tmp_path, name)
    write_files(tmp_path / "1800000000", SAVED_MODEL_FILES)  # no marker: a push that died midway
    (tmp_path / "9999999999").write_text("a file")
    complete(tmp_path, "²")  # a Unicode digit, which int() and TF Serving refuse
    complete(tmp_path, "notes")
    complete(tmp_path, "99999999999999999999")  # beyond int64: TF Serving ignores it
    (tmp_path / f"{STAGING_PREFIX}11").mkdir()
    found = serving_dir.scan(str(tmp_path))
    assert [served.version for served in found.versions] == [9, 10, 1700000000]
    assert found.skipped_line(str(tmp_path)) == (
        f"{tmp_path}: skipped 1800000000 (no {MARKER_FILE}: incomplete, or not pushed by this pipeline), "
        "9999999999 (a file), 99999999999999999999 (beyond int64, which TF Serving ignores), "
        "notes (not a version number), ² (not a version number)"
    )
    assert serving_dir.highest_number(str(tmp_path)) == 9999999999  # the next version stays within int64


@pytest.mark.parametrize(
    "content, problem",
    [
        (b'{"model_uri": "/mod', "is unreadable"),
        (b"\xff\xfe", "is unreadable"),
        (b"{}", "is incomplete (no model_uri)"),
        (b"[1, 2]", "is incomplete (no model_uri)"),
        (b'{"model_uri": "/m", "model_sha256": "x", "files": {}, "validation": {"x": 1}}', "is malformed"),
        (b'{"model_uri": "/m", "model_sha256": "x", "files": {}, "validation": null}', "is malformed"),
        (
            b'{"model_uri": "/m", "model_sha256": "x", "files": ["saved_model.pb"], "validation": '
            b'{"data_sha256": "d", "precision_at_1": 1, "best_precision_at_1": 1}}',
            "is malformed",
        ),
    ],
)
def test_a_corrupt_or_incomplete_marker_is_one_line_naming_the_version(tmp_path, content, problem):
    version_dir = complete(tmp_path, "5")
    (version_dir / MARKER_FILE).write_bytes(content)
    with pytest.raises(DamagedVersion) as damaged:
        serving_dir.latest(str(tmp_path))
    message = str(damaged.value)
    assert message.startswith(f"{version_dir / MARKER_FILE} {problem}") and "\n" not in message
    assert message.endswith(
        f"version 5 is damaged; move {version_dir} out of {tmp_path} (the version before it is then served) "
        "and run again"
    )


@pytest.mark.parametrize(
    "damage, named",
    [
        (lambda version: (version / "saved_model.pb").unlink(), "saved_model.pb is missing"),
        (
            lambda version: (version / "variables" / "variables.index").write_bytes(b"inde"),
            "variables/variables.index differs",
        ),
    ],
)
def test_a_served_version_whose_files_differ_from_its_marker_is_named_in_one_line(tmp_path, damage, named):
    version_dir = complete(tmp_path, "5")
    damage(version_dir)
    with pytest.raises(DamagedVersion) as damaged:
        serving_dir.verify_version(serving_dir.latest(str(tmp_path)))
    assert str(damaged.value).startswith(f"{version_dir}/{named}")
    assert "served version 5 is damaged" in str(damaged.value) and "\n" not in str(damaged.value)


def test_files_besides_the_models_in_a_version_change_nothing_tf_serving_loads(tmp_path):
    version_dir = complete(tmp_path, "5")
    (version_dir / "README").write_text("notes")
    serving_dir.verify_version(serving_dir.latest(str(tmp_path)))


@pytest.mark.parametrize(
    ("marker", "missing"),
    [
        ({"model_uri": "/m", "model_sha256": "old", "files": {}}, "validation"),
        ({"model_uri": "/m", "model_sha256": "old", "validation": VALIDATION.__dict__}, "files"),
        ({"model_uri": "/m"}, "model_sha256 or files or validation"),
    ],
)
def test_a_marker_of_an_older_form_is_refused_in_one_line_naming_it(tmp_path, marker, missing):
    """docs/design.md, "What an older version left": an older push's marker is not read, it is named."""
    version_dir = write_files(tmp_path / "5", SAVED_MODEL_FILES)
    write_files(version_dir, {MARKER_FILE: json.dumps(marker).encode()})
    with pytest.raises(DamagedVersion) as refused:
        serving_dir.latest(str(tmp_path))
    assert str(refused.value) == (
        f"{version_dir / MARKER_FILE} is of an older form (no {missing}): an earlier version of this pipeline pushed "
        f"it; move {version_dir} out of {tmp_path}, or push a model from a fresh run"
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


def test_the_marker_lives_in_assets_extra_with_the_models_files_and_validation(tmp_path):
    validation = serving_dir.Validation("data", 0.98, 0.99)
    serving_dir.write_marker(str(tmp_path), "s3://bucket/model/1", {"saved_model.pb": "abc"}, validation)
    assert (tmp_path / MARKER_FILE).is_file() and MARKER_FILE.startswith("assets.extra")
    assert serving_dir.read_marker(str(tmp_path)) == {
        "model_uri": "s3://bucket/model/1",
        "model_sha256": model_integrity.digest({"saved_model.pb": "abc"}),
        "files": {"saved_model.pb": "abc"},
        "validation": {"data_sha256": "data", "precision_at_1": 0.98, "best_precision_at_1": 0.99},
    }


def test_the_best_served_counts_on_the_same_validation_data_only():
    validation = serving_dir.Validation("data", 0.98, 0.99)
    assert validation.best_on("data") == 0.99
    assert validation.best_on("other data") is None


def test_a_local_publish_is_one_rename_with_the_marker_inside(tmp_path):
    staging = write_files(tmp_path / f"{STAGING_PREFIX}5", SAVED_MODEL_FILES)
    recorded = MANIFEST(str(staging))
    serving_dir.publish(str(staging), str(tmp_path / "5"), "/model", recorded, VALIDATION)
    assert not staging.exists()
    files = read_files(tmp_path / "5")
    assert json.loads(files.pop(MARKER_FILE)) == {
        "model_uri": "/model",
        "model_sha256": model_integrity.digest(recorded),
        "files": recorded,
        "validation": VALIDATION.__dict__,
    }
    assert files == SAVED_MODEL_FILES


def test_a_copy_that_differs_from_what_the_trainer_wrote_is_not_published(tmp_path):
    staging = write_files(tmp_path / f"{STAGING_PREFIX}5", SAVED_MODEL_FILES)
    recorded = MANIFEST(str(staging))
    (staging / "saved_model.pb").write_bytes(b"grap")  # a byte lost on the way
    with pytest.raises(model_integrity.ModelIntegrityError, match="saved_model.pb differs from what the Trainer wrote"):
        serving_dir.publish(str(staging), str(tmp_path / "5"), "/model", recorded, VALIDATION)
    assert not (tmp_path / "5").exists() and not (staging / MARKER_FILE).exists()


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
        lambda path, uri, recorded, validation: (
            written.append("marker"),
            write_marker(path, uri, recorded, validation),
        ),
    )
    recorded = {
        relative: model_integrity.hashlib.sha256(content).hexdigest() for relative, content in SAVED_MODEL_FILES.items()
    }

    serving_dir.publish(staging, version, "/model", recorded, VALIDATION)

    assert written == [f"{version}/variables/variables.index", f"{version}/saved_model.pb", "marker"]
    assert not serving_dir.files.exists(staging)
    assert serving_dir.latest("ram://serving") == ServedVersion(
        5, version, "/model", model_integrity.digest(recorded), recorded, VALIDATION
    )


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
