"""Small synthetic MNIST-shaped IDX files that tests write themselves (the tutorial's fake_data),
and pictures for `predict`."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

IMAGE_SHAPE = (28, 28)
# MNIST's file names by role (configs/pipeline.yaml's defaults; each may also be NAME.gz).
FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_bytes(array: np.ndarray, magic: bytes | None = None) -> bytes:
    """The IDX encoding of a uint8 array; `magic` replaces the 4 magic bytes when given."""
    header = magic if magic is not None else struct.pack(">HBB", 0, 0x08, array.ndim)
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool = True, magic: bytes | None = None) -> Path:
    """Writes `array` as an IDX file, gzip-compressed when `compress`."""
    data = idx_bytes(array, magic)
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def fake_images(labels: np.ndarray, seed: int) -> np.ndarray:
    """Noisy images with a bright row at the label's position, so that a model can learn them."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 64, size=(len(labels), *IMAGE_SHAPE), dtype=np.uint8)
    images[np.arange(len(labels)), 2 * labels.astype(int) + 4, :] = 255
    return images


def balanced_labels(count: int, seed: int, num_classes: int = 10) -> np.ndarray:
    """Labels 0..num_classes-1, shuffled within blocks of num_classes: every split that starts at
    0 and spans whole blocks has exactly the same mix of labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % num_classes
    for start in range(0, count, num_classes):
        rng.shuffle(labels[start : start + num_classes])
    return labels.astype(np.uint8)


def write_large_fake_mnist(directory: Path, train_count: int, test_count: int, chunk: int = 10_000) -> None:
    """Uncompressed MNIST-named IDX files of any size (the benchmark's scaling runs), written
    chunk by chunk in bounded memory: the same images as fake_images draws, labels balanced."""
    directory.mkdir(parents=True)
    for source, count, seed in (("train", train_count, 1), ("test", test_count, 2)):
        labels = balanced_labels(count, seed)
        write_idx(directory / FILE_NAMES[f"{source}_labels"], labels, compress=False)
        with (directory / FILE_NAMES[f"{source}_images"]).open("wb") as images:
            images.write(struct.pack(">HBB3I", 0, 0x08, 3, count, *IMAGE_SHAPE))  # the IDX header
            for start in range(0, count, chunk):
                images.write(fake_images(labels[start : start + chunk], seed=seed + start).tobytes())


def write_fake_mnist(
    directory: Path,
    train_count: int = 600,
    test_count: int = 200,
    compress: bool = True,
    test_labels: np.ndarray | None = None,
) -> dict[str, Path]:
    """Writes the four MNIST files with MNIST's names; returns their paths by role."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    train_labels = balanced_labels(train_count, seed=1)
    if test_labels is None:
        test_labels = balanced_labels(test_count, seed=2)
    arrays = {
        "train_images": fake_images(train_labels, seed=3),
        "train_labels": train_labels,
        "test_images": fake_images(test_labels, seed=4),
        "test_labels": test_labels,
    }
    return {role: write_idx(directory / (FILE_NAMES[role] + suffix), array, compress) for role, array in arrays.items()}


def png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that says it holds width x height grey pixels and holds none: opening it reads only
    this header, decoding it fails."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")))
    return path
