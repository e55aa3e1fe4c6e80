"""Hyperparameters of :class:`gnet.sklearn.GNetClassifier` as the library
takes them, and the estimator's validation split.

scikit-learn's search tools hand an estimator NumPy scalars: a grid built
with ``np.arange`` holds ``np.int64`` / ``np.float64`` values, and
``RandomizedSearchCV`` draws ``scipy.stats`` samples (``randint`` gives
``np.int64``, ``uniform`` ``np.float64``). scikit-learn's own estimators take
anything ``numbers.Integral`` / ``numbers.Real``; gnet's network, optimiser
and epoch loop check for Python ``int`` / ``float``. :func:`plain` turns
every number (at any depth of a layer-spec list) into the Python type it
stands for before the estimator passes it on, so ``batch_size=np.int64(32)``
and ``learning_rate=np.float32(0.01)`` mean what 32 and 0.01 mean.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
from array_api_compat import array_namespace, is_numpy_array
from array_api_compat import device as device_of
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

from .errors import ConfigError

__all__ = ["hyperparameters", "plain", "train_dtype", "validation_split"]


def plain(value: Any) -> Any:
    """``value`` with NumPy (and other ``numbers``) scalars as Python ones:
    ``numbers.Integral`` to int, ``numbers.Real`` to float, ``np.bool_`` to
    bool, ``np.str_`` to str; lists, tuples, dicts and 1-d NumPy arrays
    element by element (an array becomes a tuple). Anything else is returned
    as it is, for the library's own checks to judge."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.str_):
        return str(value)
    if isinstance(value, np.ndarray):
        return plain(value.item()) if value.ndim == 0 else tuple(plain(v) for v in value.tolist())
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def hyperparameters(est: Any) -> dict[str, Any]:
    """The estimator's ``get_params(deep=False)`` through :func:`plain` (the
    estimator's own attributes are left as the user set them)."""
    params: dict[str, Any] = {k: plain(v) for k, v in est.get_params(deep=False).items()}
    return params


def train_dtype(dtype: Any, X: Any) -> Any:
    """The dtype the network computes in: ``dtype`` when given, else X's:
    "float32" for float32 X and "float64" for anything else, which is what
    scikit-learn's validation makes of host data (it keeps float32 and
    float64 and converts the rest, ints included, to float64)."""
    if dtype is not None:
        return dtype
    if is_numpy_array(X):
        return "float32" if X.dtype == np.float32 else "float64"
    xp = array_namespace(X)
    return "float32" if X.dtype == xp.float32 else "float64"


def validation_split(
    X: Any, y_index: Any, labels: Any, fraction: Any, seed: int
) -> tuple[Any, Any, tuple[Any, Any]]:
    """Hold out ``fraction`` of the samples for early stopping, stratified by
    ``labels`` (host, one per row) as scikit-learn's MLPClassifier does it,
    with :func:`sklearn.model_selection.train_test_split` and
    ``random_state=seed``; X keeps its device. A class with a single sample
    is scikit-learn's ValueError ("The least populated classes in y have
    only 1 member ..."), and so is a validation set under 2 samples.
    Returns (X_train, y_train, (X_val, y_val))."""
    if isinstance(fraction, bool) or not (
        isinstance(fraction, (int, float)) and 0.0 < fraction < 1.0
    ):
        raise ConfigError(f"validation_fraction: must be in [0, 1), got {fraction!r}")
    n = int(X.shape[0])
    train, val = train_test_split(
        np.arange(n), test_size=fraction, random_state=seed, stratify=labels
    )
    if val.shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the size "
            f"of your dataset ({val.shape[0]} of {n} samples held out with "
            f"validation_fraction={fraction})."
        )
    return (
        take_rows(X, train),
        take_rows(y_index, train),
        (take_rows(X, val), take_rows(y_index, val)),
    )


def take_rows(a: Any, rows: np.ndarray) -> Any:
    """Rows of a host or device array, the result on the array's device."""
    if is_numpy_array(a):
        return a[rows]
    xp = array_namespace(a)
    return xp.take(a, xp.asarray(rows, device=device_of(a)), axis=0)
