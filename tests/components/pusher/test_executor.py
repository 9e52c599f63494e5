"""components/pusher/executor.py on tmp dirs: a push is atomic, recorded once, a compare-and-swap,
and versions are unique and increasing, also with several pushers at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.utils import path_utils, proto_utils

from components import serving_dir
from components.evaluator.executor import BASELINE_SERVED_KEY
from components.pusher import executor
from components.serving_dir import MARKER_FILE, NOTHING_SERVED, STAGING_PREFIX, ServedModelChanged

from fake_artifacts import SAVED_MODEL_FILES, artifact, read_files, write_files


class Push:
    """One call of Executor.Do with a model at `model_uri` and a blessing, into `serving`."""

    def __init__(
        self, tmp_path: Path, model_name: str = "model", blessed: bool = True, compared_with: str | None = None
    ):
        """`compared_with`: what the validation Evaluator compared the model with (default: what is served now)."""
        self.serving = tmp_path / "serving"
        self.model = artifact(standard_artifacts.Model, tmp_path / model_name)
        write_files(
            Path(path_utils.serving_model_path(self.model.uri)), {**SAVED_MODEL_FILES, "name": model_name.encode()}
        )
        if compared_with is None:
            compared_with = serving_dir.fingerprint(serving_dir.latest(str(self.serving)))
        self.blessing = artifact(
            standard_artifacts.ModelBlessing,
            tmp_path / f"blessing-{model_name}",
            blessed=int(blessed),
            **{BASELINE_SERVED_KEY: compared_with},
        )
        self.pushed = artifact(standard_artifacts.PushedModel, tmp_path / f"pushed-{model_name}")

    def run(self) -> Push:
        destination = pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(self.serving))
        )
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
    assert [served.version for served in serving_dir.complete_versions(str(tmp_path / "serving"))] == [push.version]
    files = read_files(version_dir)
    assert files.pop(MARKER_FILE) and files == {**SAVED_MODEL_FILES, "name": b"model"}
    assert serving_dir.read_marker(str(version_dir)) == {
        "model_uri": push.model.uri,
        "model_sha256": serving_dir.model_digest(path_utils.serving_model_path(push.model.uri)),
    }
    assert not any(path.name.startswith(STAGING_PREFIX) for path in (tmp_path / "serving").iterdir())


def test_the_pushed_model_artifact_holds_the_version_it_recorded(tmp_path):
    push = Push(tmp_path).run()
    assert read_files(Path(push.pushed.uri)) == read_files(tmp_path / "serving" / str(push.version))


def test_a_model_not_blessed_is_not_pushed(tmp_path):
    push = Push(tmp_path, blessed=False).run()
    assert push.pushed.get_int_custom_property("pushed") == 0
    assert serving_dir.latest(str(tmp_path / "serving")) is None


def test_what_a_dead_push_left_is_removed(tmp_path):
    stale = write_files(tmp_path / "serving" / f"{STAGING_PREFIX}123", {"saved_model.pb": b"half"})
    half_published = write_files(tmp_path / "serving" / "123", {"variables/variables.index": b"index"})
    push = Push(tmp_path).run()
    assert not stale.exists() and not half_published.exists()
    assert sorted(path.name for path in (tmp_path / "serving").iterdir()) == [".publish.lock", str(push.version)]


def test_pushing_the_model_the_newest_version_holds_records_that_version_and_copies_nothing(tmp_path):
    """A push killed after its rename left version N unrecorded: the next push of that model records N."""
    first = Push(tmp_path).run()
    version_dir = tmp_path / "serving" / str(first.version)
    (version_dir / "sentinel").write_text("left by the first push")
    again = Push(tmp_path).run()  # same model URI, a new PushedModel
    assert again.version == first.version
    assert again.pushed.get_string_custom_property("pushed_destination") == str(version_dir)
    assert [served.version for served in serving_dir.complete_versions(str(tmp_path / "serving"))] == [first.version]
    assert (version_dir / "sentinel").read_text() == "left by the first push"  # not copied over


def test_another_model_at_the_same_uri_is_not_taken_for_the_served_one(tmp_path):
    """A store that was lost reuses execution ids, so a new model can lie where the served one came from."""
    first = Push(tmp_path).run()
    again = Push(tmp_path)  # the same model URI, and what is served now as its baseline
    write_files(Path(path_utils.serving_model_path(again.model.uri)), {"variables/variables.index": b"new weights"})
    again.run()
    assert again.model.uri == first.model.uri and again.version > first.version


def test_another_model_gets_a_higher_version(tmp_path):
    first = Push(tmp_path, "model-a").run()
    second = Push(tmp_path, "model-b").run()
    assert second.version > first.version
    assert serving_dir.latest(str(tmp_path / "serving")).model_uri == second.model.uri


def test_next_version_is_the_time_or_one_more_than_the_highest_number(monkeypatch):
    monkeypatch.setattr(executor.time, "time", lambda: 1000.7)
    assert executor.next_version(None) == 1000
    assert executor.next_version(999) == 1000
    assert executor.next_version(5000) == 5001


def test_versions_always_increase_even_within_one_second(tmp_path, monkeypatch):
    monkeypatch.setattr(executor.time, "time", lambda: 1000.0)
    versions = [Push(tmp_path, f"model-{index}").run().version for index in range(3)]
    assert versions == [1000, 1001, 1002]


def test_a_model_compared_with_another_than_the_one_served_now_is_not_pushed(tmp_path):
    """The compare-and-swap: another run pushed since this model was evaluated."""
    candidate = Push(tmp_path, "candidate", compared_with=NOTHING_SERVED)  # evaluated when nothing was served
    other = Push(tmp_path, "other").run()  # meanwhile, another run's push
    with pytest.raises(ServedModelChanged) as refused:
        candidate.run()
    assert (
        f"changed since this model was compared with it (none -> {other.version}:{other.model.uri}); "
        "not pushed: run again" in str(refused.value)
    )
    assert serving_dir.latest(str(tmp_path / "serving")).model_uri == other.model.uri


def test_pushers_started_at_once_get_versions_of_their_own(tmp_path, monkeypatch):
    """Two Pushers in one second, with what each compared its model with: one publishes, the other
    finds the served model changed; no version mixes the two models."""
    monkeypatch.setattr(executor.time, "time", lambda: 1000.0)
    pushes = [Push(tmp_path, f"model-{index}", compared_with=NOTHING_SERVED) for index in range(2)]
    errors: list[BaseException] = []

    def run(push: Push) -> None:
        try:
            push.run()
        except ServedModelChanged as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(push,)) for push in pushes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    [served] = serving_dir.complete_versions(str(tmp_path / "serving"))
    assert served.version == 1000 and len(errors) == 1
    winner = next(push for push in pushes if push.model.uri == served.model_uri)
    assert read_files(Path(served.path))["name"] == Path(winner.model.uri).name.encode()


def test_pushers_that_compared_with_the_same_model_in_turn_get_increasing_versions(tmp_path, monkeypatch):
    monkeypatch.setattr(executor.time, "time", lambda: 1000.0)
    first = Push(tmp_path, "model-a").run()
    second = Push(tmp_path, "model-b").run()
    assert (first.version, second.version) == (1000, 1001)
