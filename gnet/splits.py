"""Validation splits and input statistics, shared by :func:`gnet.run` and
:class:`gnet.sklearn.GNetClassifier` (and re-exported by :mod:`gnet.data`).

Both work on host NumPy arrays and on arrays of any Array API library on
their own device: a split takes rows with ``take`` (the permutation is drawn
on the host from the seed, so a seed holds out the same rows on every
backend), and the statistics are summed in float64 a block of rows at a
time on the array's device, with two reads to the host.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_numpy_array
from array_api_compat import device as device_of

from gnet.errors import ConfigError, DataError

__all__ = ["normalization_stats", "split_indices", "train_validation_split"]


def split_indices(n: int, fraction: float, seed: Any) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows) of ``n`` samples: a random ``fraction``
    of them (rounded down) held out, from a host permutation drawn from ``seed``."""
    if isinstance(fraction, bool) or not (isinstance(fraction, (int, float)) and 0 <= fraction < 1):
        raise ConfigError(f"validation fraction must be in [0, 1), got {fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(n * fraction)
    return order[n_val:], order[:n_val]


def train_validation_split(
    X: Any, y: Any, fraction: float, seed: Any
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Hold out a random *fraction* of the samples as a validation set.

    The permutation is drawn on the host from *seed*, so the same seed gives
    the same split on every backend. ``fraction`` 0 gives an empty validation
    set. X and y may be NumPy arrays or arrays of any Array API library (each
    keeps its own library and device).
    """
    n = int(X.shape[0])
    if int(y.shape[0]) != n:
        raise DataError(f"X has {n} samples but y has {int(y.shape[0])}")
    train, val = split_indices(n, fraction, seed)
    return (_take(X, train), _take(y, train)), (_take(X, val), _take(y, val))


def _take(a: Any, rows: np.ndarray) -> Any:
    if is_numpy_array(a):
        return a[rows]
    xp = array_namespace(a)
    return xp.take(a, xp.asarray(rows, device=device_of(a)), axis=0)


def normalization_stats(X: Any, chunk_rows: int = 8192) -> tuple[float, float]:
    """Mean and standard deviation over all values of X (the training set).

    Accumulated in float64, a block of rows at a time on X's own device, so
    MNIST's 47 million pixels need neither a float32 sum (which loses digits)
    nor a 376 MB float64 copy. X is any Array API array (or anything
    ``numpy.asarray`` takes); the two results are Python floats.
    """
    if not hasattr(X, "__array_namespace__") and not is_numpy_array(X):
        X = np.asarray(X)
    xp = array_namespace(X)
    size = math.prod(int(d) for d in X.shape)
    if size == 0:
        raise DataError("normalization_stats needs at least one value")
    rows = xp.reshape(X, (int(X.shape[0]), -1)) if X.ndim > 1 else xp.reshape(X, (-1, 1))
    n = int(rows.shape[0])
    blocks = [rows[s : min(s + chunk_rows, n), :] for s in range(0, n, chunk_rows)]
    mean = float(sum(xp.sum(xp.astype(b, xp.float64)) for b in blocks)) / size
    squares = float(sum(xp.sum((xp.astype(b, xp.float64) - mean) ** 2) for b in blocks))
    return mean, math.sqrt(squares / size)
