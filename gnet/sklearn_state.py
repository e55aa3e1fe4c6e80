"""What :class:`gnet.sklearn.GNetClassifier` shows of its network the way
scikit-learn's MLPClassifier does (``coefs_``, ``intercepts_``), and its
pickling: the network and the optimiser state travel as host NumPy arrays
with the device name, so a model fitted on a GPU unpickles on a machine
without one (it then runs on "cpu", with a warning)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted  # type: ignore[import-untyped]

from . import backend as B
from .network import Network
from .sklearn_support import map_arrays, network_from_host, network_to_host


class HostState:
    """Mixed into GNetClassifier (before ``BaseEstimator``, whose pickling
    hooks it extends); expects ``network_`` and ``_optimizer``."""

    network_: Network
    device_: str
    _optimizer: Any

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Host copies of the weight matrices, (in, out) each (for a
        convolution, (kh, kw, in, out)); the last one has a column per class,
        two for two classes."""
        check_is_fitted(self)
        return [
            np.array(B.to_numpy(layer.params["weight"]))
            for layer in self.network_.layers
            if "weight" in layer.params
        ]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Host copies of the bias vectors, (out,) each."""
        check_is_fitted(self)
        return [
            np.array(B.to_numpy(layer.params["bias"]))
            for layer in self.network_.layers
            if "bias" in layer.params
        ]

    def __getstate__(self) -> dict[str, Any]:
        """The estimator's state with the network and optimiser state on the host."""
        state: dict[str, Any] = dict(super().__getstate__())  # type: ignore[misc]
        net = state.pop("network_", None)
        if net is not None:
            state["network_"] = network_to_host(net)
        opt = state.pop("_optimizer", None)
        if opt is not None:
            host = copy.copy(opt)
            host.state = map_arrays(opt.state, lambda a: np.array(B.to_numpy(a)))
            state["_optimizer"] = host
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild the network on its device, or on "cpu" (with a warning)
        when that device is not available here."""
        state = dict(state)
        host_net = state.pop("network_", None)
        opt = state.pop("_optimizer", None)
        super().__setstate__(state)  # type: ignore[misc]
        if host_net is not None:
            self.network_ = network_from_host(host_net)
            self.device_ = self.network_.backend.spec
            if opt is not None:
                backend = self.network_.backend
                opt.state = map_arrays(opt.state, lambda a: backend.asarray(a))
                self._optimizer = opt
