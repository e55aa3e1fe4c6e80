"""What a trained network's layers look like, as matplotlib figures (part of
:mod:`gnet.plots`, which re-exports everything here).

* :func:`weights_figure`: the first dense layer's weights as image tiles,
  when that layer reads the input image directly (flat rows, or flatten /
  dropout before it) and the image is square with one channel;
* :func:`conv_filters_figure`: the first conv layer's filters
  (weights ``(kh, kw, in, out)``), one tile per filter;
* :func:`feature_maps_figure`: one image run through the layers one by one,
  with the output of every conv layer, one tile per channel.

Figures are built with ``Figure`` directly, never through ``pyplot``.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from .backend import to_numpy

MAX_TILES = 128
"""First-layer units (or filters) shown as tiles at most (784-128-10 shows all of them)."""
MAX_MAPS = 32
"""Feature maps shown per conv layer at most."""
COLUMNS = 16
"""Tiles per row."""

# Layers that pass the input image through unchanged (in inference) before a dense layer.
_PASS_THROUGH = ("flatten", "dropout")


def image_shape(net: Any) -> tuple[int, int] | None:
    """(height, width) of the network's input images, or None when the input
    is not a one-channel image: a (H, W, 1) input shape, or flat rows of a
    square number of values."""
    shape = tuple(int(d) for d in net.input_shape)
    if len(shape) == 3:
        return (shape[0], shape[1]) if shape[2] == 1 else None
    side = math.isqrt(shape[0]) if len(shape) == 1 else 0
    return (side, side) if side > 1 and side * side == shape[0] else None


def images_of(net: Any, X: Any) -> np.ndarray:
    """Host (N, H, W) images from X given as the network takes it (flat rows
    or (N, H, W, 1) images); ValueError when the input is not an image."""
    hw = image_shape(net)
    if hw is None:
        raise ValueError(f"input shape {tuple(net.input_shape)} is not a one-channel image")
    a = np.asarray(to_numpy(X), dtype=np.float32)
    return a.reshape(a.shape[0], *hw)


def conv_layers(net: Any) -> list[tuple[int, Any]]:
    """(index, layer) of every conv layer (``layer.type == "conv2d"``)."""
    return [(i, layer) for i, layer in enumerate(net.layers) if layer.type == "conv2d"]


def _grid(n: int, tile: float = 0.8, extra: float = 0.6) -> tuple[Figure, list[Any]]:
    cols = max(1, min(COLUMNS, n))
    rows = max(1, -(-n // cols))
    fig = Figure(figsize=(tile * cols + 0.2, tile * rows + extra), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(rows, cols)).reshape(-1))
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def _diverging(ax: Any, tile: np.ndarray) -> None:
    lim = float(np.abs(tile).max()) or 1.0
    ax.imshow(tile, cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -lim, lim), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def weights_figure(net: Any, max_tiles: int = MAX_TILES) -> Figure:
    """The first dense layer's weights, one tile per unit (what each unit
    looks for in the image): red positive, blue negative, each tile on its
    own symmetric scale. ValueError unless that layer reads a square
    one-channel input image directly."""
    first = next((layer for layer in net.layers if layer.params), None)
    if first is None or first.type != "dense":
        raise ValueError("the first layer with weights is not a dense layer")
    before = net.layers[: net.layers.index(first)]
    if any(layer.type not in _PASS_THROUGH for layer in before):
        raise ValueError("the first dense layer does not read the input image directly")
    W = np.asarray(to_numpy(first.params["weight"]), dtype=np.float64)  # (in, out)
    hw = image_shape(net)
    if hw is None or hw[0] != hw[1]:
        raise ValueError(f"first layer has {W.shape[0]} inputs, not a square image")
    side = hw[0]
    units = min(W.shape[1], max_tiles)
    fig, axes = _grid(units)
    for u, ax in enumerate(axes):
        _diverging(ax, W[:, u].reshape(side, side))
    shown = f"{units} of {W.shape[1]}" if units < W.shape[1] else f"{units}"
    fig.suptitle(f"First-layer weights ({shown} units, {side}x{side} each)")
    return fig


def conv_filters_figure(net: Any, max_tiles: int = MAX_TILES) -> Figure:
    """The first conv layer's filters, one tile per filter (kh x kw): red
    positive, blue negative; the mean over the input channels when there
    are several. ValueError when the network has no conv layer."""
    convs = conv_layers(net)
    if not convs:
        raise ValueError("the network has no conv2d layer")
    index, layer = convs[0]
    W = np.asarray(to_numpy(layer.params["weight"]), dtype=np.float64)  # (kh, kw, in, out)
    kh, kw, channels, filters = W.shape
    shown = min(filters, max_tiles)
    fig, axes = _grid(shown, tile=0.7)
    for f, ax in enumerate(axes):
        _diverging(ax, W[:, :, :, f].mean(axis=2))
    of = f"{shown} of {filters}" if shown < filters else f"{shown}"
    mean = f", mean over {channels} input channels" if channels > 1 else ""
    fig.suptitle(f"Conv filters of layer {index} ({of} filters, {kh}x{kw}{mean})")
    return fig


def feature_maps(net: Any, x: Any) -> list[tuple[int, Any, np.ndarray]]:
    """(index, layer, host maps (H, W, C)) for every conv layer, for one
    sample ``x`` (one flat row or one (H, W, C) image) run through the
    layers one by one in inference mode."""
    from .layers import INFERENCE

    a = np.asarray(to_numpy(x))
    rows = a.reshape(1, -1)
    backend = net.backend
    context = backend.context() if hasattr(backend, "context") else contextlib.nullcontext()
    out = []
    with context:
        A = net.as_input(rows)
        for i, layer in enumerate(net.layers):
            A = layer.forward(A, INFERENCE)
            if layer.type == "conv2d":
                out.append((i, layer, np.asarray(to_numpy(A), dtype=np.float64)[0]))
    return out


def feature_maps_figure(
    net: Any, x: Any, title: str | None = None, max_maps: int = MAX_MAPS
) -> Figure:
    """The input image and, one block of rows per conv layer, the first
    ``max_maps`` channels of that layer's output for the sample ``x``
    (each map on its own grey scale, dark high)."""
    maps = feature_maps(net, x)
    if not maps:
        raise ValueError("the network has no conv2d layer")
    hw = image_shape(net)
    blocks = [(i, layer, m, min(m.shape[2], max_maps)) for i, layer, m in maps]
    rows_of = [-(-shown // COLUMNS) for *_, shown in blocks]
    cols = min(COLUMNS, max(shown for *_, shown in blocks))
    heights = [1.0] + [float(n) for n in rows_of]
    fig = Figure(figsize=(0.8 * cols + 0.2, 0.95 * sum(heights) + 0.9), layout="constrained")
    subfigures: Any = fig.subfigures(len(heights), 1, height_ratios=heights)
    parts = list(np.atleast_1d(subfigures))
    ax = parts[0].subplots(1, cols)
    axes = list(np.atleast_1d(ax))
    if hw is not None:
        axes[0].imshow(np.asarray(to_numpy(x), dtype=np.float64).reshape(hw), cmap="gray_r")
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    for extra in axes[1:]:
        extra.remove()
    parts[0].suptitle("input", fontsize=9, x=0.0, ha="left")
    for part, (i, layer, m, shown), n in zip(parts[1:], blocks, rows_of, strict=True):
        tiles = list(np.atleast_1d(part.subplots(n, cols)).reshape(-1))
        for c, ax in enumerate(tiles):
            if c >= shown:
                ax.remove()
                continue
            ax.imshow(m[:, :, c], cmap="gray_r", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        h, w, channels = m.shape
        part.suptitle(
            f"layer {i} {layer.type}: {shown} of {channels} maps, {h}x{w}",
            fontsize=9,
            x=0.0,
            ha="left",
        )
    fig.suptitle(title or "Feature maps")
    return fig
