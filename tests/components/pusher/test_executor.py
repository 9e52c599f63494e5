"""components/pusher/executor.py on tmp dirs: a push is atomic, recorded once, versions increase."""

from __future__ import annotations

from pathlib import Path

from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.utils import path_utils, proto_utils

from components import serving_dir
from components.pusher import executor
from components.serving_dir import MARKER_FILE, STAGING_PREFIX
from fake_artifacts import SAVED_MODEL_FILES, artifact, read_files, write_files


class Push:
    """One call of Executor.Do with a model at `model_uri` and a blessing, into `serving`."""

    def __init__(self, tmp_path: Path, model_name: str = "model", blessed: bool = True, serving: Path | None = None):
        self.serving = serving or tmp_path / "serving"
        self.model = artifact(standard_artifacts.Model, tmp_path / model_name)
        write_files(Path(path_utils.serving_model_path(self.model.uri)), SAVED_MODEL_FILES)
        self.blessing = artifact(standard_artifacts.ModelBlessing, tmp_path / "blessing", blessed=int(blessed))
        self.pushed = artifact(standard_artifacts.PushedModel, tmp_path / f"pushed-{model_name}")

    def run(self) -> Push:
        destination = pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(self.serving)))
        executor.Executor().Do(
            {"model": [self.model], "model_blessing": [self.blessing]},
            {"pushed_model": [self.pushed]},
            {"push_destination": proto_utils.proto_to_json(destination), "custom_config": '{"code_sha256": "x"}'},
        )
        return self

    @property
    def version(self) -> int:
        return int(self.pushed.get_string_custom_property("pushed_version"))


def test_a_blessed_model_is_copied_into_its_version_with_the_marker(tmp_path):
    push = Push(tmp_path).run()
    version_dir = tmp_path / "serving" / str(push.version)
    assert push.pushed.get_int_custom_property("pushed") == 1
    assert push.pushed.get_string_custom_property("pushed_destination") == str(version_dir)
    assert serving_dir.versions(str(tmp_path / "serving")) == [push.version]
    files = read_files(version_dir)
    assert files.pop(MARKER_FILE) and files == SAVED_MODEL_FILES
    assert serving_dir.read_marker(str(version_dir)) == {"model_uri": push.model.uri}
    assert not any(path.name.startswith(STAGING_PREFIX) for path in (tmp_path / "serving").iterdir())


def test_the_pushed_model_artifact_holds_the_version_it_recorded(tmp_path):
    push = Push(tmp_path).run()
    assert read_files(Path(push.pushed.uri)) == read_files(tmp_path / "serving" / str(push.version))


def test_a_model_not_blessed_is_not_pushed(tmp_path):
    push = Push(tmp_path, blessed=False).run()
    assert push.pushed.get_int_custom_property("pushed") == 0
    assert not (tmp_path / "serving").exists() or serving_dir.versions(str(tmp_path / "serving")) == []


def test_a_stale_staging_folder_is_removed(tmp_path):
    stale = write_files(tmp_path / "serving" / f"{STAGING_PREFIX}123", {"saved_model.pb": b"half"})
    push = Push(tmp_path).run()
    assert not stale.exists()
    assert [path.name for path in (tmp_path / "serving").iterdir()] == [str(push.version)]


def test_pushing_the_model_the_newest_version_holds_records_that_version_and_copies_nothing(tmp_path):
    """A push killed after its rename left version N unrecorded: the next push of that model records N."""
    first = Push(tmp_path).run()
    version_dir = tmp_path / "serving" / str(first.version)
    (version_dir / "sentinel").write_text("left by the first push")
    again = Push(tmp_path).run()  # same model URI, a new PushedModel
    assert again.version == first.version
    assert again.pushed.get_string_custom_property("pushed_destination") == str(version_dir)
    assert serving_dir.versions(str(tmp_path / "serving")) == [first.version]
    assert (version_dir / "sentinel").read_text() == "left by the first push"  # not copied over


def test_another_model_gets_a_higher_version(tmp_path):
    first = Push(tmp_path, "model-a").run()
    second = Push(tmp_path, "model-b").run()
    assert second.version > first.version
    assert serving_dir.latest(str(tmp_path / "serving")).model_uri == second.model.uri


def test_next_version_is_the_time_or_one_more_than_the_newest(tmp_path, monkeypatch):
    monkeypatch.setattr(executor.time, "time", lambda: 1000.7)
    assert executor.next_version(str(tmp_path / "missing")) == 1000
    (tmp_path / "999").mkdir()
    assert executor.next_version(str(tmp_path)) == 1000
    (tmp_path / "5000").mkdir()
    assert executor.next_version(str(tmp_path)) == 5001


def test_versions_always_increase_even_within_one_second(tmp_path, monkeypatch):
    monkeypatch.setattr(executor.time, "time", lambda: 1000.0)
    versions = [Push(tmp_path, f"model-{index}").run().version for index in range(3)]
    assert versions == [1000, 1001, 1002]
