"""components/files.py: one set of file calls for local paths (Python's own, no TensorFlow) and
URIs (tf.io.gfile; `ram://` is TensorFlow's in-memory filesystem, a URI like gs:// or s3://)."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from components import files

from conftest import REPO_ROOT


@pytest.fixture(params=["local", "uri"])
def root(request, tmp_path) -> str:
    return str(tmp_path) if request.param == "local" else f"ram://files-{uuid.uuid4().hex}"


def test_write_read_list_and_remove(root):
    files.makedirs(f"{root}/a/b")
    with files.open(f"{root}/a/b/x.json", "w") as text:
        text.write("é")
    with files.open(f"{root}/a/y.bin", "wb") as binary:
        binary.write(b"\0\1")
    with files.open(f"{root}/a/b/x.json") as text:
        assert text.read() == "é"  # UTF-8 both ways
    assert files.exists(f"{root}/a/y.bin") and not files.exists(f"{root}/a/z")
    assert files.isdir(f"{root}/a/b") and not files.isdir(f"{root}/a/y.bin")
    assert sorted(files.listdir(f"{root}/a")) == ["b", "y.bin"]  # no trailing slash on folders
    assert files.glob(f"{root}/a/*.bin") == [f"{root}/a/y.bin"]
    walked = {(top.rstrip("/"), name) for top, _, names in files.walk(f"{root}/a") for name in names}
    assert walked == {(f"{root}/a", "y.bin"), (f"{root}/a/b", "x.json")}
    files.rmtree(f"{root}/a")
    assert not files.exists(f"{root}/a")


def test_copy_keeps_what_is_there_unless_told(tmp_path):
    """Locally as gfile does (TensorFlow's ram:// appends on overwrite, unlike gs:// and s3://)."""
    root = str(tmp_path)
    for name, content in (("src", b"new"), ("dst", b"old")):
        with files.open(f"{root}/{name}", "wb") as file:
            file.write(content)
    with pytest.raises(Exception, match="already exists"):
        files.copy(f"{root}/src", f"{root}/dst")
    files.copy(f"{root}/src", f"{root}/dst", overwrite=True)
    with files.open(f"{root}/dst", "rb") as copied:
        assert copied.read() == b"new"


def test_rename_moves_a_folder(tmp_path):
    root = str(tmp_path)  # a local disk's rename; object storage has none for folders
    files.makedirs(f"{root}/staging")
    with files.open(f"{root}/staging/saved_model.pb", "wb") as file:
        file.write(b"graph")
    files.rename(f"{root}/staging", f"{root}/1")
    assert files.listdir(f"{root}/1") == ["saved_model.pb"] and not files.exists(f"{root}/staging")


def test_split_uri_is_tfx_layout():
    assert files.split_uri("/root/Examples/4", "train") == "/root/Examples/4/Split-train"


def test_local_paths_never_import_tensorflow(tmp_path):
    script = (
        "import sys; from components import files; "
        f"files.makedirs({str(tmp_path / 'a')!r}); files.listdir({str(tmp_path)!r}); "
        f"files.glob({str(tmp_path / '*')!r}); files.exists({str(tmp_path / 'a')!r}); "
        "sys.exit('tensorflow' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT).returncode == 0
