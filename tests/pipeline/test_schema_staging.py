"""pipeline/schema_staging.py: the schema under a path named by its content, safe to stage concurrently."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from components.errors import PipelineError
from pipeline.fingerprint import file_sha256
from pipeline.schema_staging import stage_schema, staged_path

from conftest import REPO_ROOT

PROCESSES, ROUNDS = 6, 40
# Waits for the start file, then stages the schema into ROUNDS fresh folders, as fast as it can.
STAGER = """
import sys, time
from pathlib import Path
from pipeline.schema_staging import stage_schema
schema, out, start, rounds = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
while not start.exists():
    time.sleep(0.001)
for index in range(rounds):
    stage_schema(schema, out / str(index))
"""


@pytest.fixture
def schema(tmp_path) -> Path:
    path = tmp_path / "schema.pbtxt"
    path.write_text('feature { name: "label" type: INT }\n')
    return path


def test_the_staged_path_is_named_by_the_content(tmp_path, schema):
    staged = stage_schema(schema, tmp_path / "schemas")
    assert staged == tmp_path / "schemas" / file_sha256(schema)[:16] / "schema.pbtxt"
    assert staged == Path(staged_path(schema, tmp_path / "schemas"))
    assert staged.read_text() == schema.read_text()


def test_an_edited_schema_gets_a_new_path_and_the_old_one_stays(tmp_path, schema):
    first = stage_schema(schema, tmp_path / "schemas")
    schema.write_text('feature { name: "label" type: FLOAT }\n')
    second = stage_schema(schema, tmp_path / "schemas")
    assert second != first and first.is_file()
    assert second.read_text() == schema.read_text()


def test_staging_again_is_a_no_op(tmp_path, schema):
    first = stage_schema(schema, tmp_path / "schemas")
    modified = first.stat().st_mtime_ns
    assert stage_schema(schema, tmp_path / "schemas") == first
    assert first.stat().st_mtime_ns == modified
    assert [path.name for path in first.parent.iterdir()] == ["schema.pbtxt"]  # no temporary file left


def test_a_missing_schema_is_named(tmp_path):
    with pytest.raises(PipelineError, match=r"missing\.pbtxt: schema file not found"):
        stage_schema(tmp_path / "missing.pbtxt", tmp_path / "schemas")


def test_concurrent_stagers_in_several_processes_never_fail(tmp_path, schema):
    start = tmp_path / "start"
    stagers = [
        subprocess.Popen(
            [sys.executable, "-c", STAGER, str(schema), str(tmp_path / "out"), str(start), str(ROUNDS)],
            cwd=REPO_ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    start.touch()
    errors = [stager.communicate(timeout=120)[1] for stager in stagers]
    assert [stager.returncode for stager in stagers] == [0] * PROCESSES, errors
    for index in range(ROUNDS):
        folder = tmp_path / "out" / str(index) / file_sha256(schema)[:16]
        assert [path.name for path in folder.iterdir()] == ["schema.pbtxt"]  # no temporary file left
        assert (folder / "schema.pbtxt").read_text() == schema.read_text()
