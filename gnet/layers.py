"""Layers: Dense (with optional DropConnect) and (inverted) Dropout.

A layer's ``forward`` keeps exactly what its ``backward`` needs. Shapes:
``X`` (batch, in), ``W`` (in, out), ``b`` (out,), ``Z`` and ``A`` (batch, out).
"""

from __future__ import annotations

from typing import Any

from .activations import Activation


class Dense:
    """A = f(X W + b).

    ``weight`` and ``bias`` are arrays of the network's backend; after
    ``backward`` the gradients of the batch-mean loss are in ``dW`` and ``db``.
    """

    def __init__(self, weight: Any, bias: Any, activation: Activation, xp: Any):
        self.weight = weight
        self.bias = bias
        self.activation = activation
        self.xp = xp
        self.dW: Any = None
        self.db: Any = None
        # Kept by forward(keep=True) for backward.
        self._X: Any = None
        self._Z: Any = None
        self._A: Any = None
        self._M: Any = None  # this batch's DropConnect weight mask, if any
        self._W: Any = None  # the weights the batch used: W, or W * M

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.weight.shape[0]), int(self.weight.shape[1]))

    def forward(self, X: Any, keep: bool = False, weight_mask: Any = None) -> Any:
        """A for input X; ``keep`` stores X, Z, A for backward (training).

        ``weight_mask`` (DropConnect, Wan et al. 2013) multiplies the weights
        for this batch: Z = X (W * M) + b. It holds 0 for a dropped weight and
        1 / (1 - rate) for a kept one, so inference uses W unchanged.
        """
        W = self.weight if weight_mask is None else self.weight * weight_mask
        Z = X @ W
        Z += self.bias  # in place: one (batch, out) allocation fewer per layer
        A = self.activation.forward(self.xp, Z)
        if keep:
            self._X, self._Z, self._A, self._M, self._W = X, Z, A, weight_mask, W
        return A

    def backward(self, dA: Any = None, dZ: Any = None, need_dX: bool = True) -> Any:
        """Fill dW, db from dA (or from dZ when a fused loss gave it); return dX."""
        xp = self.xp
        if dZ is None:
            dZ = self.activation.backward(xp, self._Z, self._A, dA)
        X = self._X
        if X.shape[0] == 1:
            # At batch 1 the outer product by broadcasting is ~3x faster than matmul.
            self.dW = X.T * dZ
            self.db = dZ[0, :]
        else:
            self.dW = X.T @ dZ
            self.db = xp.sum(dZ, axis=0)
        if self._M is not None:
            self.dW *= self._M  # dL/dW = (X^T dZ) * M: a dropped weight gets no gradient
        return dZ @ self._W.T if need_dX else None


def inverted_mask(xp: Any, uniform: Any, rate: float, dtype: Any) -> Any:
    """0 where ``uniform`` < ``rate`` (dropped), 1 / (1 - rate) elsewhere (kept),
    so that the masked values keep their expectation: the mask of dropout
    (on units) and of DropConnect (on weights)."""
    return xp.astype(uniform >= rate, dtype) * (1.0 / (1.0 - rate))


class Dropout:
    """Inverted dropout: keep each unit with probability 1 - rate and scale by
    1 / (1 - rate) at training time, so inference is the identity."""

    def __init__(self, rate: float):
        self.rate = rate
        self.mask: Any = None

    def forward(self, A: Any, xp: Any, uniform: Any = None, mask: Any = None) -> Any:
        """Apply a new mask drawn from ``uniform`` (an array shaped like A of
        U[0,1) samples), or the given ``mask`` (tests use a fixed one)."""
        if mask is None:
            mask = inverted_mask(xp, uniform, self.rate, A.dtype)
        self.mask = mask
        return A * mask

    def backward(self, dA: Any) -> Any:
        return dA * self.mask
