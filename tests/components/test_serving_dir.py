"""components/serving_dir.py: numbered versions, the newest, the marker, stale staging folders."""

from __future__ import annotations

from pathlib import Path

from components import serving_dir
from components.serving_dir import MARKER_FILE, STAGING_PREFIX, ServedVersion


def make_dirs(base: Path, *names: str) -> Path:
    for name in names:
        (base / name).mkdir(parents=True)
    return base


def test_versions_are_the_numbered_folders_in_numeric_order(tmp_path):
    make_dirs(tmp_path, "9", "10", "1700000000", f"{STAGING_PREFIX}11", "notes", "2.5")
    (tmp_path / "12.txt").write_text("a file")
    assert serving_dir.versions(str(tmp_path)) == [9, 10, 1700000000]


def test_a_missing_or_empty_serving_dir_has_no_version(tmp_path):
    assert serving_dir.versions(str(tmp_path / "missing")) == []
    assert serving_dir.latest(str(tmp_path / "missing")) is None
    assert serving_dir.latest(str(tmp_path)) is None


def test_latest_is_the_highest_number_with_the_model_its_marker_names(tmp_path):
    make_dirs(tmp_path, "9", "10")
    serving_dir.write_marker(str(tmp_path / "10"), "/pipeline/Trainer/model/7")
    assert serving_dir.latest(str(tmp_path)) == ServedVersion(10, str(tmp_path / "10"), "/pipeline/Trainer/model/7")


def test_latest_without_a_marker_names_no_model(tmp_path):
    make_dirs(tmp_path, "3")
    served = serving_dir.latest(str(tmp_path))
    assert served is not None and served.model_uri is None
    assert served.fingerprint() == "3:None"


def test_marker_round_trip_lives_in_assets_extra(tmp_path):
    serving_dir.write_marker(str(tmp_path), "s3://bucket/model/1")
    assert (tmp_path / MARKER_FILE).is_file() and MARKER_FILE.startswith("assets.extra")
    assert serving_dir.read_marker(str(tmp_path)) == {"model_uri": "s3://bucket/model/1"}
    assert serving_dir.read_marker(str(tmp_path / "elsewhere")) == {}


def test_fingerprint_changes_with_the_version_and_the_model():
    fingerprints = {ServedVersion(1, "p", "m").fingerprint(), ServedVersion(2, "p", "m").fingerprint(),
                    ServedVersion(1, "p", "other").fingerprint()}
    assert len(fingerprints) == 3


def test_remove_stale_staging_removes_only_staging_folders(tmp_path):
    make_dirs(tmp_path, "5", f"{STAGING_PREFIX}6/variables")
    (tmp_path / f"{STAGING_PREFIX}6" / "saved_model.pb").write_bytes(b"partial")
    removed = serving_dir.remove_stale_staging(str(tmp_path))
    assert removed == [str(tmp_path / f"{STAGING_PREFIX}6")]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["5"]
    assert serving_dir.remove_stale_staging(str(tmp_path)) == []
    assert serving_dir.remove_stale_staging(str(tmp_path / "missing")) == []
