"""BatchNorm: Y = gamma * (X - mean) / sqrt(var + epsilon) + beta, per channel.

Shapes: ``X`` and ``Y`` (N, F) after a dense layer or (N, H, W, C) after a
conv layer; the statistics are taken over every axis but the last, so
``gamma``, ``beta``, ``running_mean`` and ``running_var`` are (F,) or (C,).

Training uses the batch's mean and (biased) variance and updates the running
ones Keras-style: ``running = momentum * running + (1 - momentum) * batch``
(momentum 0.99, epsilon 1e-3: Keras's defaults). PyTorch writes the same
update with momentum 1 - 0.99 = 0.01 and feeds it the unbiased variance.
Inference uses the running statistics. With a batch of one (per-sample
mode) the batch variance is 0 and the layer outputs ``beta``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Context, Field, Layer, Shape


class BatchNorm(Layer):
    type: ClassVar[str] = "batchnorm"
    FIELDS: ClassVar[dict[str, Field]] = {
        "momentum": Field("number", 0.99, low=0.0, high=1.0),
        "epsilon": Field("number", 1e-3, low=1e-12, high=1.0),
    }

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3):
        super().__init__()
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.xp: Any = None
        self._axes: tuple[int, ...] = ()
        # Kept by forward for backward: the normalised input, 1 / std, and
        # whether they came from the batch (training) or the running statistics.
        self._Xhat: Any = None
        self._inv_std: Any = None
        self._batch_stats = False

    @classmethod
    def output_shape_for(cls, input_shape: Shape, spec: dict[str, Any]) -> Shape | str:
        if len(input_shape) not in (1, 3):
            return f"needs (features,) or (height, width, channels) inputs, got {list(input_shape)}"
        return input_shape

    @classmethod
    def array_shapes(cls, input_shape: Shape, spec: dict[str, Any]) -> dict[str, Shape]:
        C = (input_shape[-1],)
        return {"gamma": C, "beta": C, "running_mean": C, "running_var": C}

    def build(self, input_shape: Shape, rng: Any, backend: Any, dtype: Any) -> Shape:
        out = super().build(input_shape, rng, backend, dtype)
        xp, C = backend.xp, (input_shape[-1],)
        self.xp, self._axes = xp, tuple(range(len(input_shape)))  # all but the last of (N, ...)
        self.params = {
            "gamma": xp.ones(C, dtype=dtype, device=backend.device),
            "beta": xp.zeros(C, dtype=dtype, device=backend.device),
        }
        self.state = {
            "running_mean": xp.zeros(C, dtype=dtype, device=backend.device),
            "running_var": xp.ones(C, dtype=dtype, device=backend.device),
        }
        return out

    def forward(self, X: Any, ctx: Context) -> Any:
        xp, m = self.xp, self.momentum
        if ctx.training:
            mean = xp.mean(X, axis=self._axes)
            Xc = X - mean
            var = xp.mean(Xc * Xc, axis=self._axes)
            s = self.state
            s["running_mean"] = m * s["running_mean"] + (1.0 - m) * mean
            s["running_var"] = m * s["running_var"] + (1.0 - m) * var
        else:
            Xc, var = X - self.state["running_mean"], self.state["running_var"]
        inv_std = 1.0 / xp.sqrt(var + self.epsilon)
        Xhat = Xc * inv_std
        self._Xhat, self._inv_std, self._batch_stats = Xhat, inv_std, ctx.training
        return Xhat * self.params["gamma"] + self.params["beta"]

    def backward(self, dY: Any, need_dX: bool = True) -> Any:
        xp, axes, Xhat = self.xp, self._axes, self._Xhat
        self.grads["gamma"] = xp.sum(dY * Xhat, axis=axes)
        self.grads["beta"] = xp.sum(dY, axis=axes)
        if not need_dX:
            return None
        dXhat = dY * self.params["gamma"]
        if not self._batch_stats:  # fixed statistics: an affine map
            return dXhat * self._inv_std
        # The batch mean and variance depend on every row: their gradients
        # remove dXhat's mean and its component along Xhat.
        n = 1
        for a in axes:
            n *= int(Xhat.shape[a])
        gamma = self.params["gamma"]
        mean_dXhat = self.grads["beta"] * gamma / n
        mean_dXhat_Xhat = self.grads["gamma"] * gamma / n
        return (dXhat - mean_dXhat - Xhat * mean_dXhat_Xhat) * self._inv_std
