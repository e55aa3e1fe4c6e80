"""Export a Network to ONNX, so that any ONNX runtime can run it.

    net.to_onnx("model.onnx")            # or: gnet export model.safetensors model.onnx

The graph (ONNX opset 17, IR version 8: ONNX Runtime 1.12 and later, and
most other runtimes) takes an input named ``image`` with a dynamic batch
dimension and the model's own input shape, in the network's dtype: flat rows
(N, 784) for a multilayer perceptron, NHWC images (N, 28, 28, 1) for a
convolutional one (the caller feeds what gnet is fed; the graph transposes to
ONNX's NCHW inside). The input normalisation ``(image - mean) / std`` is part
of the graph. Outputs: ``probabilities`` (N, classes), what
:meth:`Network.predict_proba` returns, and ``label`` (N,), its ArgMax as
int64 (the first maximum, as gnet's). ``metadata_props`` hold ``class_names``
(a JSON list) and ``gnet`` (the JSON object a model file stores).

Every layer kind maps to standard operators: dense to Gemm and its
activation (Sigmoid, Relu, LeakyRelu, Tanh, Softmax); dropout and
DropConnect to nothing (they are identities at inference); conv2d to Conv
(weights (kh, kw, in, out) transposed to OIHW; Keras 'same' padding written
as explicit pads, the odd pixel at the bottom / right); maxpool2d,
avgpool2d to MaxPool and AveragePool (valid windows only, so padding never
enters a mean); global_avgpool2d to ReduceMean over the image axes; batchnorm to
BatchNormalization with the running statistics (the same formula as Keras
and gnet in inference); flatten to a transpose back to NHWC and Flatten, so
the columns come in gnet's order. Image tensors are transposed only where a
layer needs the other layout.

The ``onnx`` package (extra ``gnet[onnx]``) is imported when an export runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import to_numpy
from .errors import GNetError
from .optional import MissingModule

if TYPE_CHECKING:
    from .network import Network

OPSET = 17
IR_VERSION = 8  # the IR version released with opset 17 (onnx 1.12)
INSTALL_HINT = "pip install 'gnet[onnx]'"

# Layouts of the tensor flowing through the graph.
FLAT, NHWC, NCHW = "flat", "NHWC", "NCHW"
TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


class ExportError(GNetError, ValueError):
    """The network (or the output path) cannot be exported to ONNX."""


def require_onnx() -> Any:
    """The ``onnx`` module, or MissingModule saying what to install (one line)."""
    try:
        import onnx
    except ImportError:
        raise MissingModule(
            f"ONNX export needs the onnx package, which is not installed: {INSTALL_HINT}"
        ) from None
    return onnx


class _Graph:
    """Nodes and initializers of one graph, in the network's element type."""

    def __init__(self, onnx: Any, dtype: Any):
        self.onnx = onnx
        self.helper = onnx.helper
        self.dtype = np.dtype(dtype)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.names: set[str] = set()

    def _unique(self, name: str) -> str:
        out, k = name, 1
        while out in self.names:
            k += 1
            out = f"{name}_{k}"
        self.names.add(out)
        return out

    def const(self, name: str, value: Any) -> str:
        """An initializer holding ``value`` in the graph's dtype."""
        array = np.ascontiguousarray(np.asarray(value, dtype=self.dtype))
        name = self._unique(name)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str, **attrs: Any) -> str:
        """Add one node; returns the name of its (single) output."""
        out = self._unique(name)
        self.nodes.append(
            self.helper.make_node(op_type, inputs, [out], name=f"{out}/{op_type}", **attrs)
        )
        return out


class _Flow:
    """The tensor flowing through the graph: its name and layout."""

    def __init__(self, name: str, layout: str):
        self.name = name
        self.layout = layout

    def to(self, g: _Graph, layout: str, prefix: str) -> str:
        """The tensor in ``layout`` (NHWC or NCHW), transposed if needed."""
        if self.layout != layout:
            perm = TO_NCHW if layout == NCHW else TO_NHWC
            self.name = g.op("Transpose", [self.name], f"{prefix}.to_{layout.lower()}", perm=perm)
            self.layout = layout
        return self.name


def _activation(g: _Graph, x: str, layer: Any, prefix: str) -> str:
    """The layer's activation applied to ``x`` (features or channels on axis 1)."""
    name = layer.activation_name
    if name == "identity":
        return x
    if name == "leaky_relu":
        return g.op("LeakyRelu", [x], f"{prefix}.leaky_relu", alpha=float(layer.alpha))
    if name == "softmax":
        return g.op("Softmax", [x], f"{prefix}.softmax", axis=1)
    op = {"sigmoid": "Sigmoid", "relu": "Relu", "tanh": "Tanh"}.get(name)
    if op is None:
        raise ExportError(f"{prefix} ({layer.type}): activation {name!r} has no ONNX form")
    return g.op(op, [x], f"{prefix}.{name}")


def _dense(g: _Graph, flow: _Flow, layer: Any, prefix: str) -> None:
    # DropConnect scales at training time only: inference uses W as it is.
    W = g.const(f"{prefix}.weight", to_numpy(layer.params["weight"]))
    b = g.const(f"{prefix}.bias", to_numpy(layer.params["bias"]))
    z = g.op("Gemm", [flow.name, W, b], f"{prefix}.gemm")
    flow.name = _activation(g, z, layer, prefix)


def _conv2d(g: _Graph, flow: _Flow, layer: Any, prefix: str) -> None:
    x = flow.to(g, NCHW, prefix)
    W = np.transpose(to_numpy(layer.params["weight"]), (3, 2, 0, 1))  # (kh, kw, C, F) -> OIHW
    b = to_numpy(layer.params["bias"])
    (top, bottom), (left, right) = layer.pads
    z = g.op(
        "Conv",
        [x, g.const(f"{prefix}.weight", W), g.const(f"{prefix}.bias", b)],
        f"{prefix}.conv",
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides),
        pads=[int(top), int(left), int(bottom), int(right)],
    )
    flow.name = _activation(g, z, layer, prefix)


def _pool(op_type: str) -> Callable[[_Graph, _Flow, Any, str], None]:
    def export(g: _Graph, flow: _Flow, layer: Any, prefix: str) -> None:
        if layer.padding != "valid":
            raise ExportError(f"{prefix} ({layer.type}): padding {layer.padding!r} is not exported")
        x = flow.to(g, NCHW, prefix)
        flow.name = g.op(
            op_type,
            [x],
            f"{prefix}.{op_type.lower()}",
            kernel_shape=list(layer.pool_size),
            strides=list(layer.strides),
        )

    return export


def _global_avgpool2d(g: _Graph, flow: _Flow, layer: Any, prefix: str) -> None:
    # ReduceMean over the two image axes of whichever layout the tensor has: no
    # transpose, and (unlike GlobalAveragePool) ONNX Runtime runs it in float64 too.
    axes = [1, 2] if flow.layout == NHWC else [2, 3]
    flow.name = g.op("ReduceMean", [flow.name], f"{prefix}.reducemean", axes=axes, keepdims=0)
    flow.layout = FLAT


def _flatten(g: _Graph, flow: _Flow, layer: Any, prefix: str) -> None:
    if flow.layout == FLAT:
        return  # (N, F) stays (N, F)
    x = flow.to(g, NHWC, prefix)  # gnet flattens NHWC: pixel (h, w) channel c -> (h W + w) C + c
    flow.name = g.op("Flatten", [x], f"{prefix}.flatten", axis=1)
    flow.layout = FLAT


def _batchnorm(g: _Graph, flow: _Flow, layer: Any, prefix: str) -> None:
    x = flow.name if flow.layout == FLAT else flow.to(g, NCHW, prefix)  # channels on axis 1
    names = [
        g.const(f"{prefix}.{key}", to_numpy(group[key]))
        for group, key in (
            (layer.params, "gamma"),
            (layer.params, "beta"),
            (layer.state, "running_mean"),
            (layer.state, "running_var"),
        )
    ]
    flow.name = g.op(
        "BatchNormalization", [x, *names], f"{prefix}.batchnorm", epsilon=float(layer.epsilon)
    )


def _dropout(g: _Graph, flow: _Flow, layer: Any, prefix: str) -> None:
    """Inverted dropout is the identity at inference: no node."""


EXPORTERS: dict[str, Callable[[_Graph, _Flow, Any, str], None]] = {
    "dense": _dense,
    "dropout": _dropout,
    "conv2d": _conv2d,
    "maxpool2d": _pool("MaxPool"),
    "avgpool2d": _pool("AveragePool"),
    "global_avgpool2d": _global_avgpool2d,
    "flatten": _flatten,
    "batchnorm": _batchnorm,
}


def metadata(net: Network) -> dict[str, str]:
    """The ONNX model's ``metadata_props``: class names and the gnet description."""
    from .io import model_metadata

    saved = getattr(net, "metadata", None) or {}
    extra = {k: saved[k] for k in ("dataset", "test") if k in saved}
    meta = model_metadata(net, **extra)
    layout = FLAT if len(net.input_shape) == 1 else NHWC
    return {
        "class_names": json.dumps(list(net.class_names)),
        "gnet": json.dumps(meta),
        "input_layout": layout,
    }


def build_model(net: Network, dtype: str | None = None) -> Any:
    """The network as an ``onnx.ModelProto`` (checked with ``onnx.checker``, full check).

    ``dtype``: the graph's float type, "float32" or "float64" (default: the
    network's). ONNX Runtime's CPU provider has no float64 Conv or
    AveragePool kernel, so a float64 convolutional network runs there only
    when exported as float32.
    Raises ExportError naming the first layer ONNX cannot express, and
    MissingModule when the onnx package is not installed.
    """
    dtype = net.dtype_name if dtype is None else dtype
    if dtype not in ("float32", "float64"):
        raise ExportError(f"dtype {dtype!r}: expected float32 or float64")
    onnx = require_onnx()
    helper, TensorProto = onnx.helper, onnx.TensorProto
    for i, layer in enumerate(net.layers):
        if getattr(layer, "type", None) not in EXPORTERS:
            raise ExportError(
                f"layers[{i}] ({getattr(layer, 'type', type(layer).__name__)}): "
                "ONNX export does not know this layer kind"
            )
    elem = TensorProto.DOUBLE if dtype == "float64" else TensorProto.FLOAT
    g = _Graph(onnx, np.dtype(dtype))
    image = g._unique("image")
    flow = _Flow(image, FLAT if len(net.input_shape) == 1 else NHWC)
    if net.input_mean != 0.0 or net.input_std != 1.0:
        mean, std = g.const("input_mean", net.input_mean), g.const("input_std", net.input_std)
        flow.name = g.op("Sub", [flow.name, mean], "input.centred")
        flow.name = g.op("Div", [flow.name, std], "input.normalised")
    for i, layer in enumerate(net.layers):
        EXPORTERS[layer.type](g, flow, layer, f"layers.{i}")
    proba = g.op("Identity", [flow.name], "probabilities")
    label = g.op("ArgMax", [proba], "label", axis=1, keepdims=0)
    n = net.n_classes
    graph = helper.make_graph(
        g.nodes,
        "gnet",
        [helper.make_tensor_value_info(image, elem, ["N", *net.input_shape])],
        [
            helper.make_tensor_value_info(proba, elem, ["N", n]),
            helper.make_tensor_value_info(label, TensorProto.INT64, ["N"]),
        ],
        initializer=g.initializers,
        doc_string=repr(net),
    )
    from . import __version__

    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="gnet",
        producer_version=__version__,
        doc_string=(
            f"{net!r}. Input 'image': {_describe_input(net, dtype)}; outputs 'probabilities' "
            f"(N, {n}) and 'label' (N,) int64."
        ),
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(model, metadata(net))
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:  # a bug here, not the user's input
        raise RuntimeError(f"the exported ONNX graph fails onnx.checker: {exc}") from exc
    return model


def _describe_input(net: Network, dtype: str) -> str:
    shape = ", ".join(str(d) for d in ("N", *net.input_shape))
    layout = "rows" if len(net.input_shape) == 1 else "NHWC images"
    norm = (
        f", normalised inside as (image - {net.input_mean:g}) / {net.input_std:g}"
        if net.input_mean != 0.0 or net.input_std != 1.0
        else ""
    )
    return f"({shape}) {dtype} {layout}, what gnet is fed{norm}"


def export(net: Network, path: str | os.PathLike[str], dtype: str | None = None) -> Any:
    """Write ``net`` as an ONNX file at ``path`` (atomically: a failed export
    leaves no partial file); returns the ``onnx.ModelProto``. ``dtype`` as
    in :func:`build_model`."""
    from .io import atomic_write_bytes

    model = build_model(net, dtype)
    data = model.SerializeToString()
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise ExportError(f"{path}: cannot write the ONNX file ({exc.strerror or exc})") from exc
    return model
