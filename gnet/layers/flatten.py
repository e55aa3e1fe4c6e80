"""Flatten: (N, H, W, C) -> (N, H·W·C) in NHWC (row-major) order, so pixel
(h, w) channel c lands in column (h·W + w)·C + c."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from .base import Context, Layer, Shape


class Flatten(Layer):
    type: ClassVar[str] = "flatten"

    def __init__(self) -> None:
        super().__init__()
        self.xp: Any = None

    @classmethod
    def output_shape_for(cls, input_shape: Shape, spec: dict[str, Any]) -> Shape | str:
        return (math.prod(input_shape),)

    def build(self, input_shape: Shape, rng: Any, backend: Any, dtype: Any) -> Shape:
        self.xp = backend.xp
        return super().build(input_shape, rng, backend, dtype)

    def forward(self, X: Any, ctx: Context) -> Any:
        return self.xp.reshape(X, (X.shape[0], -1))

    def backward(self, dY: Any, need_dX: bool = True) -> Any:
        return self.xp.reshape(dY, (dY.shape[0], *self.input_shape)) if need_dX else None
