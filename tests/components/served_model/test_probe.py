"""components/served_model/probe.py: ServingProbe says what the serving dir serves now, and names
what it skipped each time it looks (once per run)."""

from __future__ import annotations

import logging
from pathlib import Path

from tfx.orchestration.portable import data_types
from tfx.types import standard_artifacts

from components import probe, serving_dir
from components.code_hash import CODE_KEY
from components.served_model.probe import SERVING_DIR_KEY, Driver, Executor, ServingProbe
from components.serving_dir import NOTHING_SERVED

from support.fake_artifacts import SAVED_MODEL_FILES, VALIDATION, artifact, write_files


def serve(serving: Path, version: int, model_uri: str) -> None:
    serving_dir.write_marker(str(write_files(serving / str(version), SAVED_MODEL_FILES)), model_uri, {}, VALIDATION)


def driver_answer(serving: Path) -> str:
    info = data_types.ExecutionInfo(exec_properties={SERVING_DIR_KEY: str(serving)})
    return Driver(metadata_handle=None).run(info).exec_properties[probe.SEEN_KEY].string_value


def test_the_driver_answer_follows_what_is_served(tmp_path):
    serving = tmp_path / "serving"
    assert driver_answer(serving) == NOTHING_SERVED
    serve(serving, 5, "/model/a")
    assert driver_answer(serving) == "5:/model/a"
    assert driver_answer(serving) == "5:/model/a"  # the same served model: the same cache key
    serve(serving, 6, "/model/b")
    assert driver_answer(serving) == "6:/model/b"


def test_the_executor_outputs_the_same_answer(tmp_path):
    serve(tmp_path / "serving", 5, "/model/a")
    value = artifact(standard_artifacts.String, tmp_path / "value")
    Executor().Do({}, {probe.VALUE_KEY: [value]}, {SERVING_DIR_KEY: str(tmp_path / "serving"), "code_sha256": "x"})
    assert (tmp_path / "value").read_text() == "5:/model/a"


def test_it_has_the_probe_driver_and_outputs_a_string():
    component = ServingProbe(serving_dir="/serving", code_sha256="abc")
    assert component.exec_properties == {SERVING_DIR_KEY: "/serving", CODE_KEY: "abc"}
    assert component.outputs[probe.VALUE_KEY].type is standard_artifacts.String
    assert ServingProbe.DRIVER_CLASS is Driver and ServingProbe.EXECUTOR_SPEC.executor_class is Executor


def test_each_look_names_the_entries_it_skipped(tmp_path, caplog):
    """The probe looks once per run: two runs in one process (a notebook, the tests) each get the line."""
    serving = tmp_path / "serving"
    serve(serving, 5, "/model/a")
    (serving / "99999999999999999999").mkdir()
    with caplog.at_level(logging.INFO):
        assert driver_answer(serving) == "5:/model/a"
        assert driver_answer(serving) == "5:/model/a"
    line = f"Warning: {serving}: skipped 99999999999999999999 (beyond int64, which TF Serving ignores)"
    assert [record.getMessage() for record in caplog.records] == [line, line]
