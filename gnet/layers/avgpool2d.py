"""AvgPool2D: the mean of each (ph, pw) window, per channel.

Shapes: ``X`` (N, H, W, C), ``Y`` (N, Ho, Wo, C), padding ``valid``; strides
default to the pool size. Each input pixel gets dY / (ph·pw) from every
window it lies in.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Context
from .maxpool2d import Pool2D


class AvgPool2D(Pool2D):
    type: ClassVar[str] = "avgpool2d"

    def forward(self, X: Any, ctx: Context) -> Any:
        parts = self._windows(X)  # backward needs only X's shape, kept by _windows
        Y = parts[0] + parts[1] if len(parts) > 1 else parts[0] * 1.0
        for part in parts[2:]:
            Y += part
        return Y / len(parts)

    def backward(self, dY: Any, need_dX: bool = True) -> Any:
        if not need_dX:
            return None
        kh, kw = self.pool_size
        share = dY / (kh * kw)
        return self._scatter([share] * (kh * kw))
