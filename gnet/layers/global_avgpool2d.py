"""GlobalAvgPool2D: the mean of each channel over the whole image,
(N, H, W, C) -> (N, C); each pixel gets dY / (H·W) back."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Context, Layer, Shape


class GlobalAvgPool2D(Layer):
    type: ClassVar[str] = "global_avgpool2d"

    def __init__(self) -> None:
        super().__init__()
        self.xp: Any = None
        self.device: Any = None
        self._X_shape: Shape = ()

    @classmethod
    def output_shape_for(cls, input_shape: Shape, spec: dict[str, Any]) -> Shape | str:
        if len(input_shape) != 3:
            return f"needs image inputs [height, width, channels], got shape {list(input_shape)}"
        return (input_shape[2],)

    def build(self, input_shape: Shape, rng: Any, backend: Any, dtype: Any) -> Shape:
        self.xp, self.device = backend.xp, backend.device
        return super().build(input_shape, rng, backend, dtype)

    def forward(self, X: Any, ctx: Context) -> Any:
        self._X_shape = tuple(X.shape)
        return self.xp.mean(X, axis=(1, 2))

    def backward(self, dY: Any, need_dX: bool = True) -> Any:
        if not need_dX:
            return None
        N, H, W, C = self._X_shape
        dX = self.xp.zeros((N, H, W, C), dtype=dY.dtype, device=self.device)
        dX += dY[:, None, None, :] / (H * W)
        return dX
