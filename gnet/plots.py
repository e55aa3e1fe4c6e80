"""PNG plots of a training run and of a trained network (matplotlib, no display).

Two entry points write PNG files and return their paths; the CLI calls them
for ``gnet train --plot DIR`` and ``gnet evaluate --plot DIR``:

* :func:`save_training_plots` (from a :class:`~gnet.train.History`):
  ``training.png`` with three panels: the loss per mini-batch (raw and
  smoothed, when the run recorded batch losses) with the training and
  validation loss per epoch; the training and validation accuracy per epoch;
  the learning rate per epoch.
* :func:`save_evaluation_plots` (from a network and a test set):
  ``confusion_matrix.png`` (a heatmap with the counts written in each cell),
  ``mistakes.png`` (the most confident mistakes: image, true class,
  predicted class, probability) when the inputs are one-channel images,
  ``weights.png`` (the first dense layer's weights, one 28x28 tile per
  unit) when that layer reads a square input image directly, and for a
  network with conv layers ``conv_filters.png`` (the first conv layer's
  filters) and ``feature_maps.png`` (the first test image through every
  conv layer). The layer figures live in :mod:`gnet.plots_layers`.

Each ``*_figure`` function returns the :class:`matplotlib.figure.Figure` it
draws, for tests and notebooks. Figures are built with ``Figure`` directly,
never through ``pyplot``: no global figure registry, no GUI backend, no
display needed, safe from several threads. Files are written atomically (a
temporary file in the same folder, then ``os.replace``). Like the rest of the
library this module prints nothing.
"""

from __future__ import annotations

import io
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .backend import to_numpy
from .io import atomic_write_bytes
from .plots_layers import (
    MAX_MAPS,
    MAX_TILES,
    conv_filters_figure,
    conv_layers,
    feature_maps,
    feature_maps_figure,
    image_shape,
    images_of,
    weights_figure,
)

logger = logging.getLogger(__name__)

__all__ = [
    "save_training_plots",
    "save_evaluation_plots",
    "training_figure",
    "confusion_figure",
    "mistakes_figure",
    "weights_figure",
    "conv_filters_figure",
    "feature_maps_figure",
    "feature_maps",
    "conv_layers",
    "image_shape",
    "images_of",
    "MAX_MAPS",
    "MAX_TILES",
    "most_confident_mistakes",
    "smooth",
    "save_figure",
]

DPI = 100
MISTAKES = 24
"""Mistakes shown in the gallery (the most confident ones first)."""


# ------------------------------------------------------------------ helpers


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Render ``fig`` as a PNG and write it atomically to ``path``; returns the path."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    logger.debug("wrote %s", path)
    return path


def smooth(values: Sequence[float], weight: float | None = None) -> np.ndarray:
    """Exponential moving average with bias correction (as TensorBoard draws it).

    ``weight`` defaults to one that averages over about 2 % of the points
    (at least 5), so the curve looks the same for short and long runs.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return v
    if weight is None:
        span = max(5.0, 0.02 * v.size)
        weight = 1.0 - 1.0 / span
    out = np.empty_like(v)
    acc = 0.0
    for i, x in enumerate(v):
        acc = weight * acc + (1.0 - weight) * x
        out[i] = acc / (1.0 - weight ** (i + 1))
    return out


def _epochs_and_batches(history: Any) -> tuple[list[dict[str, Any]], list[list[float]]]:
    """Per-epoch records and per-batch losses from a History or a metrics dict.

    Accepts a :class:`~gnet.train.History`, a list of epoch dicts, or the
    ``train`` part of a metrics JSON (a dict with ``epochs``).
    """
    if isinstance(history, dict):
        return list(history.get("epochs") or []), list(history.get("batch_losses") or [])
    if isinstance(history, (list, tuple)):
        return list(history), []
    return list(history.epochs), list(getattr(history, "batch_losses", None) or [])


def _series(epochs: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, e in enumerate(epochs):
        v = e.get(key)
        if v is not None and math.isfinite(float(v)):
            xs.append(float(e.get("epoch", i + 1)))
            ys.append(float(v))
    return xs, ys


def _images(X: Any) -> np.ndarray:
    """Host (N, side, side) images from (N, side*side), (N, h, w) or (N, h, w, 1) data."""
    a = np.asarray(to_numpy(X), dtype=np.float32)
    if a.ndim == 4 and a.shape[3] == 1:
        a = a[:, :, :, 0]
    if a.ndim == 3:
        return a
    side = math.isqrt(a.shape[1]) if a.ndim == 2 else 0
    if a.ndim != 2 or side * side != a.shape[1]:
        raise ValueError(f"expected square images, got data of shape {a.shape}")
    return a.reshape(a.shape[0], side, side)


# ------------------------------------------------------------------ training


def training_figure(history: Any) -> Figure:
    """Loss (per batch raw and smoothed, per epoch), accuracy and learning rate.

    Three panels sharing the epoch axis. A batch ``j`` of ``m`` in epoch ``e``
    is drawn at ``e - 1 + (j + 1) / m``, so the epoch means (drawn at ``e``)
    sit at the end of the batches they average. Epochs with an empty list of
    batch losses (run before a resume) show only their epoch values.
    """
    epochs, batches = _epochs_and_batches(history)
    if not epochs:
        raise ValueError("the history has no epochs to plot")
    fig = Figure(figsize=(13, 4.2), layout="constrained")
    ax_loss, ax_acc, ax_lr = fig.subplots(1, 3)

    if any(batches):
        xs: list[float] = []
        ys: list[float] = []
        for k, losses in enumerate(batches):
            # batch_losses[k] belongs to epochs[k] (empty for epochs run before a resume).
            e = float(epochs[k].get("epoch", k + 1)) - 1 if k < len(epochs) else float(k)
            m = len(losses)
            xs.extend(e + (j + 1) / m for j in range(m))
            ys.extend(losses)
        ax_loss.plot(xs, ys, color="tab:blue", alpha=0.25, lw=0.7, label="batch")
        ax_loss.plot(xs, smooth(ys), color="tab:blue", lw=1.5, label="batch (smoothed)")
    for key, style, label in (("loss", "o-", "epoch (train)"), ("val_loss", "s--", "validation")):
        ex, ey = _series(epochs, key)
        if ex:
            color = "tab:orange" if key == "loss" else "tab:green"
            ax_loss.plot(ex, ey, style, color=color, ms=4, label=label)
    ax_loss.set_yscale("log")
    ax_loss.set_title("Loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.legend(fontsize="small")
    ax_loss.grid(True, alpha=0.3, which="both")

    for key, style, label, color in (
        ("accuracy", "o-", "train", "tab:orange"),
        ("val_accuracy", "s--", "validation", "tab:green"),
    ):
        ex, ey = _series(epochs, key)
        if ex:
            ax_acc.plot(ex, [100 * v for v in ey], style, color=color, ms=4, label=label)
    ax_acc.set_title("Accuracy (%)")
    ax_acc.set_xlabel("epoch")
    ax_acc.legend(fontsize="small", loc="lower right")
    ax_acc.grid(True, alpha=0.3)

    ex, ey = _series(epochs, "learning_rate")
    if ex:
        # The rate is constant within an epoch: epoch e covers (e - 1, e].
        ax_lr.stairs(ey, [ex[0] - 1, *ex], baseline=None, color="tab:purple", lw=1.5)
        ax_lr.plot(ex, ey, "o", color="tab:purple", ms=4)
        if min(ey) > 0 and max(ey) / min(ey) > 20:
            ax_lr.set_yscale("log")
        else:
            ax_lr.set_ylim(0, 1.15 * max(max(ey), 1e-12))
    ax_lr.set_title("Learning rate")
    ax_lr.set_xlabel("epoch")
    ax_lr.grid(True, alpha=0.3)
    last = float(epochs[-1].get("epoch", len(epochs)))
    first = float(epochs[0].get("epoch", 1)) - 1
    for ax in (ax_loss, ax_acc, ax_lr):
        ax.set_xlim(first if any(batches) else first + 0.8, last + 0.2)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def save_training_plots(history: Any, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``training.png`` into ``out_dir`` (created if needed); returns [path].

    ``history`` is what ``Network.fit`` returned (per-batch losses appear when
    it ran with ``record_batches=True``), or the ``train`` part of a metrics
    JSON.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [save_figure(training_figure(history), out / "training.png")]


# ------------------------------------------------------------------ evaluation


def confusion_figure(
    confusion: Sequence[Sequence[int]],
    class_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """A heatmap of a confusion matrix (rows true, columns predicted) with counts.

    Cells are coloured by their share of the row (the recall on the diagonal)
    and labelled with the count, so the errors of rare classes show too.
    """
    cm = np.asarray(confusion, dtype=np.int64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.size == 0:
        raise ValueError(f"expected a square confusion matrix, got shape {cm.shape}")
    k = cm.shape[0]
    names = [str(c) for c in (class_names or range(k))]
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.55 * k + 2)
    fig = Figure(figsize=(size + 1, size), layout="constrained")
    ax = fig.add_subplot()
    # Off-diagonal shares are small: a square root scale makes them visible.
    im = ax.imshow(np.sqrt(share), cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                color = "white" if share[i, j] > 0.45 else "black"
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = int(cm.sum())
    acc = float(np.trace(cm)) / total if total else 0.0
    ax.set_title(title or f"Confusion matrix ({total} samples, accuracy {100 * acc:.2f} %)")
    bar = fig.colorbar(im, ax=ax, shrink=0.8)
    ticks = [0, 0.01, 0.05, 0.2, 0.5, 1.0]
    bar.set_ticks([math.sqrt(t) for t in ticks], labels=[f"{100 * t:g} %" for t in ticks])
    bar.set_label("share of the true class")
    return fig


def most_confident_mistakes(
    proba: Any, y_true: Any, count: int = MISTAKES
) -> list[tuple[int, int, int, float]]:
    """The ``count`` wrong predictions with the highest probability:
    [(index, true, predicted, probability), ...], most confident first."""
    p = np.asarray(to_numpy(proba), dtype=np.float64)
    y = np.asarray(to_numpy(y_true))
    y = (y.argmax(axis=1) if y.ndim == 2 else y.reshape(-1)).astype(np.int64)
    if p.ndim != 2 or y.size != p.shape[0]:
        raise ValueError(f"{y.size} labels for predictions of shape {p.shape}")
    pred = p.argmax(axis=1)
    conf = p[np.arange(p.shape[0]), pred]
    wrong = np.flatnonzero(pred != y)
    order = wrong[np.argsort(-conf[wrong], kind="stable")][:count]
    return [(int(i), int(y[i]), int(pred[i]), float(conf[i])) for i in order]


def mistakes_figure(
    images: Any,
    mistakes: Sequence[tuple[int, int, int, float]],
    class_names: Sequence[str] | None = None,
    columns: int = 8,
) -> Figure:
    """A gallery of mistakes from :func:`most_confident_mistakes`: each image
    with its true class, the predicted class and the predicted probability."""
    imgs = _images(images)
    n = len(mistakes)
    cols = max(1, min(columns, n))
    rows = max(1, -(-n // cols))
    fig = Figure(figsize=(1.45 * cols + 0.2, 1.7 * rows + 0.6), layout="constrained")
    names = [str(c) for c in class_names] if class_names else None
    if n == 0:
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, "no mistakes", ha="center", va="center", fontsize=14)
        return fig
    axes = np.atleast_1d(fig.subplots(rows, cols)).reshape(-1)
    for ax, (i, t, p, prob) in zip(axes, mistakes, strict=False):
        ax.imshow(imgs[i], cmap="gray_r", interpolation="nearest")
        tn = names[t] if names else str(t)
        pn = names[p] if names else str(p)
        ax.set_title(f"true {tn}\npred {pn} {100 * prob:.0f}%", fontsize=8, color="firebrick")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.remove()
    fig.suptitle("Most confident mistakes")
    return fig


def save_evaluation_plots(
    net: Any,
    X_test: Any,
    y_test: Any,
    report: dict[str, Any],
    out_dir: str | os.PathLike[str],
) -> list[Path]:
    """Write ``confusion_matrix.png``, ``mistakes.png`` and ``weights.png``,
    and for a network with conv layers ``conv_filters.png`` and
    ``feature_maps.png``, into ``out_dir`` (created if needed); returns
    their paths.

    ``report`` is what ``net.evaluate(X_test, y_test)`` returned (its
    confusion matrix is drawn as is). X_test is what the network takes
    (flat rows or images). ``mistakes.png`` and ``feature_maps.png`` are
    left out, with a log message, when the inputs are not one-channel
    images; ``weights.png`` when no dense layer reads a square image directly.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = list(getattr(net, "class_names", None) or [])
    paths = [
        save_figure(
            confusion_figure(report["confusion_matrix"], names), out / "confusion_matrix.png"
        )
    ]
    convs = conv_layers(net)
    if image_shape(net) is None:
        logger.info(
            "mistakes.png, weights.png and feature_maps.png left out: input shape %s is "
            "not a one-channel image",
            tuple(net.input_shape),
        )
    else:
        proba = net.predict_proba(X_test)
        mistakes = most_confident_mistakes(proba, y_test)
        images = images_of(net, X_test)
        paths.append(save_figure(mistakes_figure(images, mistakes, names), out / "mistakes.png"))
        try:
            weights = weights_figure(net)
        except ValueError as exc:
            logger.info("weights.png left out: %s", exc)
        else:
            paths.append(save_figure(weights, out / "weights.png"))
    if convs:
        paths.append(save_figure(conv_filters_figure(net), out / "conv_filters.png"))
        x = np.asarray(to_numpy(X_test[:1]))[0]
        true = int(np.asarray(to_numpy(y_test[:1])).reshape(-1)[0]) if len(names) else None
        title = "Feature maps of the first test image"
        if true is not None and 0 <= true < len(names):
            title += f" (true {names[true]})"
        paths.append(save_figure(feature_maps_figure(net, x, title), out / "feature_maps.png"))
    return paths
