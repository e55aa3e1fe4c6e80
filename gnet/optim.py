"""Optimisers and learning-rate schedules.

An optimiser updates every layer's ``params`` (name -> array) from its
``grads`` (same names), keeping per-parameter state (momentum, moments)
keyed by (layer index, parameter name). Updates use augmented assignment (``W -= ...``): on NumPy,
CuPy, torch and array-api-strict that is in place, which avoids allocating a
new (in, out) array per step (~9x slower at batch 1); on a library with
immutable arrays (JAX) Python falls back to ``W = W - ...`` and the result is
stored back, so the same code is the functional fallback.

Regularisation acts on weights only (parameters named ``weight``; biases,
batch-norm scales and shifts are left alone): L2 adds ``l2 * W`` and L1 adds
``l1 * sign(W)`` to the gradient.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import array_api_compat

from .backend import Array
from .errors import ConfigError

if TYPE_CHECKING:
    from .layers import Layer

# (0-based epoch, base learning rate, total epochs) -> that epoch's learning rate.
Schedule = Callable[[int, float, int], float]


def _zeros_like(a: Array) -> Array:
    return array_api_compat.array_namespace(a).zeros_like(a)


def _check(
    name: str, value: Any, low: float, high: float, low_open: bool = False, high_open: bool = False
) -> None:
    """Raise ConfigError naming ``name`` unless value is a finite number in the range."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (
            value < high if high_open else value <= high
        )
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ConfigError(f"{name}: expected a finite number in {interval}, got {value!r}")


class Optimizer:
    """Base class: holds the learning rate, regularisation and per-parameter state."""

    def __init__(self, learning_rate: float, l1: float = 0.0, l2: float = 0.0):
        _check("learning_rate", learning_rate, 0.0, math.inf, low_open=True)
        _check("l1", l1, 0.0, math.inf)
        _check("l2", l2, 0.0, math.inf)
        self.learning_rate = float(learning_rate)
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.state: dict[tuple[int, str], Any] = {}
        self.steps = 0
        self._scale = 1.0  # the factor the gradients of the current step carry

    @property
    def gradient_scale(self) -> float:
        """A factor the backward pass may fold into the output gradient, a
        small (batch, classes) array, so that every gradient arrives already
        multiplied by it; ``step(layers, scale)`` is then told so. For SGD it
        is the learning rate, which saves a pass over every parameter per step."""
        return 1.0

    def step(self, layers: Sequence[Layer], scale: float = 1.0) -> None:
        """Apply one update to every layer's parameters from its stored
        gradients, which carry the factor ``scale`` (see :attr:`gradient_scale`).

        The step consumes the gradients: they may be scaled in place (read
        gradients through ``Network.gradients``, which does not step).
        """
        self.steps += 1
        self._scale = scale
        for i, layer in enumerate(layers):
            params = layer.params
            if not params:
                continue
            grads = layer.grads
            for name, p in params.items():
                g = grads[name]
                if name == "weight" and (self.l2 or self.l1):
                    if self.l2:
                        g = g + (self.l2 * scale) * p
                    if self.l1:
                        g = g + (self.l1 * scale) * array_api_compat.array_namespace(p).sign(p)
                params[name] = self.update((i, name), p, g)

    def update(self, key: tuple[int, str], p: Array, g: Array) -> Array:
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """The hyperparameters, as stored in configs and checkpoints."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    v <- mu v - lr g;  W <- W + v           (classical momentum)
    W <- W + mu v - lr g  (after v's update) (Nesterov, Sutskever's form)
    """

    def __init__(
        self,
        learning_rate: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        l1: float = 0.0,
        l2: float = 0.0,
    ):
        super().__init__(learning_rate, l1, l2)
        _check("momentum", momentum, 0.0, 1.0, high_open=True)
        if nesterov and momentum == 0.0:
            raise ConfigError("nesterov: needs momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    @property
    def gradient_scale(self) -> float:
        # Only SGD's own update knows the gradients may carry the rate already
        # (a subclass with its own update gets them unscaled), and a rate of 0
        # cannot be divided out again.
        if type(self).update is not SGD.update or self.learning_rate <= 0:
            return 1.0
        return self.learning_rate

    def update(self, key: tuple[int, str], p: Array, g: Array) -> Array:
        # g is this step's own temporary: scaling it in place (when the
        # backward pass did not already) saves allocating an (in, out) array.
        if self._scale != self.learning_rate:
            g *= self.learning_rate / self._scale
        if not self.momentum:
            p -= g
            return p
        v = self.state.get(key)
        if v is None:
            v = _zeros_like(p)
        v *= self.momentum
        v -= g
        self.state[key] = v
        if self.nesterov:
            p += self.momentum * v - g
        else:
            p += v
        return p

    def config(self) -> dict[str, Any]:
        return {
            "optimizer": "sgd",
            "learning_rate": self.learning_rate,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "l1": self.l1,
            "l2": self.l2,
        }


class Adam(Optimizer):
    """Adam (Kingma & Ba): bias-corrected first and second moment estimates."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        l1: float = 0.0,
        l2: float = 0.0,
    ):
        super().__init__(learning_rate, l1, l2)
        _check("beta1", beta1, 0.0, 1.0, high_open=True)
        _check("beta2", beta2, 0.0, 1.0, high_open=True)
        _check("eps", eps, 0.0, math.inf, low_open=True)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def step(self, layers: Sequence[Layer], scale: float = 1.0) -> None:
        t = self.steps + 1
        # Fold both bias corrections into one step size (the paper's Sec. 2 form).
        self._lr_t = self.learning_rate * math.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        self._eps_t = self.eps * math.sqrt(1 - self.beta2**t)
        super().step(layers, scale)

    def update(self, key: tuple[int, str], p: Array, g: Array) -> Array:
        if self._scale != 1.0:
            g = g / self._scale
        m, v = self.state.get(key) or (_zeros_like(p), _zeros_like(p))
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        self.state[key] = (m, v)
        p -= self._lr_t * m / (v**0.5 + self._eps_t)
        return p

    def config(self) -> dict[str, Any]:
        return {
            "optimizer": "adam",
            "learning_rate": self.learning_rate,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "eps": self.eps,
            "l1": self.l1,
            "l2": self.l2,
        }


class RMSprop(Optimizer):
    """RMSprop (Hinton): divide the step by a running RMS of the gradient."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.9,
        eps: float = 1e-8,
        l1: float = 0.0,
        l2: float = 0.0,
    ):
        super().__init__(learning_rate, l1, l2)
        _check("rho", rho, 0.0, 1.0, high_open=True)
        _check("eps", eps, 0.0, math.inf, low_open=True)
        self.rho, self.eps = float(rho), float(eps)

    def update(self, key: tuple[int, str], p: Array, g: Array) -> Array:
        if self._scale != 1.0:
            g = g / self._scale
        s = self.state.get(key)
        if s is None:
            s = _zeros_like(p)
        s *= self.rho
        s += (1 - self.rho) * (g * g)
        self.state[key] = s
        p -= self.learning_rate * g / (s**0.5 + self.eps)
        return p

    def config(self) -> dict[str, Any]:
        return {
            "optimizer": "rmsprop",
            "learning_rate": self.learning_rate,
            "rho": self.rho,
            "eps": self.eps,
            "l1": self.l1,
            "l2": self.l2,
        }


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get_optimizer(name: str, **kwargs: Any) -> Optimizer:
    """An optimiser by name; kwargs it does not take (e.g. momentum for Adam) are ignored."""
    if not isinstance(name, str) or name.strip().lower() not in OPTIMIZERS:
        raise ConfigError(f"optimizer {name!r}: unknown; expected one of {', '.join(OPTIMIZERS)}")
    cls = OPTIMIZERS[name.strip().lower()]
    import inspect

    accepted = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in kwargs.items() if k in accepted and v is not None})


# ---------------------------------------------------------------- schedules


@dataclass(frozen=True)
class StepDecay:
    """lr * gamma ** (epoch // step_size)."""

    step_size: int
    gamma: float

    def __call__(self, epoch: int, base_lr: float, epochs: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


@dataclass(frozen=True)
class ExponentialDecay:
    """lr * gamma ** epoch."""

    gamma: float

    def __call__(self, epoch: int, base_lr: float, epochs: int) -> float:
        return base_lr * self.gamma**epoch


@dataclass(frozen=True)
class CosineDecay:
    """From lr down to min_lr along half a cosine over the run's epochs."""

    min_lr: float = 0.0

    def __call__(self, epoch: int, base_lr: float, epochs: int) -> float:
        progress = epoch / max(epochs, 1)
        return self.min_lr + (base_lr - self.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class LinearDecay:
    """From lr down to min_lr in a straight line; the last epoch (of two or more) trains at min_lr.

    The same as PyTorch's ``LinearLR(start_factor=1, end_factor=min_lr / lr,
    total_iters=epochs - 1)``.
    """

    min_lr: float = 0.0

    def __call__(self, epoch: int, base_lr: float, epochs: int) -> float:
        progress = min(epoch / max(epochs - 1, 1), 1.0)
        return base_lr + (self.min_lr - base_lr) * progress


def make_schedule(spec: Schedule | str | dict[str, Any] | None) -> Schedule | None:
    """A schedule from ``None``, a schedule object, a string ``step:10:0.5``,
    ``exponential:0.95``, ``cosine[:min_lr]``, ``linear[:min_lr]``, or a dict
    ``{"type": "step", "step_size": 10, "gamma": 0.5}`` / ``{"type":
    "exponential", "gamma": g}`` / ``{"type": "cosine" or "linear", "min_lr": m}``
    (read by :func:`gnet.config.schedules.parse_lr_schedule`, the one parser
    that configs and flags use too).

    A schedule maps (0-based epoch, base lr, total epochs) to that epoch's lr.
    """
    from .config.schedules import parse_lr_schedule

    if spec is None or callable(spec):  # includes custom (epoch, base_lr, epochs) -> lr
        return spec
    if isinstance(spec, str) and spec.strip().lower() in ("", "none", "null"):
        raise ConfigError(f"lr_schedule {spec!r}: expected a schedule (None for no schedule)")
    parsed = parse_lr_schedule(spec)
    if parsed is None:
        return None
    kind = parsed["type"]
    if kind == "step":
        return StepDecay(int(parsed["step_size"]), float(parsed["gamma"]))
    if kind == "exponential":
        return ExponentialDecay(float(parsed["gamma"]))
    if kind == "linear":
        return LinearDecay(float(parsed["min_lr"]))
    return CosineDecay(float(parsed["min_lr"]))
