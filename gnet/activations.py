"""Activation functions: value and backward side by side.

Each activation is a pair of functions of the namespace ``xp``:
``forward(xp, Z) -> A`` and ``backward(xp, Z, A, dA) -> dZ`` (the
vector-Jacobian product). ``Z`` and ``A`` have shape (batch, units).
``xp`` is passed in, not looked up from the arrays, because resolving the
namespace costs microseconds and the per-sample loop calls these 60,000
times an epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .backend import Array
from .errors import ConfigError


@dataclass(frozen=True)
class Activation:
    name: str
    forward: Callable[[Any, Any], Any]
    backward: Callable[[Any, Any, Any, Any], Any]


def _sigmoid(xp: Any, Z: Array) -> Array:
    # exp(-|z|) never overflows; the two branches are 1/(1+e^-z) and e^z/(1+e^z).
    e = xp.exp(-xp.abs(Z))
    s = 1.0 / (1.0 + e)
    return xp.where(Z >= 0, s, e * s)


def _sigmoid_backward(xp: Any, Z: Array, A: Array, dA: Array) -> Array:
    return dA * A * (1.0 - A)


def _relu(xp: Any, Z: Array) -> Array:
    return xp.maximum(Z, 0.0)


def _relu_backward(xp: Any, Z: Array, A: Array, dA: Array) -> Array:
    # astype + multiply: NumPy's where() with a scalar is ~8x slower at these sizes.
    return dA * xp.astype(Z > 0, dA.dtype)


def leaky_relu(alpha: float = 0.01) -> Activation:
    """max(z, alpha z) for 0 <= alpha < 1."""
    if not 0.0 <= alpha < 1.0:
        raise ConfigError(f"leaky_relu alpha: must be in [0, 1), got {alpha}")

    def forward(xp: Any, Z: Array) -> Array:
        return xp.where(Z > 0, Z, alpha * Z)

    def backward(xp: Any, Z: Array, A: Array, dA: Array) -> Array:
        return xp.where(Z > 0, dA, alpha * dA)

    return Activation("leaky_relu", forward, backward)


def _tanh(xp: Any, Z: Array) -> Array:
    return xp.tanh(Z)


def _tanh_backward(xp: Any, Z: Array, A: Array, dA: Array) -> Array:
    return dA * (1.0 - A * A)


def _softmax(xp: Any, Z: Array) -> Array:
    # Subtracting the row maximum changes nothing mathematically and keeps exp
    # from overflowing.
    E = xp.exp(Z - xp.max(Z, axis=1, keepdims=True))
    E /= xp.sum(E, axis=1, keepdims=True)  # E is this call's own temporary
    return E


def _softmax_backward(xp: Any, Z: Array, A: Array, dA: Array) -> Array:
    # J^T dA for J = diag(a) - a a^T, row by row.
    return A * (dA - xp.sum(dA * A, axis=1, keepdims=True))


def _identity(xp: Any, Z: Array) -> Array:
    return Z


def _identity_backward(xp: Any, Z: Array, A: Array, dA: Array) -> Array:
    return dA


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_backward),
    "relu": Activation("relu", _relu, _relu_backward),
    "leaky_relu": leaky_relu(0.01),
    "tanh": Activation("tanh", _tanh, _tanh_backward),
    "softmax": Activation("softmax", _softmax, _softmax_backward),
    "identity": Activation("identity", _identity, _identity_backward),
}

_ALIASES = {"leakyrelu": "leaky_relu", "leaky-relu": "leaky_relu", "linear": "identity"}


def canonical_name(name: str) -> str:
    """The registry name for ``name`` (case-insensitive, aliases allowed)."""
    if not isinstance(name, str):
        raise ConfigError(f"activation: expected a name, got {name!r}")
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in ACTIVATIONS:
        raise ConfigError(f"activation {name!r}: unknown; expected one of {', '.join(ACTIVATIONS)}")
    return key


def get_activation(name: str, alpha: float = 0.01) -> Activation:
    """The activation called ``name``; ``alpha`` is leaky ReLU's slope."""
    key = canonical_name(name)
    return leaky_relu(alpha) if key == "leaky_relu" else ACTIVATIONS[key]
