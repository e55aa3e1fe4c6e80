"""Each rank's shard of a data set for :mod:`gnet.distributed`.

A rank reads only the file rows ``rank*n//N : (rank+1)*n//N`` of each split:
memory-mapped from a raw (uncompressed) IDX file, so only those pages are
ever read, or decompressed from a ``.gz`` file as a stream that keeps only
those rows (the bytes before them are decompressed and dropped). Store the
IDX files uncompressed (``gunzip``) for large data sets.

The validation split and the training order are those of one process
(:func:`gnet.splits.split_indices` over all rows, from the seed), so the
training rows a rank holds are the ones of its file rows that the split
keeps for training.
"""

from __future__ import annotations

import gzip
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import data
from .distributed import Comm, Plan, collective
from .errors import ConfigError, DataError
from .splits import split_indices

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class ShardedData:
    """This rank's rows of the training, validation and test sets (host float32
    in [0, 1] and int64 labels) and the sizes of the whole sets."""

    X: np.ndarray
    y: np.ndarray
    validation: tuple[np.ndarray, np.ndarray] | None
    X_test: np.ndarray
    y_test: np.ndarray
    n_train: int
    n_validation: int
    n_test: int
    plan: Plan


def load_sharded(
    comm: Comm,
    name: str,
    data_dir: str | os.PathLike[str] | None,
    download: bool,
    limit: int | tuple[int | None, int | None] | None,
    validation_split: float,
    seed: int,
) -> ShardedData:
    """This rank's shard of data set ``name`` (``limit``: first rows of each split)."""
    info = data.DATASETS[name] if name in data.DATASETS else None
    if info is None:
        raise collective(ConfigError(f"unknown data set {name!r}"))
    if comm.is_root:  # one download, then the others find the files
        paths = data.fetch(name, data_dir=data_dir, download=download)
    comm.barrier()
    if not comm.is_root:
        paths = data.fetch(name, data_dir=data_dir, download=False)
    n_train_limit, n_test_limit = limit if isinstance(limit, tuple) else (limit, limit)
    train = _Split(paths["train_images"], paths["train_labels"], info, n_train_limit)
    test = _Split(paths["test_images"], paths["test_labels"], info, n_test_limit)

    n = train.n
    if validation_split:
        train_rows, val_rows = split_indices(n, validation_split, seed)
        if val_rows.size == 0:
            raise collective(
                ConfigError(
                    f"validation_split {validation_split:g}: leaves no validation images out of {n}"
                )
            )
    else:
        train_rows, val_rows = np.arange(n), np.zeros(0, dtype=np.int64)
    lo, hi = comm.shard(n)
    X_rows, y_rows = train.read(lo, hi)
    owned = np.flatnonzero((train_rows >= lo) & (train_rows < hi))
    local = train_rows[owned] - lo
    X, y = X_rows[local], y_rows[local]
    validation = None
    if val_rows.size:
        mine = val_rows[(val_rows >= lo) & (val_rows < hi)] - lo
        validation = (X_rows[mine], y_rows[mine])
    t_lo, t_hi = comm.shard(test.n)
    X_test, y_test = test.read(t_lo, t_hi)
    return ShardedData(
        X=X,
        y=y,
        validation=validation,
        X_test=X_test,
        y_test=y_test,
        n_train=int(train_rows.size),
        n_validation=int(val_rows.size),
        n_test=test.n,
        plan=Plan(comm, int(train_rows.size), owned, int(val_rows.size)),
    )


class _Split:
    """One split's image and label files, checked as data.load checks them."""

    def __init__(self, images: Path, labels: Path, info: dict[str, Any], limit: int | None):
        self.images, self.labels = _IdxRows(images), _IdxRows(labels)
        height, width = info["image_shape"]
        if self.images.dtype != np.uint8 or len(self.images.shape) != 3:
            raise DataError(f"{images}: expected an IDX images file (uint8, 3-d)")
        if self.labels.dtype != np.uint8 or len(self.labels.shape) != 1:
            raise DataError(f"{labels}: expected an IDX labels file (uint8, 1-d)")
        if self.images.shape[1:] != (height, width):
            raise DataError(
                f"{images}: images are {self.images.shape[1]}x{self.images.shape[2]}, "
                f"expected {height}x{width}"
            )
        if self.labels.shape[0] != self.images.shape[0]:
            raise DataError(
                f"{labels}: has {self.labels.shape[0]} labels but {images} has "
                f"{self.images.shape[0]} images"
            )
        self.n = self.images.shape[0] if not limit else min(limit, self.images.shape[0])
        self.classes = len(info["class_names"])

    def read(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        images = self.images.read(lo, hi)
        labels = self.labels.read(lo, hi)
        if labels.size and int(labels.max()) >= self.classes:
            index = int(np.argmax(labels >= self.classes))
            raise DataError(
                f"{self.labels.path}: label {labels[index]} at index {lo + index} is outside "
                f"0..{self.classes - 1}"
            )
        X = images.reshape(hi - lo, -1).astype(np.float32)
        X /= 255.0
        return X, labels.astype(np.int64)


class _IdxRows:
    """An IDX file's header, and rows lo:hi read without reading the rest."""

    def __init__(self, path: Path):
        self.path = Path(path).absolute()
        try:
            with open(self.path, "rb") as f:
                self.compressed = f.read(2) == _GZIP_MAGIC
            opener: Any = gzip.open if self.compressed else open
            with opener(self.path, "rb") as f:
                head = f.read(4)
                ndim = head[3] if len(head) == 4 else 0
                head += f.read(4 * ndim)
        except (OSError, EOFError) as exc:
            raise DataError(f"{self.path}: cannot read: {exc}") from None
        dtype, shape, self.header = data._parse_header(self.path, head)
        self.dtype, self.shape = dtype, shape
        self.row_bytes = math.prod(shape[1:]) * dtype.itemsize
        if not self.compressed:
            expected = self.header + shape[0] * self.row_bytes
            actual = self.path.stat().st_size
            if actual != expected:
                problem = "truncated" if actual < expected else "trailing bytes"
                raise DataError(
                    f"{self.path}: {problem}: header says {expected} bytes but the file has "
                    f"{actual} bytes"
                )

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Rows lo:hi, native-endian, as an array this caller owns."""
        shape = (hi - lo, *self.shape[1:])
        if hi <= lo:
            return np.zeros(shape, dtype=self.dtype.newbyteorder("="))
        if not self.compressed:
            mapped = np.memmap(
                self.path,
                dtype=self.dtype,
                mode="r",
                offset=self.header + lo * self.row_bytes,
                shape=shape,
            )
            return np.array(mapped, dtype=self.dtype.newbyteorder("="))
        try:
            with gzip.open(self.path, "rb") as f:
                f.seek(self.header + lo * self.row_bytes)
                raw = f.read((hi - lo) * self.row_bytes)
        except (OSError, EOFError) as exc:
            raise DataError(f"{self.path}: corrupt gzip data: {exc}") from None
        if len(raw) != (hi - lo) * self.row_bytes:
            raise DataError(f"{self.path}: truncated: rows {lo}:{hi} are not all in the file")
        return (
            np.frombuffer(raw, dtype=self.dtype).reshape(shape).astype(self.dtype.newbyteorder("="))
        )
