"""AvgPool2D: the mean of each (ph, pw) window, per channel.

Shapes: ``X`` (N, H, W, C), ``Y`` (N, Ho, Wo, C), padding ``valid``; strides
default to the pool size. Each input pixel gets dY / (ph·pw) from every
window it lies in.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Context
from .maxpool2d import Pool2D, fold
from .windows import pair, scatter, unblock


class AvgPool2D(Pool2D):
    type: ClassVar[str] = "avgpool2d"

    def forward(self, X: Any, ctx: Context) -> Any:
        parts = self._windows(X)  # backward needs only X's shape, kept by _windows
        return fold(self.xp.add, parts) / len(parts)

    def backward(self, dY: Any, need_dX: bool = True) -> Any:
        if not need_dX:
            return None
        kernel, xp = pair(self.pool_size), self.xp
        share = dY / (kernel[0] * kernel[1])
        if self.tiles:
            N, Ho, Wo, C = share.shape
            dX = xp.broadcast_to(
                share[:, :, None, :, None, :], (N, Ho, kernel[0], Wo, kernel[1], C)
            )
            return unblock(xp, dX, self._X_shape, self.device)
        parts = [share] * (kernel[0] * kernel[1])
        return scatter(xp, parts, self._X_shape, kernel, pair(self.strides), self.device)
