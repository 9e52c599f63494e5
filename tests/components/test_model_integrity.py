"""components/model_integrity.py: the Trainer records every file of its SavedModel; a model whose
files were deleted, changed or added since is refused in one line naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tfx.types import standard_artifacts

from components import model_integrity
from components.model_integrity import ModelIntegrityError

from support.fake_artifacts import SAVED_MODEL_FILES, artifact, write_files


def trained(tmp_path: Path):
    """A Model artifact whose SavedModel the Trainer wrote and recorded."""
    model = artifact(standard_artifacts.Model, tmp_path / "Trainer" / "model" / "10")
    write_files(Path(model_integrity.saved_model_dir(model)), SAVED_MODEL_FILES)
    model_integrity.record(model)
    return model


def test_the_record_holds_every_file_and_its_digest(tmp_path):
    model = trained(tmp_path)
    recorded = model_integrity.verify(model)
    assert sorted(recorded) == ["saved_model.pb", "variables/variables.index"]
    assert model.get_string_custom_property(model_integrity.DIGEST_PROPERTY) == model_integrity.digest(recorded)


@pytest.mark.parametrize(
    "damage, line",
    [
        (lambda saved: (saved / "saved_model.pb").unlink(), "{saved}/saved_model.pb is missing"),
        (lambda saved: shutil.rmtree(saved / "variables"), "{saved}/variables/variables.index is missing"),
        (lambda saved: shutil.rmtree(saved.parent), "{saved} is missing"),
        (lambda saved: (saved / "saved_model.pb").write_bytes(b"graph!"), "{saved}/saved_model.pb differs"),
        (lambda saved: (saved / "variables" / "extra").write_bytes(b""), "{saved}/variables/extra is not part of"),
    ],
    ids=["saved_model.pb deleted", "variables deleted", "model folder deleted", "a byte changed", "a file added"],
)
def test_a_damaged_model_is_refused_in_one_line_naming_the_file(tmp_path, damage, line):
    model = trained(tmp_path)
    saved = Path(model_integrity.saved_model_dir(model))
    damage(saved)
    with pytest.raises(ModelIntegrityError) as refused:
        model_integrity.verify(model)
    message = str(refused.value)
    assert message.startswith(line.format(saved=saved)) and "\n" not in message
    assert message.endswith("run again with --no-cache to train it again")


def test_a_model_the_trainer_recorded_nothing_of_is_refused(tmp_path):
    model = artifact(standard_artifacts.Model, tmp_path / "model")
    write_files(Path(model_integrity.saved_model_dir(model)), SAVED_MODEL_FILES)
    with pytest.raises(ModelIntegrityError, match="the Trainer recorded no checksums of this model's files"):
        model_integrity.verify(model)


def test_the_digest_tells_models_apart_by_any_file():
    one = {"saved_model.pb": "a", "variables/variables.index": "b"}
    assert model_integrity.digest(one) == model_integrity.digest(dict(reversed(one.items())))
    assert model_integrity.digest(one) != model_integrity.digest({**one, "assets/vocabulary": "c"})
    assert model_integrity.digest(one) != model_integrity.digest({**one, "variables/variables.index": "c"})
