"""Dense: A = f(X W + b), with an optional DropConnect mask on W.

Shapes: ``X`` (batch, in), ``W`` (in, out), ``b`` (out,), ``Z`` and ``A``
(batch, out).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..activations import ACTIVATIONS, get_activation
from ..init import INITIALIZERS, get_initializer
from .base import Context, Field, Layer, Shape
from .masks import inverted_mask

ACTIVATION_FIELD = Field(
    "name",
    "identity",
    choices=tuple(ACTIVATIONS),
    aliases={"leakyrelu": "leaky_relu", "leaky-relu": "leaky_relu", "linear": "identity"},
)
ALPHA_FIELD = Field("number", 0.01, low=0.0, high=1.0, high_open=True)
INIT_FIELD = Field(
    "name", "he", choices=tuple(INITIALIZERS), aliases={"xavier": "glorot", "kaiming": "he"}
)


def activation_spec(spec: dict[str, Any], activation: str) -> dict[str, Any]:
    """A layer's spec with its activation's canonical name; ``alpha`` only
    where it means something (leaky ReLU's slope)."""
    spec["activation"] = activation
    if activation != "leaky_relu":
        del spec["alpha"]
    return spec


class Dense(Layer):
    """A fully connected layer; ``alpha`` is leaky ReLU's slope.

    ``dropconnect`` (Wan et al. 2013) multiplies the weights by a fresh mask
    for every training batch: Z = X (W * M) + b, with M holding 0 for a
    dropped weight and 1 / (1 - rate) for a kept one, so inference uses W
    unchanged.
    """

    type: ClassVar[str] = "dense"
    FIELDS: ClassVar[dict[str, Field]] = {
        "units": Field("int", low=1, high=1 << 24),
        "activation": ACTIVATION_FIELD,
        "alpha": ALPHA_FIELD,
        "init": INIT_FIELD,
        "dropconnect": Field("number", 0.0, low=0.0, high=1.0, high_open=True),
    }

    def __init__(
        self,
        units: int,
        activation: str = "identity",
        alpha: float = 0.01,
        init: str = "he",
        dropconnect: float = 0.0,
    ):
        super().__init__()
        self.units = units
        self.activation_name = activation
        self.activation = get_activation(activation, alpha)
        self.alpha = alpha
        self.init = init
        self.dropconnect = dropconnect
        self.fixed_mask: Any = None  # a DropConnect mask to use instead of drawing one (tests)
        self.xp: Any = None
        # Kept by forward for backward: X, Z, A, the mask M and the weights used (W or W * M).
        self._X: Any = None
        self._Z: Any = None
        self._A: Any = None
        self._M: Any = None
        self._W: Any = None

    @classmethod
    def output_shape_for(cls, input_shape: Shape, spec: dict[str, Any]) -> Shape | str:
        if len(input_shape) != 1:
            return (
                f"needs flat inputs, got shape {list(input_shape)}; put a flatten layer before it"
            )
        return (int(spec["units"]),)

    @classmethod
    def array_shapes(cls, input_shape: Shape, spec: dict[str, Any]) -> dict[str, Shape]:
        return {"weight": (input_shape[0], int(spec["units"])), "bias": (int(spec["units"]),)}

    def build(self, input_shape: Shape, rng: Any, backend: Any, dtype: Any) -> Shape:
        out = super().build(input_shape, rng, backend, dtype)
        fan_in = input_shape[0]
        W = get_initializer(self.init)(rng, fan_in, self.units)
        self.xp = backend.xp
        self.params = {
            "weight": backend.asarray(W, dtype=dtype),
            "bias": self.xp.zeros((self.units,), dtype=dtype, device=backend.device),
        }
        return out

    # Named access, as before the Layer protocol.
    @property
    def weight(self) -> Any:
        return self.params["weight"]

    @weight.setter
    def weight(self, value: Any) -> None:
        self.params["weight"] = value

    @property
    def bias(self) -> Any:
        return self.params["bias"]

    @bias.setter
    def bias(self, value: Any) -> None:
        self.params["bias"] = value

    @property
    def dW(self) -> Any:
        return self.grads.get("weight")

    @dW.setter
    def dW(self, value: Any) -> None:
        self.grads["weight"] = value

    @property
    def db(self) -> Any:
        return self.grads.get("bias")

    @db.setter
    def db(self, value: Any) -> None:
        self.grads["bias"] = value

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.weight.shape[0]), int(self.weight.shape[1]))

    @property
    def Z(self) -> Any:
        """The pre-activation of the last forward pass (the logits of an output layer)."""
        return self._Z

    @property
    def stochastic(self) -> bool:
        return bool(self.dropconnect)

    def forward(self, X: Any, ctx: Context) -> Any:
        W = self.params["weight"]
        M = None
        if ctx.training and self.dropconnect:
            M = self.fixed_mask
            if M is None:
                U = ctx.backend.uniform(ctx.rng, tuple(W.shape), W.dtype)
                M = inverted_mask(self.xp, U, self.dropconnect, W.dtype)
            W = W * M
        Z = X @ W
        Z += self.params["bias"]  # in place: one (batch, out) allocation fewer
        A = self.activation.forward(self.xp, Z)
        self._X, self._Z, self._A, self._M, self._W = X, Z, A, M, W
        return A

    def backward(self, dY: Any, need_dX: bool = True) -> Any:
        dZ = self.activation.backward(self.xp, self._Z, self._A, dY)
        return self.backward_from_Z(dZ, need_dX)

    def backward_from_Z(self, dZ: Any, need_dX: bool = True) -> Any:
        """Backward from dL/dZ (a fused loss + output activation gives it directly)."""
        X = self._X
        if X.shape[0] == 1:
            # At batch 1 the outer product by broadcasting is ~3x faster than matmul.
            dW = X.T * dZ
            db = dZ[0, :]
        else:
            dW = X.T @ dZ
            db = self.xp.sum(dZ, axis=0)
        if self._M is not None:
            dW *= self._M  # dL/dW = (X^T dZ) * M: a dropped weight gets no gradient
        self.grads["weight"], self.grads["bias"] = dW, db
        return dZ @ self._W.T if need_dX else None

    def spec(self) -> dict[str, Any]:
        return activation_spec(super().spec(), self.activation_name)
