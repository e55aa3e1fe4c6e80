"""Conv2D: A = f(conv(X, W) + b) over NHWC images, as im2col and one matmul.

Shapes: ``X`` (N, H, W, C), ``W`` (kh, kw, C, F), ``b`` (F,), ``Z`` and ``A``
(N, Ho, Wo, F). ``padding`` is Keras/TensorFlow's: ``valid`` (no padding,
Ho = (H - kh) // sh + 1) or ``same`` (Ho = ceil(H / sh), the odd padding
pixel at the bottom / right).

im2col stacks the kh·kw shifted strided slices of the padded input into
``cols`` (N·Ho·Wo, kh·kw·C), so Z = cols @ W.reshape(kh·kw·C, F) is one
matmul. Measured against a sum of kh·kw shifted matmuls (one per kernel
pixel, no cols buffer) for the Keras MNIST net's two conv layers at batch 128,
forward + backward, float32, one BLAS thread, on NumPy: im2col takes 1.7-2.2x
less time for the two layers together (4-7x for the first, whose one input
channel makes each shifted matmul an outer product; 1.0-1.2x for the second);
on torch CPU 1.4x. Backward forms dX as kh·kw matmuls dZ @ W[i, j].T
added at their shifts (col2im), not as the one product dZ @ W.T sliced into
parts: see backward_from_Z.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..activations import get_activation
from ..init import get_initializer
from .base import Context, Field, Layer, Shape
from .dense import ACTIVATION_FIELD, ALPHA_FIELD, INIT_FIELD, activation_spec
from .windows import pad, pair, same_pads, scatter, window_shape, windows


class Conv2D(Layer):
    """A 2-D convolution (cross-correlation, as in every framework); ``alpha``
    is leaky ReLU's slope. A softmax activation acts over the filters."""

    type: ClassVar[str] = "conv2d"
    FIELDS: ClassVar[dict[str, Field]] = {
        "filters": Field("int", low=1, high=1 << 16),
        "kernel_size": Field("ints", low=1, high=1 << 10),
        "strides": Field("ints", 1, low=1, high=2),
        "padding": Field("name", "valid", choices=("valid", "same")),
        "activation": ACTIVATION_FIELD,
        "alpha": ALPHA_FIELD,
        "init": INIT_FIELD,
    }

    def __init__(
        self,
        filters: int,
        kernel_size: int | list[int],
        strides: int | list[int] = 1,
        padding: str = "valid",
        activation: str = "identity",
        alpha: float = 0.01,
        init: str = "he",
    ):
        super().__init__()
        self.filters = int(filters)
        self.kernel_size = list(pair(kernel_size))
        self.strides = list(pair(strides))
        self.padding = padding
        self.activation_name = activation
        self.activation = get_activation(activation, alpha)
        self.alpha = alpha
        self.init = init
        self.xp: Any = None
        self.device: Any = None
        self.pads = ((0, 0), (0, 0))
        # Kept by forward for backward: the input shape, Z and A (as (N·Ho·Wo, F))
        # and, in training, cols.
        self._X_shape: Shape = ()
        self._cols: Any = None
        self._Z: Any = None
        self._A: Any = None

    @classmethod
    def output_shape_for(cls, input_shape: Shape, spec: dict[str, Any]) -> Shape | str:
        kernel, strides = pair(spec["kernel_size"]), pair(spec["strides"])
        out = window_shape(input_shape, kernel, strides, spec["padding"], "kernel_size")
        return out if isinstance(out, str) else (*out, int(spec["filters"]))

    @classmethod
    def array_shapes(cls, input_shape: Shape, spec: dict[str, Any]) -> dict[str, Shape]:
        (kh, kw), F = pair(spec["kernel_size"]), int(spec["filters"])
        return {"weight": (kh, kw, input_shape[2], F), "bias": (F,)}

    def build(self, input_shape: Shape, rng: Any, backend: Any, dtype: Any) -> Shape:
        out = super().build(input_shape, rng, backend, dtype)
        (kh, kw), C, F = self.kernel_size, input_shape[2], self.filters
        W = get_initializer(self.init)(rng, kh * kw * C, F).reshape(kh, kw, C, F)
        self.xp, self.device = backend.xp, backend.device
        self.params = {
            "weight": backend.asarray(W, dtype=dtype),
            "bias": self.xp.zeros((F,), dtype=dtype, device=self.device),
        }
        if self.padding == "same":
            (sh, sw), (H, Wd) = self.strides, input_shape[:2]
            self.pads = (same_pads(H, kh, sh), same_pads(Wd, kw, sw))
        return out

    @property
    def kept_per_sample(self) -> int:
        """Z, A and dZ per output pixel and filter, plus the im2col columns
        (kh·kw·C per output pixel) that training keeps for the weight gradient."""
        (Ho, Wo), (kh, kw) = self.output_shape[:2], self.kernel_size
        return 3 * Ho * Wo * self.filters + Ho * Wo * kh * kw * self.input_shape[2]

    @property
    def Z(self) -> Any:
        """The pre-activation of the last forward pass, (N, Ho, Wo, F)."""
        return None if self._Z is None else self.xp.reshape(self._Z, self._out_shape())

    def _out_shape(self) -> Shape:
        return (self._X_shape[0], *self.output_shape)

    def _weight_matrix(self) -> Any:
        (kh, kw), C = self.kernel_size, self.input_shape[2]
        return self.xp.reshape(self.params["weight"], (kh * kw * C, self.filters))

    def forward(self, X: Any, ctx: Context) -> Any:
        xp = self.xp
        N, (Ho, Wo) = X.shape[0], self.output_shape[:2]
        Xp = pad(xp, X, self.pads, self.device)
        kernel, strides = pair(self.kernel_size), pair(self.strides)
        # (N, Ho, Wo, kh·kw, C): column (i·kw + j)·C + c matches W[i, j, c, :].
        cols = xp.stack(windows(Xp, kernel, strides, (Ho, Wo)), axis=3)
        cols = xp.reshape(cols, (N * Ho * Wo, -1))
        Z = cols @ self._weight_matrix()
        Z += self.params["bias"]  # in place: one allocation fewer
        A = self.activation.forward(xp, Z)  # rows are pixels: softmax acts over filters
        self._X_shape, self._Z, self._A = tuple(X.shape), Z, A
        # Only training keeps cols: kh·kw times the input (1.4 GB for the Keras
        # net's second conv on 10,000 images).
        self._cols = cols if ctx.training else None
        return xp.reshape(A, self._out_shape())

    def backward(self, dY: Any, need_dX: bool = True) -> Any:
        dA = self.xp.reshape(dY, self._Z.shape)
        dZ = self.activation.backward(self.xp, self._Z, self._A, dA)
        return self.backward_from_Z(dZ, need_dX)

    def backward_from_Z(self, dZ: Any, need_dX: bool = True) -> Any:
        """Backward from dL/dZ, (N, Ho, Wo, F) or (N·Ho·Wo, F)."""
        xp = self.xp
        dZ = xp.reshape(dZ, self._Z.shape)
        self.grads["weight"] = xp.reshape(self._cols.T @ dZ, tuple(self.params["weight"].shape))
        # A column sum as a matrix-vector product: ~7x faster in NumPy than sum(axis=0) here.
        ones = xp.ones((int(dZ.shape[0]),), dtype=dZ.dtype, device=self.device)
        self.grads["bias"] = ones @ dZ
        if not need_dX:
            return None
        N, (Ho, Wo), (kh, kw) = self._X_shape[0], self.output_shape[:2], self.kernel_size
        C, W4 = self.input_shape[2], self.params["weight"]
        (top, bottom), (left, right) = self.pads
        H, W = self._X_shape[1] + top + bottom, self._X_shape[2] + left + right
        # dX as kh·kw matmuls dZ @ W[i, j].T, each added at its shift as soon
        # as it is made: the adds then run over whole contiguous rows, where
        # slicing the one big (N·Ho·Wo, kh·kw·C) product dZ @ W.T into parts
        # gives rows of C values. 1.6x faster for the Keras net's second conv.
        parts = (
            xp.reshape(dZ @ W4[i, j, :, :].T, (N, Ho, Wo, C)) for i in range(kh) for j in range(kw)
        )
        dXp = scatter(xp, parts, (N, H, W, C), (kh, kw), pair(self.strides), self.device)
        if top or bottom or left or right:
            dXp = dXp[:, top : H - bottom, left : W - right, :]
        return dXp

    def spec(self) -> dict[str, Any]:
        return activation_spec(super().spec(), self.activation_name)
