"""Shared fixtures: every math test runs on every backend present.

Backends: NumPy; array-api-strict on its non-default Device("device1") with
boolean indexing and data-dependent shapes switched off (catches any call
outside the standard and any array created on the wrong device, the bugs
that would break CuPy); PyTorch CPU when installed; CuPy, and torch on CUDA, when a GPU is.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from datapaths import REPO, data_dir  # noqa: F401  (re-exported for older imports)

from gnet.backend import cuda_available


def _skip_unless(condition: bool, reason: str):
    return [] if condition else [pytest.mark.skip(reason=reason)]


def _torch_cuda() -> bool:
    """True when torch is installed and sees a CUDA GPU (torch is imported only
    where it is installed; a GPU machine runs the suite on torch:cuda too)."""
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


BACKENDS = [
    pytest.param("cpu", id="numpy"),
    pytest.param("strict", id="strict"),
    pytest.param(
        "torch",
        id="torch",
        marks=_skip_unless(importlib.util.find_spec("torch") is not None, "torch not installed"),
    ),
    pytest.param(
        "cuda",
        id="cupy",
        marks=_skip_unless(cuda_available(), "CuPy with a GPU not available on this machine"),
    ),
    pytest.param(
        "torch:cuda",
        id="torch-cuda",
        marks=_skip_unless(_torch_cuda(), "torch with a CUDA GPU not available on this machine"),
    ),
]


@pytest.fixture(params=BACKENDS)
def device(request) -> str:
    """A device string for each backend present (numpy, strict, torch, cupy)."""
    return request.param


def _read_idx(path: Path, offset: int) -> np.ndarray:
    return np.frombuffer(gzip.open(path).read(), np.uint8, offset=offset)


@pytest.fixture(scope="session")
def mnist():
    """Real MNIST as host arrays: ((X_train, y_train), (X_test, y_test)), X in [0, 1].

    Read here with a few lines of NumPy, independently of gnet.data.
    """
    root = data_dir() / "mnist"
    if not (root / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST files not found in {root} (set GNET_DATA_DIR)")

    def split(prefix):
        X = _read_idx(root / f"{prefix}-images-idx3-ubyte.gz", 16).reshape(-1, 784)
        y = _read_idx(root / f"{prefix}-labels-idx1-ubyte.gz", 8)
        return X.astype(np.float32) / 255.0, y.astype(np.int64)

    return split("train"), split("t10k")
