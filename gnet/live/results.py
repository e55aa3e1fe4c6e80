"""The live view's final results: test confusion matrix and the most confident mistakes.

Computed once, on the host, after training: the probabilities of the test
images give the confusion matrix and the mistakes; each mistake carries its
image as 0..255 integers row by row, so the page draws it on a canvas.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from ..backend import to_numpy

logger = logging.getLogger("gnet.live")

MISTAKES = 24


def final_results(
    net: Any, X: Any, y: Any, count: int = MISTAKES, elapsed: float | None = None
) -> dict[str, Any]:
    """{"accuracy", "n_samples", "confusion_matrix", "class_names", "mistakes": [{"index",
    "true", "predicted", "probability", "side", "pixels"}], "seconds"} for ``net`` on (X, y)."""
    from ..plots import most_confident_mistakes

    proba = np.asarray(to_numpy(net.predict_proba(X)), dtype=np.float64)
    labels = np.asarray(to_numpy(y))
    labels = (labels.argmax(axis=1) if labels.ndim == 2 else labels.reshape(-1)).astype(np.int64)
    k = proba.shape[1]
    pred = proba.argmax(axis=1)
    cm = np.bincount(labels * k + pred, minlength=k * k).reshape(k, k)
    images = _images(X)
    mistakes = []
    for index, true, predicted, probability in most_confident_mistakes(proba, labels, count):
        item: dict[str, Any] = {
            "index": index,
            "true": true,
            "predicted": predicted,
            "probability": probability,
        }
        if images is not None:
            item["side"] = images.shape[1]
            item["pixels"] = images[index].reshape(-1).tolist()
        mistakes.append(item)
    n = int(labels.size)
    return {
        "accuracy": float(np.trace(cm)) / n if n else 0.0,
        "n_samples": n,
        "confusion_matrix": cm.tolist(),
        "class_names": list(getattr(net, "class_names", [str(c) for c in range(k)])),
        "mistakes": mistakes,
        "seconds": elapsed,
    }


def _images(X: Any) -> np.ndarray | None:
    """(N, side, side) uint8 images of one-channel square inputs, else None."""
    a = np.asarray(to_numpy(X))
    if a.ndim == 4 and a.shape[3] == 1:
        a = a[:, :, :, 0]
    if a.ndim == 2:
        side = math.isqrt(a.shape[1])
        if side * side != a.shape[1]:
            return None
        a = a.reshape(a.shape[0], side, side)
    if a.ndim != 3 or a.shape[1] != a.shape[2]:
        return None
    scaled = a.astype(np.float32) * (255.0 if a.dtype.kind == "f" and a.max(initial=0) <= 1 else 1)
    out: np.ndarray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return out
