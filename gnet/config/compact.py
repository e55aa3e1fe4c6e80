"""The compact layer grammar of ``--model`` / ``--layers`` for quick runs:

    conv2d:32:3,maxpool2d:2,flatten,dropout:0.5,dense:10

Items are separated by commas; each is a layer type followed by its
positional arguments and ``key=value`` fields, separated by colons:

    conv2d:FILTERS:KERNEL[:STRIDES]   (activation relu, padding valid)
    dense:UNITS[:ACTIVATION]          (relu; the last dense layer softmax)
    maxpool2d:POOL[:STRIDES]   avgpool2d:POOL[:STRIDES]
    dropout:RATE   batchnorm   flatten   global_avgpool2d

Any field may be given by name: ``conv2d:64:3:padding=same:strides=2``.
Values are read as integers, then numbers, else kept as text. The result
is a list of layer objects, checked like any other (gnet.layers.check_specs).
"""

from __future__ import annotations

from typing import Any

# Positional arguments of each type, in order.
POSITIONAL = {
    "conv2d": ("filters", "kernel_size", "strides"),
    "dense": ("units", "activation"),
    "maxpool2d": ("pool_size", "strides"),
    "avgpool2d": ("pool_size", "strides"),
    "dropout": ("rate",),
}
# Types whose layers read images (N, H, W, C): a spec using them is fed images.
IMAGE_LAYERS = ("conv2d", "maxpool2d", "avgpool2d", "global_avgpool2d", "flatten")


def parse_compact(text: str) -> list[dict[str, Any]] | None:
    """The layer objects ``text`` describes, or None when it is not this grammar
    (e.g. sizes ``784,128,10``)."""
    items = [item.strip() for item in text.split(",")]
    if not items or not all(items) or not all(item[0].isalpha() for item in items):
        return None
    layers: list[dict[str, Any]] = []
    for item in items:
        kind, *args = (part.strip() for part in item.split(":"))
        spec: dict[str, Any] = {"type": kind.lower()}
        names = POSITIONAL.get(spec["type"], ())
        for k, arg in enumerate(args):
            key, sep, value = arg.partition("=")
            if sep:
                spec[key.strip()] = _value(value.strip())
            elif k < len(names):
                spec[names[k]] = _value(arg)
            else:
                spec[f"argument {k + 1}"] = arg  # check_specs reports an unknown field
        layers.append(spec)
    dense = [s for s in layers if s["type"] == "dense"]
    for s in dense:
        s.setdefault("activation", "softmax" if s is dense[-1] else "relu")
    for s in layers:
        if s["type"] == "conv2d":
            s.setdefault("activation", "relu")
    return layers


def default_input_shape(layers: list[Any], image_shape: list[int]) -> list[int]:
    """Images ``image_shape`` (H, W, C) for a spec with image layers, else flat rows."""
    if any(isinstance(s, dict) and s.get("type") in IMAGE_LAYERS for s in layers):
        return list(image_shape)
    n = 1
    for d in image_shape:
        n *= d
    return [n]


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
