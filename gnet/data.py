"""MNIST-style data sets: IDX parsing, download and cache, splits, statistics.

Every file is treated as untrusted: it may be truncated, padded, corrupted,
swapped with another file or not an IDX file at all. Each such problem is a
one-line :class:`~gnet.errors.DataError` that names the file, never a
traceback from ``gzip``, ``zlib`` or ``struct``.

Files live in ``<data dir>/<data set>/`` (``.gz`` or uncompressed), where the
data dir is ``$GNET_DATA_DIR`` or the platform cache folder. Missing files are
downloaded with pooch from public mirrors tried in turn; a download is checked
against the known hashes while it is still pooch's temporary file, so a failed
or corrupted download never stays in the cache.

This module runs on the host only: it returns NumPy arrays, and the backend
moves them to the device once per run. The data set table lives in
:mod:`gnet.catalog`; the validation split and the input statistics (shared
by ``gnet.run`` and ``GNetClassifier``) in :mod:`gnet.splits`. Both are
re-exported here.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from gnet.catalog import DATASETS
from gnet.download import dataset_entry, default_data_dir, fetch, one_line
from gnet.errors import DataError
from gnet.splits import normalization_stats, split_indices, train_validation_split

logger = logging.getLogger(__name__)

__all__ = [
    "DATASETS",
    "default_data_dir",
    "fetch",
    "load",
    "normalization_stats",
    "read_idx",
    "split_indices",
    "train_validation_split",
]

"""Seconds pooch waits for a mirror to answer (connect or next bytes)."""

_GZIP_MAGIC = b"\x1f\x8b"

# IDX type byte (third byte of the magic number) -> big-endian element type.
_IDX_TYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801


# --------------------------------------------------------------------------- IDX


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a native-endian array.

    Compression is detected by the gzip magic bytes, not the file name, so a
    hand-decompressed file keeps working whatever it is called. The file
    must be exactly as long as its header says: a short file is truncated and
    a long one has trailing bytes, and both are errors rather than guesses.

    Nothing is trusted before it is checked: the header is read first, and
    the size it declares is checked against the file's length (raw), or
    against the most that many compressed bytes can inflate to (gzip) and
    :data:`MAX_IDX_BYTES`, before the data is read; gzip data is inflated in
    a stream that stops one byte after the declared size, so a small file
    never inflates to gigabytes.
    """
    path = Path(path).absolute()
    try:
        with path.open("rb") as raw:
            file_size = os.fstat(raw.fileno()).st_size
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if compressed:
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    return _read_stream(path, stream, file_size, compressed=True)
            return _read_stream(path, raw, file_size, compressed=False)
    except DataError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: corrupt gzip data: {one_line(exc)}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or one_line(exc)}") from None


MAX_IDX_BYTES = 1 << 31
"""Largest IDX data (after decompression) read: 2 GiB, 40x MNIST's training images."""

_MAX_GZIP_RATIO = 1032
"""deflate's largest expansion: a gzip file of n bytes never inflates past about 1032 n."""


def _read_stream(path: Path, stream: Any, file_size: int, compressed: bool) -> np.ndarray:
    """Header, size checks, then exactly the declared data (and a check for more)."""
    after = " after decompression" if compressed else ""
    head = _read_exactly(stream, 4)
    if len(head) == 4 and head[0] == 0 and head[1] == 0 and head[2] in _IDX_TYPES and head[3]:
        head += _read_exactly(stream, 4 * head[3])
    dtype, shape, header_size = _parse_header(path, head, after)
    count = math.prod(shape)
    expected = header_size + count * dtype.itemsize
    if not compressed and file_size != expected:
        problem = "truncated" if file_size < expected else "trailing bytes"
        raise DataError(
            f"{path}: {problem}: header says {_describe(shape)} ({expected} bytes) "
            f"but the file has {file_size} bytes"
        )
    most = _MAX_GZIP_RATIO * file_size + 1024
    if expected > MAX_IDX_BYTES or expected > most:
        limit = (
            "over the limit of 2 GiB" if expected > MAX_IDX_BYTES else "more than it can inflate to"
        )
        raise DataError(
            f"{path}: truncated or corrupt: header says {_describe(shape)} ({expected} bytes, "
            f"{limit}) but the file has {file_size} bytes"
        )
    array = np.empty(count, dtype=dtype)
    got = _read_into(stream, array.data.cast("B"))
    extra = len(stream.read(1)) if got == count * dtype.itemsize else 0  # gzip: checks the CRC
    if got != count * dtype.itemsize or extra:
        problem = "truncated" if not extra else "trailing bytes"
        rest = _count_rest(stream) if extra else 0
        size = header_size + got + extra + rest
        at_least = "at least " if rest >= _COUNT_LIMIT else ""
        raise DataError(
            f"{path}: {problem}: header says {_describe(shape)} ({expected} bytes) "
            f"but the file has {at_least}{size} bytes{after}"
        )
    # astype makes the array native-endian (a no-op for bytes).
    return array.astype(dtype.newbyteorder("="), copy=False).reshape(shape)


def _read_exactly(stream: Any, n: int) -> bytes:
    """Up to ``n`` bytes (fewer only at the end of the stream)."""
    parts, left = [], n
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _read_into(stream: Any, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``stream``; the number of bytes read."""
    done = 0
    while done < len(buffer):
        n = stream.readinto(buffer[done : done + (1 << 24)])
        if not n:
            break
        done += n
    return done


_COUNT_LIMIT = 1 << 26


def _count_rest(stream: Any) -> int:
    """Bytes left in ``stream`` (read in chunks and thrown away, at most _COUNT_LIMIT)."""
    total = 0
    while total < _COUNT_LIMIT:
        chunk = stream.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    return total


def _parse_header(
    path: Path, data: bytes, after: str = ""
) -> tuple[np.dtype, tuple[int, ...], int]:
    """Check the magic number and read the dimensions that follow it."""
    if len(data) < 4:
        raise DataError(f"{path}: not an IDX file: only {len(data)} bytes{after}")
    magic = int.from_bytes(data[:4], "big")
    type_code, ndim = data[2], data[3]
    if data[0] != 0 or data[1] != 0 or type_code not in _IDX_TYPES:
        raise DataError(
            f"{path}: not an IDX file: magic number 0x{magic:08x} "
            f"(expected 0x{_IMAGES_MAGIC:08x} for images or 0x{_LABELS_MAGIC:08x} for labels)"
        )
    if ndim == 0:
        raise DataError(f"{path}: bad IDX header: magic number 0x{magic:08x} gives no dimensions")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(
            f"{path}: truncated: the IDX header needs {header_size} bytes "
            f"but the file has {len(data)} bytes{after}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return _IDX_TYPES[type_code], shape, header_size


def _describe(shape: tuple[int, ...]) -> str:
    """Say what a header promises, in the words a user would use."""
    if len(shape) == 3:
        return f"{shape[0]} images of {shape[1]}x{shape[2]}"
    if len(shape) == 1:
        return f"{shape[0]} labels"
    return "an array of shape " + "x".join(str(n) for n in shape)


def load(
    name: str = "mnist",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: list[str] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load a data set as ``((X_train, y_train), (X_test, y_test))`` on the host.

    X is float32 of shape (N, H*W) scaled to [0, 1]; y is int64 of shape (N,).
    The files are checked as a set (counts match, image sizes match the data
    set, labels in range) so a swapped or mixed-up file is caught here and
    not as a strange accuracy later.
    """
    info = dataset_entry(name)
    paths = fetch(name, data_dir=data_dir, download=download, mirrors=mirrors)
    train = _load_split(paths["train_images"], paths["train_labels"], info)
    test = _load_split(paths["test_images"], paths["test_labels"], info)
    return train, test


def _load_split(
    images_path: Path, labels_path: Path, info: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Read, cross-check and convert one split's image and label files."""
    images = _read_expected(images_path, _IMAGES_MAGIC, ndim=3)
    labels = _read_expected(labels_path, _LABELS_MAGIC, ndim=1)
    height, width = info["image_shape"]
    if images.shape[1:] != (height, width):
        raise DataError(
            f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, "
            f"expected {height}x{width}"
        )
    if len(labels) != len(images):
        raise DataError(
            f"{labels_path}: has {len(labels)} labels but {images_path} has {len(images)} images"
        )
    n_classes = len(info["class_names"])
    if labels.size and labels.max() >= n_classes:
        index = int(np.argmax(labels >= n_classes))
        raise DataError(
            f"{labels_path}: label {labels[index]} at index {index} is outside 0..{n_classes - 1}"
        )
    X = images.reshape(len(images), height * width).astype(np.float32)
    X /= 255.0
    return X, labels.astype(np.int64)


def _read_expected(path: Path, magic: int, ndim: int) -> np.ndarray:
    """read_idx, plus a check that the file is the kind (images or labels) expected."""
    array = read_idx(path)
    if array.dtype != np.uint8 or array.ndim != ndim:
        kind = "images" if magic == _IMAGES_MAGIC else "labels"
        raise DataError(
            f"{Path(path).absolute()}: expected an IDX {kind} file (magic 0x{magic:08x}: "
            f"uint8, {ndim}-d) but it holds {array.dtype} data with {array.ndim} dimensions"
        )
    return array
