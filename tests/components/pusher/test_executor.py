"""components/pusher/executor.py on tmp dirs: a push publishes only the model the Trainer wrote, is
atomic, recorded once, a compare-and-swap that compares again by the served model's figures, keeps
the best served in the marker, and versions are unique and increasing, also with several pushers
at once."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.utils import path_utils, proto_utils

from components import code_hash, model_integrity, serving_dir
from components.evaluator.settings import BASELINE_SERVED_KEY, TOLERANCE_KEY, VALIDATION_KEY
from components.model_integrity import ModelIntegrityError
from components.pusher import executor
from components.serving_dir import MARKER_FILE, NOTHING_SERVED, STAGING_PREFIX, ServedModelChanged, Validation

from support.fake_artifacts import SAVED_MODEL_FILES, artifact, read_files, write_files


class Push:
    """One call of Executor.Do with a model at `model_uri` and a blessing, into `serving`."""

    def __init__(
        self,
        tmp_path: Path,
        model_name: str = "model",
        blessed: bool = True,
        compared_with: str | None = None,
        precision: float = 0.98,
        data: str = "validation data",
    ):
        """`compared_with`: what the validation Evaluator compared the model with (default: what is
        served now); `precision`: the model's validation Precision@1 on `data`, as the Evaluator
        records it on the blessing, with the best served on that data (from the served marker)."""
        self.serving = tmp_path / "serving"
        self.model = artifact(standard_artifacts.Model, tmp_path / model_name)
        write_files(
            Path(path_utils.serving_model_path(self.model.uri)), {**SAVED_MODEL_FILES, "name": model_name.encode()}
        )
        model_integrity.record(self.model)  # as the Trainer does
        served = serving_dir.latest(str(self.serving))
        if compared_with is None:
            compared_with = serving_dir.fingerprint(served)
        best_served = served.validation.best_on(data) if served else None
        validation = Validation(data, precision, max(precision, best_served or 0))
        self.blessing = artifact(
            standard_artifacts.ModelBlessing,
            tmp_path / f"blessing-{model_name}",
            blessed=int(blessed),
            **{BASELINE_SERVED_KEY: compared_with},
        )
        self.blessing.set_json_value_custom_property(VALIDATION_KEY, validation.__dict__)
        self.blessing.set_float_custom_property(TOLERANCE_KEY, 0.01)
        self.pushed = artifact(standard_artifacts.PushedModel, tmp_path / f"pushed-{model_name}")

    def run(self) -> Push:
        destination = pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(self.serving))
        )
        executor.Executor().Do(
            {"model": [self.model], "model_blessing": [self.blessing]},
            {"pushed_model": [self.pushed]},
            {"push_destination": proto_utils.proto_to_json(destination), code_hash.CODE_KEY: "x"},
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
    recorded = model_integrity.manifest(path_utils.serving_model_path(push.model.uri))
    assert serving_dir.read_marker(str(version_dir)) == {
        "model_uri": push.model.uri,
        "model_sha256": model_integrity.digest(recorded),
        "files": recorded,
        "validation": {"data_sha256": "validation data", "precision_at_1": 0.98, "best_precision_at_1": 0.98},
    }
    assert push.pushed.get_string_custom_property("model_sha256") == model_integrity.digest(recorded)
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
    write_files(Path(path_utils.serving_model_path(first.model.uri)), {"variables/variables.index": b"new weights"})
    again = Push(tmp_path)  # the same model URI, the new weights recorded, what is served now as its baseline
    write_files(Path(path_utils.serving_model_path(again.model.uri)), {"variables/variables.index": b"new weights"})
    model_integrity.record(again.model)
    again.run()
    assert again.model.uri == first.model.uri and again.version > first.version


@pytest.mark.parametrize(
    "damage, named",
    [
        (lambda saved: (saved / "saved_model.pb").unlink(), "saved_model.pb is missing"),
        (lambda saved: shutil.rmtree(saved / "variables"), "variables/variables.index is missing"),
        (lambda saved: shutil.rmtree(saved.parent), "is missing"),
        (lambda saved: (saved / "saved_model.pb").write_bytes(b"grapH"), "saved_model.pb differs"),
    ],
    ids=["saved_model.pb deleted", "variables deleted", "model folder deleted", "a byte changed"],
)
def test_a_model_damaged_since_the_trainer_wrote_it_is_refused_and_nothing_is_published(tmp_path, damage, named):
    """`run --no-push`, then the model's files damaged, then `push RUN`."""
    push = Push(tmp_path)
    saved = Path(path_utils.serving_model_path(push.model.uri))
    damage(saved)
    with pytest.raises(ModelIntegrityError) as refused:
        push.run()
    assert str(refused.value).startswith(str(saved)) and named in str(refused.value)
    assert not (tmp_path / "serving").exists() or not list((tmp_path / "serving").iterdir())
    assert push.pushed.get_int_custom_property("pushed") == 0


def test_a_copy_damaged_on_the_way_is_not_published(tmp_path, monkeypatch):
    push = Push(tmp_path)
    copy_dir = executor.io_utils.copy_dir

    def lossy_copy(source: str, destination: str) -> None:
        copy_dir(source, destination)
        if Path(destination).name.startswith(STAGING_PREFIX):
            (Path(destination) / "saved_model.pb").write_bytes(b"grap")

    monkeypatch.setattr(executor.io_utils, "copy_dir", lossy_copy)
    with pytest.raises(ModelIntegrityError, match="saved_model.pb differs from what the Trainer wrote"):
        push.run()
    assert serving_dir.latest(str(tmp_path / "serving")) is None


def test_the_version_that_already_holds_the_model_is_checked_before_it_is_recorded(tmp_path):
    first = Push(tmp_path).run()
    (tmp_path / "serving" / str(first.version) / "saved_model.pb").write_bytes(b"damaged")
    with pytest.raises(serving_dir.DamagedVersion, match=f"served version {first.version} is damaged"):
        Push(tmp_path).run()


def test_the_marker_carries_the_best_served_on_the_same_validation_data(tmp_path):
    Push(tmp_path, "best", precision=0.99).run()
    lower = Push(tmp_path, "lower", precision=0.985).run()
    assert serving_dir.latest(str(lower.serving)).validation == Validation("validation data", 0.985, 0.99)
    other_data = Push(tmp_path, "other-data", precision=0.9, data="new validation data").run()
    assert serving_dir.latest(str(other_data.serving)).validation == Validation("new validation data", 0.9, 0.9)


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


def test_a_model_compared_with_another_than_the_one_served_now_is_compared_again_and_pushed_if_it_passes(tmp_path):
    """The compare-and-swap: another run pushed since this model was evaluated; the candidate is
    within the tolerance of the best served on its validation data, so it is published."""
    candidate = Push(tmp_path, "candidate", compared_with=NOTHING_SERVED, precision=0.985)
    other = Push(tmp_path, "other", precision=0.99).run()  # meanwhile, another run's push
    candidate.run()
    assert candidate.version > other.version
    served = serving_dir.latest(str(tmp_path / "serving"))
    assert served.model_uri == candidate.model.uri
    assert served.validation == Validation("validation data", 0.985, 0.99)  # the best stays the other's


@pytest.mark.parametrize(
    "precision, data, reason",
    [
        (
            0.979,
            "validation data",
            "this model's validation Precision@1 0.9790 is more than 0.01 below 0.9900, the best served (version {v})",
        ),
        (0.99, "other validation data", "version {v} was not evaluated on this model's validation data"),
    ],
)
def test_a_model_that_does_not_pass_against_the_model_served_since_is_refused_in_one_line(
    tmp_path, precision, data, reason
):
    candidate = Push(tmp_path, "candidate", compared_with=NOTHING_SERVED, precision=precision, data=data)
    other = Push(tmp_path, "other", precision=0.99).run()
    with pytest.raises(ServedModelChanged) as refused:
        candidate.run()
    assert str(refused.value) == (
        f"{tmp_path / 'serving'}: the served model changed since this model was compared with it "
        f"(none -> {other.version}:{other.model.uri}); {reason.format(v=other.version)}; not pushed: run again to "
        "compare with the model served now"
    )
    assert serving_dir.latest(str(tmp_path / "serving")).model_uri == other.model.uri


def test_pushers_started_at_once_get_versions_of_their_own(tmp_path, monkeypatch):
    """Two Pushers in one second, with what each compared its model with: one publishes, the other
    finds the served model changed and, on other validation data, cannot compare again; no
    version mixes the two models."""
    monkeypatch.setattr(executor.time, "time", lambda: 1000.0)
    pushes = [
        Push(tmp_path, f"model-{index}", compared_with=NOTHING_SERVED, data=f"data-{index}") for index in range(2)
    ]
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
