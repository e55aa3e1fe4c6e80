"""Layers, one kind per file, and the registry that maps a spec's ``"type"``
to its class.

A layer spec is a JSON object such as ``{"type": "dense", "units": 128,
"activation": "relu"}``; the keys each kind takes are declared once, in its
class's ``FIELDS``. :func:`check_specs` validates a whole list against an
input shape (every problem at once, each naming ``layers[i].field``) and
:func:`from_spec` builds one layer. A new layer kind is one file here and
one entry in ``LAYERS``.
"""

from __future__ import annotations

import difflib
import numbers
from typing import Any

from .avgpool2d import AvgPool2D
from .base import INFERENCE, Context, Field, Layer, Shape
from .batchnorm import BatchNorm
from .conv2d import Conv2D
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten
from .global_avgpool2d import GlobalAvgPool2D
from .masks import inverted_mask
from .maxpool2d import MaxPool2D

LAYERS: dict[str, type[Layer]] = {
    "dense": Dense,
    "dropout": Dropout,
    "conv2d": Conv2D,
    "maxpool2d": MaxPool2D,
    "avgpool2d": AvgPool2D,
    "global_avgpool2d": GlobalAvgPool2D,
    "flatten": Flatten,
    "batchnorm": BatchNorm,
}

__all__ = [
    "INFERENCE",
    "LAYERS",
    "AvgPool2D",
    "BatchNorm",
    "Context",
    "Conv2D",
    "Dense",
    "Dropout",
    "Field",
    "Flatten",
    "GlobalAvgPool2D",
    "Layer",
    "MaxPool2D",
    "Shape",
    "array_shapes",
    "check_specs",
    "from_spec",
    "inverted_mask",
    "normalise_spec",
]

# Largest number of values one layer's output may hold per sample.
MAX_ACTIVATIONS = 1 << 26


def normalise_spec(spec: Any, where: str) -> tuple[dict[str, Any], list[str]]:
    """``spec`` with its type and fields checked and defaults filled in, and
    the problems found (each starting with ``where``, e.g. ``layers[2]``)."""
    if not isinstance(spec, dict):
        return {}, [f"{where}: expected a layer object with a type, got {spec!r}"]
    kind = spec.get("type")
    name = kind.strip().lower() if isinstance(kind, str) else kind
    if not isinstance(name, str) or name not in LAYERS:
        close = difflib.get_close_matches(str(name), LAYERS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return {}, [
            f"{where}.type: unknown layer type {kind!r}{hint}; expected one of {', '.join(LAYERS)}"
        ]
    cls = LAYERS[name]
    problems = [
        f"{where}.{key}: unknown field for a {name} layer; expected {', '.join(cls.FIELDS)}"
        for key in spec
        if key != "type" and key not in cls.FIELDS
    ]
    out: dict[str, Any] = {"type": name}
    for key, field in cls.FIELDS.items():
        if key not in spec:
            if field.required:
                problems.append(f"{where}.{key}: missing (a {name} layer needs it)")
            else:
                out[key] = field.default
            continue
        value, problem = field.check(spec[key])
        if problem:
            problems.append(f"{where}.{key}: {problem}")
        out[key] = value
    return out, problems


def check_specs(input_shape: Any, layers: Any) -> list[str]:
    """Every problem with a layer list fed by ``input_shape`` (empty if none):
    unknown types, missing or wrong-typed fields, shapes that do not chain."""
    if not (
        isinstance(input_shape, (list, tuple))
        and len(input_shape) in (1, 3)
        and all(
            isinstance(d, numbers.Integral) and not isinstance(d, bool) and int(d) >= 1
            for d in input_shape
        )
    ):
        return [
            f"input_shape: expected [features] or [height, width, channels], got {input_shape!r}"
        ]
    if not isinstance(layers, (list, tuple)) or not layers:
        return [f"layers: expected a non-empty list of layer objects, got {layers!r}"]
    problems: list[str] = []
    shape: Shape | None = tuple(input_shape)
    for i, raw in enumerate(layers):
        spec, found = normalise_spec(raw, f"layers[{i}]")
        problems += found
        if found or shape is None:
            shape = None  # later shapes are unknown; keep checking fields
            continue
        out = LAYERS[spec["type"]].output_shape_for(shape, spec)
        if isinstance(out, str):
            problems.append(f"layers[{i}] ({spec['type']}): {out}")
            shape = None
        elif min(out) < 1 or _size(out) > MAX_ACTIVATIONS:
            problems.append(f"layers[{i}] ({spec['type']}): output shape {list(out)} is not usable")
            shape = None
        else:
            shape = out
    if shape is not None and len(shape) != 1:
        problems.append(
            f"layers[{len(layers) - 1}]: the network must end in flat class scores, got shape "
            f"{list(shape)}; end with flatten and dense"
        )
    return problems


def array_shapes(input_shape: Any, layers: Any) -> list[dict[str, Shape]]:
    """For a valid layer list (see :func:`check_specs`): the shape of every
    param and state array, layer by layer, computed without allocating."""
    shapes = []
    shape: Shape = tuple(input_shape)
    for i, raw in enumerate(layers):
        spec, _ = normalise_spec(raw, f"layers[{i}]")
        cls = LAYERS[spec["type"]]
        shapes.append(cls.array_shapes(shape, spec))
        out = cls.output_shape_for(shape, spec)
        assert not isinstance(out, str)
        shape = out
    return shapes


def from_spec(spec: dict[str, Any], where: str = "layer") -> Layer:
    """A new (unbuilt) layer from a spec; raises ConfigError naming ``where``."""
    from ..errors import ConfigError

    spec, problems = normalise_spec(spec, where)
    if problems:
        raise ConfigError("; ".join(problems))
    kind = spec.pop("type")
    return LAYERS[kind](**spec)


def _size(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
