"""Tests for pipeline/local/download.py against a local HTTP server (no internet)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from pipeline.local.download import (
    MNIST_FILES,
    DownloadError,
    MnistFile,
    ensure_mnist,
    verify_file,
)

from conftest import REPO_ROOT

SHARED_MNIST = REPO_ROOT.parent / "shared" / "data" / "mnist"
WRONG_HASH = "0" * 64


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Server:
    """A local HTTP server; each `mirror(name)` is a sub-directory of `root`."""

    root: Path
    url: str
    requests: list[str] = field(default_factory=list)

    def mirror(self, name: str, payloads: dict[str, bytes] | None = None) -> str:
        """Create mirror directory `name` holding `payloads`; return its URL."""
        directory = self.root / name
        directory.mkdir(exist_ok=True)
        for filename, data in (payloads or {}).items():
            (directory / filename).write_bytes(data)
        return f"{self.url}{name}/"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sure urllib talks to 127.0.0.1 directly even if a proxy is set."""
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "served"
    root.mkdir()
    srv = Server(root=root, url="")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            srv.requests.append(self.path)
            if self.path.startswith("/short/"):  # promise 1000 bytes, send 10
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"x" * 10)
                return
            super().do_GET()

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.url = f"http://127.0.0.1:{httpd.server_port}/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port_url() -> str:
    """URL of a 127.0.0.1 port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def fake_dataset(check: str = "gz") -> tuple[dict[str, MnistFile], dict[str, bytes]]:
    """Two small fake MNIST-like files: (files mapping, served .gz payloads).

    With check="gz" only the .gz hash is right; with check="content" only the
    decompressed-content hash is, so each test exercises exactly one path.
    """
    files, payloads = {}, {}
    for name, content in [
        ("fake-images-idx3-ubyte.gz", b"\x00\x00\x08\x03" + bytes(range(256)) * 40),
        ("fake-labels-idx1-ubyte.gz", b"\x00\x00\x08\x01" + bytes(range(10)) * 5),
    ]:
        data = gzip.compress(content, mtime=0)
        gz_hash = sha256(data) if check == "gz" else WRONG_HASH
        content_hash = sha256(content) if check == "content" else WRONG_HASH
        files[name] = MnistFile(name, gz_hash, len(data), content_hash)
        payloads[name] = data
    return files, payloads


def leftovers(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.iterdir() if p.name.endswith(".part"))


@pytest.mark.parametrize("check", ["gz", "content"])
def test_download_success_and_checksum_accepted(server: Server, tmp_path: Path, check: str) -> None:
    files, payloads = fake_dataset(check)
    mirror = server.mirror("m1", payloads)
    data_dir = tmp_path / "new" / "data"  # does not exist yet

    paths = ensure_mnist(data_dir, mirrors=[mirror], progress=False, files=files)

    assert paths == [data_dir / name for name in files]
    for path in paths:
        assert path.read_bytes() == payloads[path.name]
        assert path.stat().st_mode & 0o777 == 0o644
    assert leftovers(data_dir) == []


def test_first_mirror_404_then_second_mirror_used(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files, payloads = fake_dataset()
    empty = server.mirror("empty")
    good = server.mirror("good", payloads)

    paths = ensure_mnist(tmp_path / "data", mirrors=[empty, good], files=files)

    assert [p.read_bytes() for p in paths] == list(payloads.values())
    for name in files:
        assert f"/empty/{name}" in server.requests
        assert f"/good/{name}" in server.requests
    failures = [line for line in capsys.readouterr().err.splitlines() if "failed" in line]
    assert len(failures) == len(files)  # one line per failed attempt
    assert all(empty in line and "404" in line for line in failures)


def test_corrupted_payload_on_all_mirrors_raises(server: Server, tmp_path: Path) -> None:
    files, payloads = fake_dataset()
    name = next(iter(files))
    not_gzip = server.mirror("m1", {name: b"<html>not the file</html>"})
    wrong_data = server.mirror("m2", {name: gzip.compress(b"wrong content")})
    data_dir = tmp_path / "data"

    with pytest.raises(DownloadError) as excinfo:
        ensure_mnist(data_dir, mirrors=[not_gzip, wrong_data], files=files)

    message = str(excinfo.value)
    assert name in message
    assert not_gzip in message and "not gzip" in message
    assert wrong_data in message and "wrong checksum" in message
    assert "Offline, copy the four MNIST files into" in message
    assert not data_dir.exists()  # no final file, no .part file, no empty folder


def test_truncated_transfer_is_rejected(server: Server, tmp_path: Path) -> None:
    files, _ = fake_dataset()
    data_dir = tmp_path / "data"

    with pytest.raises(DownloadError, match="truncated: got 10 of 1000 bytes"):
        ensure_mnist(data_dir, mirrors=[server.url + "short/"], files=files)

    assert not data_dir.exists()


def test_unreachable_mirror_falls_through(
    server: Server,
    tmp_path: Path,
    closed_port_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    files, payloads = fake_dataset()
    good = server.mirror("good", payloads)

    paths = ensure_mnist(tmp_path / "data", mirrors=[closed_port_url, good], files=files)

    assert [p.read_bytes() for p in paths] == list(payloads.values())
    assert closed_port_url in capsys.readouterr().err
    assert leftovers(tmp_path / "data") == []


def test_existing_files_are_not_downloaded_again(server: Server, tmp_path: Path) -> None:
    files, payloads = fake_dataset()
    mirror = server.mirror("m1", payloads)
    images, labels = files
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # Deliberately wrong contents: existing files are not re-verified either.
    (data_dir / images).write_bytes(b"already here")
    (data_dir / labels.removesuffix(".gz")).write_bytes(b"already decompressed")

    paths = ensure_mnist(data_dir, mirrors=[mirror], files=files)

    assert paths == [data_dir / images, data_dir / labels.removesuffix(".gz")]
    assert (data_dir / images).read_bytes() == b"already here"
    assert not (data_dir / labels).exists()
    assert server.requests == []


@pytest.mark.parametrize(
    "payload, problem",
    [
        (gzip.compress(b"other content"), "wrong checksum"),
        (b"plain text, not gzip", "not gzip"),
        (gzip.compress(b"\x00\x00\x08\x03" + bytes(range(256)) * 40)[:-20], "truncated"),
    ],
    ids=["wrong-checksum", "not-gzip", "truncated"],
)
def test_verify_file_names_file_and_problem(tmp_path: Path, payload: bytes, problem: str) -> None:
    files, _ = fake_dataset("content")
    expected = next(iter(files.values()))
    path = tmp_path / expected.name
    path.write_bytes(payload)

    with pytest.raises(DownloadError) as excinfo:
        verify_file(path, expected)

    assert expected.name in str(excinfo.value)
    assert problem in str(excinfo.value)


def test_verify_file_checks_decompressed_copy_by_content(tmp_path: Path) -> None:
    files, _ = fake_dataset("content")
    expected = files["fake-labels-idx1-ubyte.gz"]
    path = tmp_path / "fake-labels-idx1-ubyte"  # decompressed name, no .gz
    path.write_bytes(b"\x00\x00\x08\x01" + bytes(range(10)) * 5)
    verify_file(path, expected)

    path.write_bytes(b"\x00\x00\x08\x01" + bytes(10) * 5)
    with pytest.raises(DownloadError, match="wrong checksum"):
        verify_file(path, expected)


def test_verify_file_accepts_real_mnist_copies() -> None:
    for name, expected in MNIST_FILES.items():
        verify_file(SHARED_MNIST / name, expected)  # raises on failure
        # The local copy is recompressed, so acceptance came from the content
        # hash: with that hash spoiled, the same file must be rejected.
        with pytest.raises(DownloadError, match="wrong checksum"):
            verify_file(SHARED_MNIST / name, replace(expected, content_sha256=WRONG_HASH))
