"""Input checks of :class:`gnet.sklearn.GNetClassifier`: host data through
scikit-learn's ``validate_data``, arrays already on the estimator's device
checked in place with scikit-learn's messages ("everything follows X")."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.multiclass import (  # type: ignore[import-untyped]
    check_classification_targets,
)
from sklearn.utils.validation import (  # type: ignore[import-untyped]
    column_or_1d,
    validate_data,
)

from . import backend as B


def on_device(est: Any, X: Any, backend: B.Backend) -> bool:
    """True for an array on the estimator's (non-NumPy) device; raises for
    an array of another library or device."""
    if not B.is_array(X) or B.is_array_of_host(X):
        return False
    if B.same_device(X, backend):
        return backend.name != "numpy"
    other = B.backend_of(X)
    raise ValueError(
        f"X is a {other.name} array on {other.device} but GNetClassifier(device="
        f"{est.device!r}) computes with {backend.name} on {backend.device}; move X there "
        "(or to the host with gnet.to_numpy) or set device to match"
    )


def validate_fit(
    est: Any, X: Any, y: Any, backend: B.Backend, reset: bool
) -> tuple[Any, Any, bool]:
    """(X, y as a host label array, whether X stays on the device)."""
    stays = on_device(est, X, backend)
    if stays:
        X = check_device_array(est, X, reset)
        y = column_or_1d(host(y), warn=True)
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"[{X.shape[0]}, {y.shape[0]}]"
            )
    else:
        X, y = validate_data(
            est, X, y, reset=reset, dtype=[np.float64, np.float32], y_numeric=False
        )
    check_classification_targets(y)
    return X, y, stays


def validate_predict(est: Any, X: Any, backend: B.Backend) -> tuple[Any, bool]:
    stays = on_device(est, X, backend)
    if stays:
        return check_device_array(est, X, reset=False), True
    X = validate_data(est, X, reset=False, dtype=[np.float64, np.float32])
    return X, False


def check_device_array(est: Any, X: Any, reset: bool) -> Any:
    """Shape checks for a device array, with scikit-learn's messages.
    Dtype and finiteness are checked by the network (one sync)."""
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {X.ndim}D array instead. Reshape your data either "
            "using array.reshape(-1, 1) if your data has a single feature or "
            "array.reshape(1, -1) if it contains a single sample."
        )
    n_samples, n_features = int(X.shape[0]), int(X.shape[1])
    if n_samples < 1 or n_features < 1:
        raise ValueError(
            f"Found array with {n_samples} sample(s) and {n_features} feature(s) "
            "(shape ({n_samples}, {n_features})) while a minimum of 1 is required."
        )
    if reset:
        est.n_features_in_ = n_features
        if hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
    elif n_features != est.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(est).__name__} is expecting "
            f"{est.n_features_in_} features as input."
        )
    return X


def host(a: Any) -> Any:
    """Host data for labels: arrays of any library to NumPy, lists as they are."""
    return B.to_numpy(a) if B.is_array(a) else a


def host_or_none(a: Any) -> Any:
    return None if a is None else host(a)


def same_classes(a: Any, b: Any) -> bool:
    return bool(a.shape == b.shape and np.all(a == b))
