"""Checking what users pass in, before any math runs on it.

Inputs may be arrays of any Array API library or anything ``numpy.asarray``
takes. Host data is moved to the network's device; an array that already
lives on a device must live on the network's, since a silent copy between
GPUs (or GPU and host) would hide a costly mistake. Every problem raises
``ValueError`` (``TypeError`` for wrong kinds of data) naming the argument.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat

from . import backend as B


def on_device(a: Any, backend: B.Backend, name: str) -> Any:
    """``a`` as an array of ``backend`` (host data is moved there)."""
    if B.is_array(a) and not B.is_array_of_host(a):
        if not B.same_device(a, backend):
            other = B.backend_of(a)
            raise ValueError(
                f"{name} is a {other.name} array on {other.device} but the network "
                f"is on {backend.name} {backend.device}; move it first "
                "(gnet.to_numpy) or build the network with that device"
            )
        return a
    try:
        return backend.asarray(B.host_array(a))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: cannot be read as a numeric array ({exc})") from exc


def features(
    X: Any,
    backend: B.Backend,
    n_inputs: int,
    dtype: Any,
    name: str = "X",
    check_finite: bool = True,
) -> Any:
    """X as finite (N, n_inputs) rows of ``dtype`` on the device.

    Images of shape (N, 28, 28) are flattened and a single row (n_inputs,)
    becomes (1, n_inputs). One host read checks for NaN and infinities
    (skipped with ``check_finite=False``, for an array already checked).
    """
    X = on_device(X, backend, name)
    xp = backend.xp
    if X.ndim > 2 and math.prod(X.shape[1:]) == n_inputs:
        X = xp.reshape(X, (X.shape[0], n_inputs))
    if X.ndim == 1 and X.shape[0] == n_inputs:
        X = xp.reshape(X, (1, n_inputs))
    if X.ndim != 2 or X.shape[1] != n_inputs:
        raise ValueError(f"{name}: expected shape (n_samples, {n_inputs}), got {tuple(X.shape)}")
    if X.shape[0] == 0:
        raise ValueError(f"{name}: no samples (shape {tuple(X.shape)})")
    if not xp.isdtype(X.dtype, ("real floating", "integral", "bool")):
        raise TypeError(f"{name}: expected real numbers, got dtype {X.dtype}")
    X = xp.astype(X, dtype, copy=False)  # no copy of data already in the dtype
    if check_finite:
        require_finite(X, name)
    return X


def require_finite(X: Any, name: str = "X") -> None:
    """Raise ValueError naming ``name`` when X holds NaN or an infinity.

    A sum is NaN or inf when any value is, and costs a third of isfinite over
    the whole set; only when it is not finite (NaN, inf, or an overflow of huge
    but finite values) does the exact test decide.
    """
    xp = array_api_compat.array_namespace(X)
    if not math.isfinite(float(xp.sum(X))) and not bool(xp.all(xp.isfinite(X))):
        raise ValueError(f"{name}: contains NaN or infinite values")


def labels(y: Any, backend: B.Backend, n_samples: int, n_classes: int, name: str = "y") -> Any:
    """Integer class labels (n_samples,) as int64 on the device.

    Accepts integer labels, integral floats, or one-hot rows (n_samples, n_classes).
    """
    y = on_device(y, backend, name)
    xp = backend.xp
    if y.ndim == 2 and y.shape[1] == n_classes and n_classes > 1:
        y = xp.argmax(y, axis=1)
    if y.ndim != 1:
        raise ValueError(
            f"{name}: expected labels of shape ({n_samples},) or one-hot rows "
            f"({n_samples}, {n_classes}), got {tuple(y.shape)}"
        )
    if y.shape[0] != n_samples:
        raise ValueError(f"{name}: {y.shape[0]} labels for {n_samples} samples in X")
    if xp.isdtype(y.dtype, "real floating"):
        if not bool(xp.all(y == xp.round(y))):
            raise ValueError(f"{name}: labels must be integers")
    elif not xp.isdtype(y.dtype, ("integral", "bool")):
        raise TypeError(f"{name}: expected integer labels, got dtype {y.dtype}")
    y = xp.astype(y, xp.int64)
    low, high = int(xp.min(y)), int(xp.max(y))
    if low < 0 or high >= n_classes:
        raise ValueError(
            f"{name}: label {low if low < 0 else high} out of range: the network has "
            f"{n_classes} classes (0..{n_classes - 1})"
        )
    return y
