"""Make sure the four MNIST IDX files are present in a local data directory.

Missing files are downloaded from public mirrors (tried in turn) into a
temporary file next to their final name, verified by SHA-256, and only then
renamed into place, so a partial download never appears under the real name.
`mnist-pipeline download` and `mnist-pipeline run --download` call ensure_mnist.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from components.errors import PipelineError

MIRRORS: tuple[str, ...] = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
TIMEOUT_SECONDS = 30.0
CHUNK_SIZE = 1024 * 1024  # 1 MiB
# Some mirrors refuse the default "Python-urllib/x.y" user agent.
USER_AGENT = "Mozilla/5.0 (compatible; mnist-pipeline-download)"


class DownloadError(PipelineError):
    """A file could not be downloaded or failed verification."""


@dataclass(frozen=True)
class MnistFile:
    """One MNIST file: its .gz name, the mirrors' .gz SHA-256 and size in
    bytes, and the SHA-256 of its decompressed content."""

    name: str
    gz_sha256: str
    size: int
    content_sha256: str


MNIST_FILES: dict[str, MnistFile] = {
    f.name: f
    for f in (
        MnistFile(
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            9_912_422,
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ),
        MnistFile(
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            28_881,
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        MnistFile(
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            1_648_877,
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        MnistFile(
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            4_542,
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    )
}


def _sha256(stream: IO[bytes]) -> str:
    """SHA-256 hex digest of everything left in a binary stream."""
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK_SIZE):
        digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, expected: MnistFile) -> None:
    """Raise DownloadError unless `path` holds the MNIST file `expected`.

    A .gz file is accepted when its own SHA-256 is the mirrors' published one
    or when its decompressed content has the canonical SHA-256 (recompressed
    copies). A file named like the decompressed file (no `.gz`) is checked by
    content hash only. Any other name (e.g. a `.part` file) is read as gzip.
    """
    where = f"{expected.name} ({path})"
    if not path.is_file():
        raise DownloadError(f"{where}: file not found")

    if path.name == expected.name.removesuffix(".gz"):
        with path.open("rb") as f:
            actual = _sha256(f)
        if actual != expected.content_sha256:
            raise DownloadError(
                f"{where}: wrong checksum: expected content sha256 {expected.content_sha256}, got {actual}"
            )
        return

    with path.open("rb") as f:
        gz_actual = _sha256(f)
    if gz_actual == expected.gz_sha256:
        return
    try:
        with gzip.open(path, "rb") as f:
            content_actual = _sha256(f)  # type: ignore[arg-type]  # a GzipFile reads bytes like IO[bytes]
    except EOFError:
        raise DownloadError(f"{where}: truncated (gzip stream ends early)") from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise DownloadError(f"{where}: not gzip or corrupt gzip data ({e})") from None
    if content_actual != expected.content_sha256:
        raise DownloadError(
            f"{where}: wrong checksum: expected gz sha256 {expected.gz_sha256} "
            f"or content sha256 {expected.content_sha256}, got gz sha256 "
            f"{gz_actual} and content sha256 {content_actual}"
        )


def _fetch(url: str, out: IO[bytes], name: str, live: bool) -> int:
    """Stream `url` into `out`; return the number of bytes written. With `live`, tqdm's progress
    bar on stderr."""
    from tqdm import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    done = 0
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with tqdm(total=total, desc=name, unit="B", unit_scale=True, disable=not live, file=sys.stderr) as bar:
            while chunk := response.read(CHUNK_SIZE):
                out.write(chunk)
                done += len(chunk)
                bar.update(len(chunk))
    if total is not None and done != total:
        raise DownloadError(f"{name}: truncated: got {done} of {total} bytes")
    return done


def _download(expected: MnistFile, dest: Path, mirrors: Sequence[str], progress: bool) -> None:
    """Download `expected` to `dest` from the first mirror that works."""
    live = progress and sys.stderr.isatty()
    errors: list[tuple[str, str]] = []  # (url, what went wrong)
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + expected.name
        tmp = tempfile.NamedTemporaryFile(dir=dest.parent, delete=False, prefix=".", suffix=".part")
        tmp_path = Path(tmp.name)
        try:
            with tmp:
                size = _fetch(url, tmp, expected.name, live)
            verify_file(tmp_path, expected)
            os.chmod(tmp_path, 0o644)  # NamedTemporaryFile creates it 0600
            os.replace(tmp_path, dest)
        except (OSError, http.client.HTTPException, DownloadError, ValueError) as e:
            # OSError covers urllib's URLError/HTTPError, refused connections
            # and timeouts; HTTPException covers e.g. a dropped connection.
            message = " ".join(str(e).split()) or type(e).__name__
            errors.append((url, message))
            continue
        finally:
            tmp_path.unlink(missing_ok=True)  # already gone after os.replace
        for failed_url, message in errors:  # said once: here when another mirror worked, else in the error
            print(f"{failed_url}: failed: {message}", file=sys.stderr)
        if not live:
            print(f"{expected.name}  {size / 1e6:.1f} MB from {url}", file=sys.stderr)
        return
    raise DownloadError(
        f"{expected.name}: none of the {len(errors)} mirrors worked "
        f"({'; '.join(f'{url}: {message}' for url, message in errors)}). "
        f"Offline, copy the four MNIST files into {dest.parent} or point at a folder that has "
        "them (--data-dir DIR, or `make run DATA_DIR=DIR`)"
    )


def ensure_mnist(
    data_dir: Path,
    mirrors: Sequence[str] = MIRRORS,
    progress: bool = True,
    files: Mapping[str, MnistFile] = MNIST_FILES,
) -> list[Path]:
    """Return the paths of the MNIST files in `data_dir`, downloading missing ones.

    A file already present, as `.gz` or decompressed (name without `.gz`), is
    left alone and not re-verified. Raises DownloadError if a missing file
    cannot be downloaded and verified from any mirror.
    """
    data_dir = Path(data_dir)
    created = [folder for folder in (data_dir, *data_dir.parents) if not folder.exists()]  # innermost first
    data_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    try:
        for expected in files.values():
            gz_path = data_dir / expected.name
            raw_path = data_dir / expected.name.removesuffix(".gz")
            if gz_path.exists():
                paths.append(gz_path)
            elif raw_path.exists():
                paths.append(raw_path)
            else:
                _download(expected, gz_path, mirrors, progress)
                paths.append(gz_path)
    except DownloadError:
        for folder in created:  # leave no empty folder behind to be mistaken for the data
            if any(folder.iterdir()):
                break
            folder.rmdir()
        raise
    return paths
