"""Results summed across MPI ranks: the test report of a sharded test set and
the input statistics of a sharded training set (each rank holds its rows;
one or two small reductions, the same numbers on every rank)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import backend as B
from .metrics import confusion_matrix, macro_f1, per_class

if TYPE_CHECKING:
    from .distributed import Comm
    from .network import Network


def evaluate(comm: Comm, net: Network, X: Any, y: Any, n_total: int) -> dict[str, Any]:
    """:meth:`Network.evaluate` of a test set sharded across the ranks (this rank's
    rows X, y; ``n_total`` rows in all): one reduction of the loss sum and the
    confusion matrix, the same report on every rank."""
    k = net.n_classes
    loss, cm = 0.0, np.zeros((k, k))
    with net.backend.context():
        Xd = net.as_input(X)
        yd, Yd = net.as_labels(y, Xd.shape[0])
        if Xd.shape[0]:
            loss_sum, pred = net._loss_and_predictions(Xd, Yd)
            loss = float(loss_sum)
            cm = B.to_numpy(confusion_matrix(yd, pred, k)).astype(np.float64)
    total = comm.sum(np.concatenate([[loss], cm.reshape(-1)]))
    matrix = [[int(round(v)) for v in row] for row in total[1:].reshape(k, k)]
    rows = per_class(matrix)
    return {
        "accuracy": sum(matrix[i][i] for i in range(k)) / n_total,
        "loss": float(total[0]) / n_total,
        "confusion_matrix": matrix,
        "per_class": rows,
        "macro_f1": macro_f1(rows),
        "n_samples": n_total,
    }


def normalization_stats(comm: Comm, X: np.ndarray, n_total: int) -> tuple[float, float]:
    """Mean and standard deviation over the training rows of every rank (this
    rank's rows X; ``n_total`` rows in all), in float64: two small reductions."""
    values = n_total * (math.prod(X.shape[1:]) if X.ndim > 1 else 1)
    mean = float(comm.sum([_block_sum(X, 0.0, False)])[0]) / values
    squares = float(comm.sum([_block_sum(X, mean, True)])[0])
    return mean, math.sqrt(squares / values)


def _block_sum(X: np.ndarray, mean: float, square: bool, rows: int = 8192) -> float:
    total = 0.0
    for s in range(0, X.shape[0], rows):
        block = np.asarray(X[s : s + rows], dtype=np.float64)
        total += float(np.sum((block - mean) ** 2)) if square else float(np.sum(block))
    return total
