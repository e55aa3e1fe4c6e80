"""Inverted dropout: keep each unit with probability 1 - rate and scale it
by 1 / (1 - rate) while training, so inference is the identity."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Context, Field, Layer
from .masks import inverted_mask


class Dropout(Layer):
    type: ClassVar[str] = "dropout"
    FIELDS: ClassVar[dict[str, Field]] = {
        "rate": Field("number", low=0.0, high=1.0, high_open=True),
    }

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate
        self.fixed_mask: Any = None  # a mask to use instead of drawing one (tests)
        self.mask: Any = None

    @property
    def stochastic(self) -> bool:
        return bool(self.rate)

    def forward(self, X: Any, ctx: Context) -> Any:
        if not ctx.training or not self.rate:
            self.mask = None
            return X
        mask = self.fixed_mask
        if mask is None:
            U = ctx.backend.uniform(ctx.rng, tuple(X.shape), X.dtype)
            mask = inverted_mask(ctx.backend.xp, U, self.rate, X.dtype)
        self.mask = mask
        return X * mask

    def backward(self, dY: Any, need_dX: bool = True) -> Any:
        return dY if self.mask is None else dY * self.mask
