"""MaxPool2D: the largest value of each (ph, pw) window, per channel.

Shapes: ``X`` (N, H, W, C), ``Y`` (N, Ho, Wo, C) with Ho = (H - ph) // sh + 1
(padding ``valid``, as Keras: rows and columns no window reaches are dropped).
Strides default to the pool size.

Backward sends each output's gradient to the window positions that hold the
maximum, as a mask ``R == max`` (no boolean indexing). Ties: a window whose
maximum appears k times gives each of those positions 1/k of the gradient
(the mean of the tied positions' one-hot gradients, a valid subgradient; it
keeps the summed gradient and equals central differences for a tie of two).
PyTorch and TensorFlow give it all to one position instead.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Context, Field, Layer, Shape
from .windows import pair, scatter, window_shape, windows

POOL_FIELDS: dict[str, Field] = {
    "pool_size": Field("ints", 2, low=1, high=1 << 10),
    "strides": Field("ints", None, low=1, high=1 << 10),  # None: the pool size
    "padding": Field("name", "valid", choices=("valid",)),
}


class Pool2D(Layer):
    """What max and average pooling share: fields, shapes and the window grid."""

    FIELDS: ClassVar[dict[str, Field]] = POOL_FIELDS

    def __init__(
        self,
        pool_size: int | list[int] = 2,
        strides: int | list[int] | None = None,
        padding: str = "valid",
    ):
        super().__init__()
        self.pool_size = list(pair(pool_size))
        self.strides = list(pair(pool_size if strides is None else strides))
        self.padding = padding
        self.xp: Any = None
        self.device: Any = None
        self._X_shape: Shape = ()

    @classmethod
    def output_shape_for(cls, input_shape: Shape, spec: dict[str, Any]) -> Shape | str:
        kernel = pair(spec["pool_size"])
        strides = kernel if spec.get("strides") is None else pair(spec["strides"])
        out = window_shape(input_shape, kernel, strides, "valid", "pool_size")
        return out if isinstance(out, str) else (*out, input_shape[2])

    def build(self, input_shape: Shape, rng: Any, backend: Any, dtype: Any) -> Shape:
        out = super().build(input_shape, rng, backend, dtype)
        self.xp, self.device = backend.xp, backend.device
        return out

    def _windows(self, X: Any) -> list[Any]:
        self._X_shape = tuple(X.shape)
        return windows(X, pair(self.pool_size), pair(self.strides), pair(self.output_shape[:2]))

    def _scatter(self, parts: list[Any]) -> Any:
        kernel, strides = pair(self.pool_size), pair(self.strides)
        return scatter(self.xp, parts, self._X_shape, kernel, strides, self.device)


class MaxPool2D(Pool2D):
    type: ClassVar[str] = "maxpool2d"

    def __init__(
        self,
        pool_size: int | list[int] = 2,
        strides: int | list[int] | None = None,
        padding: str = "valid",
    ):
        super().__init__(pool_size, strides, padding)
        self._G: Any = None  # (N, Ho, Wo, ph·pw, C): each position's share of dY

    def forward(self, X: Any, ctx: Context) -> Any:
        xp = self.xp
        R = xp.stack(self._windows(X), axis=3)  # (N, Ho, Wo, ph·pw, C)
        Y = xp.max(R, axis=3)
        if ctx.training:
            mask = xp.astype(R == Y[:, :, :, None, :], X.dtype)
            self._G = mask / xp.sum(mask, axis=3, keepdims=True)
        return Y

    def backward(self, dY: Any, need_dX: bool = True) -> Any:
        if not need_dX:
            return None
        dR = self._G * dY[:, :, :, None, :]
        return self._scatter([dR[:, :, :, k, :] for k in range(int(dR.shape[3]))])
