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
from .windows import blocks, pair, scatter, unblock, window_max, window_shape, windows

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

    @property
    def tiles(self) -> bool:
        """Windows that do not overlap (strides = pool size, the default):
        backward is then a reshape instead of ph·pw slice-adds."""
        return self.strides == self.pool_size

    def _windows(self, X: Any) -> list[Any]:
        """The ph·pw strided views (N, Ho, Wo, C) of X; keeps X's shape for backward."""
        self._X_shape = tuple(X.shape)
        kernel, out = pair(self.pool_size), pair(self.output_shape[:2])
        return windows(X, kernel, pair(self.strides), out)


def fold(op: Any, parts: list[Any]) -> Any:
    """op(op(parts[0], parts[1]), ...): elementwise over same-shaped arrays,
    several times faster in NumPy than a reduction over a stacked axis."""
    out = op(parts[0], parts[1]) if len(parts) > 1 else parts[0] * 1
    for part in parts[2:]:
        out = op(out, part)
    return out


class MaxPool2D(Pool2D):
    type: ClassVar[str] = "maxpool2d"

    def __init__(
        self,
        pool_size: int | list[int] = 2,
        strides: int | list[int] | None = None,
        padding: str = "valid",
    ):
        super().__init__(pool_size, strides, padding)
        self._mask: Any = None  # 1 where a window's maximum is, as blocks or a list of slices
        self._count: Any = None  # (N, Ho, Wo, C): how many positions hold each maximum

    def forward(self, X: Any, ctx: Context) -> Any:
        xp, kernel, strides = self.xp, pair(self.pool_size), pair(self.strides)
        self._X_shape = tuple(X.shape)
        Y = window_max(xp, X, kernel, strides, pair(self.output_shape[:2]))
        if ctx.training:
            if self.tiles:  # one (N, Ho, ph, Wo, pw, C) mask for backward
                eq = blocks(xp, X, kernel, Y.shape[1:3]) == Y[:, :, None, :, None, :]
                self._mask = xp.astype(eq, X.dtype)
                # Counted from contiguous copies of the window positions: 1.7x
                # faster than adding strided views of the mask.
                masks = [
                    xp.astype(eq[:, :, i, :, j, :], X.dtype)
                    for i in range(kernel[0])
                    for j in range(kernel[1])
                ]
            else:
                self._mask = masks = [xp.astype(part == Y, X.dtype) for part in self._windows(X)]
            self._count = fold(xp.add, masks)
        return Y

    def backward(self, dY: Any, need_dX: bool = True) -> Any:
        if not need_dX:
            return None
        share = dY / self._count  # ties split the gradient
        if self.tiles:
            dX = self._mask * share[:, :, None, :, None, :]
            return unblock(self.xp, dX, self._X_shape, self.device)
        kernel, strides = pair(self.pool_size), pair(self.strides)
        parts = [mask * share for mask in self._mask]
        return scatter(self.xp, parts, self._X_shape, kernel, strides, self.device)
