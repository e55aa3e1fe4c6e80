"""The demo's model side: a network that takes 28x28 images, what /model
says about it, and the answer to a /predict body (see :mod:`gnet.demo`)."""

from __future__ import annotations

import logging
import math
import os
import threading
from importlib import resources
from typing import Any

import numpy as np

from .. import __version__
from ..backend import to_numpy
from ..errors import ModelFileError
from ..images import SIZE, center_mnist, network_input
from ..web import RequestError, json_bytes

logger = logging.getLogger("gnet.demo")

MAX_BODY = 1_000_000
"""Largest request body accepted, in bytes (a 280x280 drawing is 80-320 kB)."""

MIN_SIDE, MAX_SIDE = SIZE, 560
"""Accepted sides of the square drawing, in pixels."""

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/demo.js": ("demo.js", "text/javascript; charset=utf-8"),
    "/demo.css": ("demo.css", "text/css; charset=utf-8"),
}




class Demo:
    """The demo's state: a network on the CPU, its description, the static files.

    ``model`` is a model file path or a :class:`~gnet.Network` that takes
    28x28 one-channel images: input shape (784,) (flat rows) or (28, 28, 1).
    """

    def __init__(self, model: Any):
        from ..io import load_model

        if isinstance(model, (str, os.PathLike)):
            self.net = load_model(model, device="cpu")
            name = os.fspath(model)
        else:
            self.net = model
            name = "the model"
        shape = tuple(int(d) for d in self.net.input_shape)
        if shape not in ((SIZE * SIZE,), (SIZE, SIZE, 1)):
            raise ModelFileError(
                f"{name}: the demo needs a model with {SIZE * SIZE} inputs ({SIZE}x{SIZE} "
                f"images: input shape ({SIZE * SIZE},) or ({SIZE}, {SIZE}, 1)); this one has "
                f"{self.net.n_inputs} (input shape {shape})"
            )
        self.lock = threading.Lock()
        meta = dict(getattr(self.net, "metadata", None) or {})
        self.info = {
            **_architecture(self.net),
            "activations": list(self.net.activation_names),
            "loss": self.net.loss.name,
            "parameters": self.net.n_parameters,
            "class_names": list(self.net.class_names),
            "dataset": meta.get("dataset"),
            "epochs_trained": self.net.epochs_trained,
            "gnet_version": meta.get("gnet_version", __version__),
            "test": _test_report(meta.get("test"), self.net.n_classes),
            "input": {"min_side": MIN_SIDE, "max_side": MAX_SIDE, "max_body_bytes": MAX_BODY},
        }
        self.info_json = json_bytes(self.info)
        files = resources.files(__package__)
        self.static = {
            path: (files.joinpath(name).read_bytes(), ctype)
            for path, (name, ctype) in _STATIC.items()
        }

    def predict(self, payload: Any) -> dict[str, Any]:
        """The answer to a /predict body (already parsed JSON); RequestError if invalid."""
        pixels = _pixels(payload)
        if not pixels.max() > 0:
            return {
                "blank": True,
                "prediction": None,
                "label": None,
                "probabilities": None,
                "image": None,
            }
        image = center_mnist(pixels)
        with self.lock:
            proba = to_numpy(self.net.predict_proba(network_input(image, self.net.input_shape)))[0]
        k = int(np.argmax(proba))
        return {
            "blank": False,
            "prediction": k,
            "label": self.net.class_names[k],
            "probabilities": [round(float(p), 6) for p in proba],
            "image": [round(float(v), 4) for v in image.reshape(-1)],
        }


def _architecture(net: Any) -> dict[str, Any]:
    """How /model describes the network: for a perceptron its sizes
    ("784-128-10", [784, 128, 10]) as ever; for any other stack the input
    shape and the layer types ("28x28x1 > conv2d > maxpool2d > ...") and the
    layer specs. Both add the summary: layer, output shape, parameters."""
    if net.is_mlp:
        described: dict[str, Any] = {
            "architecture": "-".join(map(str, net.sizes)),
            "layers": list(net.sizes),
        }
    else:
        shape = "x".join(map(str, net.input_shape))
        described = {
            "architecture": " > ".join([shape, *(layer.type for layer in net.layers)]),
            "layers": net.spec()["layers"],
        }
    described["input_shape"] = list(net.input_shape)
    described["summary"] = [
        {"layer": layer, "output_shape": list(shape), "parameters": n}
        for layer, shape, n in net.summary()
    ]
    return described


def _test_report(test: Any, classes: int) -> dict[str, Any] | None:
    """The model file's test results, if they are well formed; else None."""
    if not isinstance(test, dict):
        return None
    cm = test.get("confusion_matrix")
    ok = (
        isinstance(cm, list)
        and len(cm) == classes
        and all(
            isinstance(row, list)
            and len(row) == classes
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in row)
            for row in cm
        )
    )
    if not ok:
        logger.info("model metadata 'test' has no usable confusion matrix; not shown")
        return None
    rows: list[list[int]] = list(cm or [])  # checked above
    out: dict[str, Any] = {"confusion_matrix": rows, "n_samples": sum(map(sum, rows))}
    for key in ("accuracy", "loss", "macro_f1"):
        value = test.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = float(value) if math.isfinite(value) else None
    return out


def _pixels(payload: Any) -> np.ndarray:
    """Validate a /predict body; return the drawing as a float64 (side, side) array."""
    if not isinstance(payload, dict):
        raise RequestError(400, 'expected a JSON object {"pixels": [...]}')
    unknown = sorted(set(payload) - {"pixels"})
    if unknown:
        raise RequestError(
            400, f"unknown key(s) {', '.join(map(repr, unknown))}; expected 'pixels'"
        )
    if "pixels" not in payload:
        raise RequestError(400, "missing key 'pixels'")
    values = payload["pixels"]
    if not isinstance(values, list):
        raise RequestError(400, f"'pixels' must be a list of numbers, got {type(values).__name__}")
    n = len(values)
    side = math.isqrt(n)
    if side * side != n or not MIN_SIDE <= side <= MAX_SIDE:
        raise RequestError(
            400,
            f"'pixels' has {n} values: expected a square drawing of side {MIN_SIDE} to "
            f"{MAX_SIDE} flattened row by row (e.g. {280 * 280} for 280x280)",
        )
    kinds = set(map(type, values))
    if not kinds <= {int, float}:
        bad = sorted(k.__name__ for k in kinds - {int, float})
        raise RequestError(400, f"'pixels' must hold numbers only, found {', '.join(bad)}")
    try:
        a = np.asarray(values, dtype=np.float64)
    except OverflowError:
        raise RequestError(400, "'pixels' values must be in [0, 255]") from None
    if not (np.all(np.isfinite(a)) and a.min() >= 0.0 and a.max() <= 255.0):
        raise RequestError(400, "'pixels' values must be in [0, 255]")
    return a.reshape(side, side)



