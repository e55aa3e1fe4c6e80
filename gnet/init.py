"""Weight initialisers, drawn on the host.

Each initialiser takes a host generator (``backend.host_rng(seed)``) and a
weight shape (fan_in, fan_out) and returns host values; the network moves
them to its device once. Drawing on the host, not with the device's RNG, is
what makes a seed give the same starting weights on NumPy, CuPy, torch and
array-api-strict. Biases start at zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .errors import ConfigError


def he(rng: Any, fan_in: int, fan_out: int) -> Any:
    """N(0, 2 / fan_in): keeps the variance of ReLU activations constant."""
    return rng.standard_normal((fan_in, fan_out)) * math.sqrt(2.0 / fan_in)


def glorot(rng: Any, fan_in: int, fan_out: int) -> Any:
    """U(-r, r), r = sqrt(6 / (fan_in + fan_out)): for sigmoid and tanh."""
    r = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-r, r, (fan_in, fan_out))


def normal(rng: Any, fan_in: int, fan_out: int) -> Any:
    """N(0, 1 / fan_in), the scaled Gaussian of Nielsen's network.py."""
    return rng.standard_normal((fan_in, fan_out)) / math.sqrt(fan_in)


def uniform(rng: Any, fan_in: int, fan_out: int) -> Any:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for Linear."""
    r = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-r, r, (fan_in, fan_out))


INITIALIZERS: dict[str, Callable[[Any, int, int], Any]] = {
    "he": he,
    "glorot": glorot,
    "normal": normal,
    "uniform": uniform,
}

_ALIASES = {"xavier": "glorot", "kaiming": "he"}


def get_initializer(name: str) -> Callable[[Any, int, int], Any]:
    """The initialiser called ``name`` (case-insensitive)."""
    if not isinstance(name, str):
        raise ConfigError(f"init: expected a name, got {name!r}")
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in INITIALIZERS:
        raise ConfigError(f"init {name!r}: unknown; expected one of {', '.join(INITIALIZERS)}")
    return INITIALIZERS[key]
