"""The Layer protocol: what every layer kind provides, and the context the
epoch loop hands to each forward pass.

A layer is built once for an input shape (``build``), holds its trained
arrays in ``params`` (name -> array: ``weight``, ``bias``, ``gamma``...) and
its saved-but-not-trained arrays in ``state`` (batch-norm running
statistics), and fills ``grads`` (same names as ``params``) in ``backward``.
``forward`` keeps exactly what ``backward`` needs. ``spec()`` is the JSON
dict that rebuilds the layer; ``FIELDS`` declares that dict's keys once, so
configs, model files and the estimator validate specs from one table.

Shapes exclude the batch: ``input_shape`` is ``(features,)`` for flat rows
or ``(height, width, channels)`` for NHWC images.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, ClassVar

Shape = tuple[int, ...]
_REQUIRED: Any = object()


@dataclass
class Context:
    """What the epoch loop (or an inference call) tells each forward pass.

    ``training`` turns on dropout, DropConnect and batch statistics; ``rng``
    is the seeded device generator their masks come from (see
    ``Backend.random_generator``); ``scale`` is the factor the output gradient
    carries (an optimiser's learning rate folded in, see
    ``Optimizer.gradient_scale``).
    """

    backend: Any = None
    training: bool = False
    rng: Any = None
    scale: float = 1.0


INFERENCE = Context()


@dataclass(frozen=True)
class Field:
    """One key of a layer spec: its kind, default and allowed range."""

    kind: str  # "int", "number", "name", "ints"
    default: Any = _REQUIRED
    low: float = -math.inf
    high: float = math.inf
    high_open: bool = False
    choices: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def check(self, value: Any) -> tuple[Any, str | None]:
        """(normalised value, None) or (value, what is wrong)."""
        if self.kind == "name":
            name = value.strip().lower() if isinstance(value, str) else None
            name = self.aliases.get(name, name) if name is not None else None
            if name not in self.choices:
                return value, f"expected one of {', '.join(self.choices)}, got {value!r}"
            return name, None
        if self.kind == "ints":
            items = [value, value] if _is_int(value) else value
            if not (
                isinstance(items, (list, tuple)) and len(items) == 2 and all(map(_is_int, items))
            ):
                return value, f"expected an integer or a pair of integers, got {value!r}"
            if not all(self.low <= v <= self.high for v in items):
                return value, f"expected values in [{self.low:g}, {self.high:g}], got {value!r}"
            return [int(v) for v in items], None
        ok_type = _is_int(value) if self.kind == "int" else _is_number(value)
        high_ok = ok_type and (value < self.high if self.high_open else value <= self.high)
        if not (ok_type and value >= self.low and high_ok):
            kind = "an integer" if self.kind == "int" else "a number"
            bracket = ")" if self.high_open else "]"
            return value, f"expected {kind} in [{self.low:g}, {self.high:g}{bracket}, got {value!r}"
        return (int(value) if self.kind == "int" else float(value)), None


def _is_int(value: Any) -> bool:
    # numbers.Integral / Real: NumPy scalars (a grid from np.arange) count too.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    )


class Layer:
    """Base class of every layer kind; see the module docstring.

    Subclasses set ``type`` (the registry name) and ``FIELDS``, take those
    fields as keyword arguments, and implement ``output_shape_for``,
    ``build``, ``forward`` and ``backward``.
    """

    type: ClassVar[str] = ""
    FIELDS: ClassVar[dict[str, Field]] = {}

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.grads: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self.input_shape: Shape = ()
        self.output_shape: Shape = ()

    # ------------------------------------------------------------ shapes

    @classmethod
    def output_shape_for(cls, input_shape: Shape, spec: dict[str, Any]) -> Shape | str:
        """The output shape for ``input_shape`` with the (checked) spec fields,
        or a message saying why this input cannot feed the layer."""
        return input_shape

    @classmethod
    def array_shapes(cls, input_shape: Shape, spec: dict[str, Any]) -> dict[str, Shape]:
        """The shapes of the params and state this layer will hold for
        ``input_shape``, known before anything is allocated (model files are
        checked against them)."""
        return {}

    def build(self, input_shape: Shape, rng: Any, backend: Any, dtype: Any) -> Shape:
        """Allocate the parameters for ``input_shape`` (initial values drawn
        from the host generator ``rng``) on ``backend``; return the output shape."""
        out = self.output_shape_for(input_shape, self.spec())
        if isinstance(out, str):
            raise ValueError(out)
        self.input_shape, self.output_shape = tuple(input_shape), tuple(out)
        return self.output_shape

    # ------------------------------------------------------------ maths

    def forward(self, X: Any, ctx: Context) -> Any:
        raise NotImplementedError

    def backward(self, dY: Any, need_dX: bool = True) -> Any:
        """Fill ``grads`` from dL/dY; return dL/dX when ``need_dX``."""
        raise NotImplementedError

    # ------------------------------------------------------------ description

    def spec(self) -> dict[str, Any]:
        """The JSON dict that rebuilds this layer (every field, defaults included)."""
        return {"type": self.type, **{name: getattr(self, name) for name in self.FIELDS}}

    @property
    def stochastic(self) -> bool:
        """True when training draws random masks (the loop then seeds a generator)."""
        return False

    @property
    def kept_per_sample(self) -> int:
        """Values per sample this layer's training pass holds at once (its
        output, pre-activation and gradient); layers with larger workspaces
        (im2col) say so. Sizes full-batch chunks (Network.max_rows)."""
        return 3 * math.prod(self.output_shape)

    @property
    def n_parameters(self) -> int:
        return sum(math.prod(p.shape) for p in self.params.values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.spec().items() if k != "type")
        return f"{type(self).__name__}({fields})"
