"""Losses over a batch: value and gradient side by side.

``A`` is the network output and ``Y`` the one-hot targets, both of shape
(batch, classes). Losses are averaged over the batch, so a learning rate
means the same at every batch size; ``per_sample`` gives each row's loss
(batch,) and ``total`` the batch *sum*, so the
training loop can accumulate an epoch mean without reading the device.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .backend import Array
from .errors import ConfigError

# Keeps the gradient -y/p finite when a probability underflows to zero.
_EPS = 1e-12


@dataclass(frozen=True)
class Loss:
    name: str
    per_sample: Callable[[Any, Any, Any], Any]
    gradient: Callable[[Any, Any, Any], Any]
    # The output activation whose Jacobian this loss cancels: with it, dZ of
    # the last layer is ``gradient`` directly (e.g. softmax + cross-entropy:
    # dZ = (P - Y) / B).
    fused_with: str | None = None
    fused_gradient: Callable[..., Any] | None = None  # (xp, A, Y, scale=1.0) -> dZ
    # per_sample for one-hot targets given as integer labels y, when that is
    # cheaper than going through Y (cross-entropy reads one column per row).
    of_labels: Callable[[Any, Any, Any], Any] | None = None
    # per_sample and of_labels from the logits Z of the fused output activation:
    # log-softmax (logsumexp minus the true logit) stays finite where the
    # probability itself underflows (CuPy flushes float32 subnormals to zero).
    of_logits: Callable[[Any, Any, Any], Any] | None = None
    of_logits_and_labels: Callable[[Any, Any, Any], Any] | None = None

    def total(self, xp: Any, A: Any, Y: Any, logits: bool = False) -> Any:
        """The summed loss of the batch, a 0-d array; ``logits``: A holds the
        fused output activation's inputs Z, not its outputs."""
        if logits and self.of_logits is not None:
            return xp.sum(self.of_logits(xp, A, Y))
        return xp.sum(self.per_sample(xp, A, Y))

    def per_sample_of_labels(self, xp: Any, A: Any, y: Any, Y: Any, logits: bool = False) -> Any:
        """Each row's loss against labels ``y`` (int, (batch,)) whose one-hot
        rows are ``Y``: the same values as ``per_sample(xp, A, Y)``."""
        if logits and self.of_logits_and_labels is not None:
            return self.of_logits_and_labels(xp, A, y)
        if self.of_labels is not None:
            return self.of_labels(xp, A, y)
        return self.per_sample(xp, A, Y)


def _cross_entropy(xp: Any, P: Array, Y: Array) -> Array:
    # -log p exactly: +inf where a true class's probability underflowed to 0,
    # which only a diverging network produces; that inf is what stops it.
    # (The where() keeps log from ever seeing a 0, so no warnings.)
    positive = P > 0
    log_p = xp.where(positive, xp.log(xp.where(positive, P, 1.0)), -math.inf)
    return -xp.sum(Y * xp.where(Y > 0, log_p, 0.0), axis=1)


def _cross_entropy_of_labels(xp: Any, P: Array, y: Array) -> Array:
    # -log p of each row's true class: _cross_entropy for one-hot rows, reading
    # one value per row instead of taking logs of the whole (batch, classes) array.
    p = xp.take_along_axis(P, xp.reshape(y, (-1, 1)), axis=1)[:, 0]
    positive = p > 0
    return xp.where(positive, -xp.log(xp.where(positive, p, 1.0)), math.inf)


def _logsumexp(xp: Any, Z: Array) -> Array:
    # Subtracting the row maximum keeps exp from overflowing; the maximum's own
    # term is exp(0) = 1, so the sum is >= 1 and its log never sees 0.
    m = xp.max(Z, axis=1, keepdims=True)
    return xp.log(xp.sum(xp.exp(Z - m), axis=1)) + m[:, 0]


def _cross_entropy_of_logits(xp: Any, Z: Array, Y: Array) -> Array:
    # -log softmax(z)_y = logsumexp(z) - z_y, for one-hot rows Y.
    return _logsumexp(xp, Z) - xp.sum(Y * Z, axis=1)


def _cross_entropy_of_logits_and_labels(xp: Any, Z: Array, y: Array) -> Array:
    z_true = xp.take_along_axis(Z, xp.reshape(y, (-1, 1)), axis=1)[:, 0]
    return _logsumexp(xp, Z) - z_true


def _cross_entropy_gradient(xp: Any, P: Array, Y: Array) -> Array:
    # dL/dP for L = -(1/B) sum y log p.
    return -(Y / xp.maximum(P, _EPS)) / P.shape[0]


def _softmax_cross_entropy_gradient(xp: Any, P: Array, Y: Array, scale: float = 1.0) -> Array:
    # dZ of the mean loss, times ``scale`` (an optimiser's learning rate, folded
    # in here at no cost: see Optimizer.gradient_scale).
    D = P - Y
    return D / P.shape[0] if scale == 1.0 else D * (scale / P.shape[0])


def _mse(xp: Any, A: Array, Y: Array) -> Array:
    D = A - Y
    return xp.sum(D * D, axis=1)


def _mse_gradient(xp: Any, A: Array, Y: Array) -> Array:
    # L = (1/B) sum_b sum_k (a - y)^2, so dL/dA = 2 (A - Y) / B.
    return (2.0 / A.shape[0]) * (A - Y)


LOSSES: dict[str, Loss] = {
    "cross-entropy": Loss(
        "cross-entropy",
        _cross_entropy,
        _cross_entropy_gradient,
        fused_with="softmax",
        fused_gradient=_softmax_cross_entropy_gradient,
        of_labels=_cross_entropy_of_labels,
        of_logits=_cross_entropy_of_logits,
        of_logits_and_labels=_cross_entropy_of_logits_and_labels,
    ),
    "mse": Loss("mse", _mse, _mse_gradient),
}

_ALIASES = {
    "cross_entropy": "cross-entropy",
    "crossentropy": "cross-entropy",
    "categorical_cross_entropy": "cross-entropy",
    "mean_squared_error": "mse",
}


def get_loss(name: str) -> Loss:
    """The loss called ``name`` (case-insensitive, aliases allowed)."""
    if not isinstance(name, str):
        raise ConfigError(f"loss: expected a name, got {name!r}")
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in LOSSES:
        raise ConfigError(f"loss {name!r}: unknown; expected one of {', '.join(LOSSES)}")
    return LOSSES[key]
