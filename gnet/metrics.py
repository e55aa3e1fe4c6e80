"""Classification metrics from labels, all through the array namespace.

The confusion matrix is a one-hot matmul, ``onehot(y_true).T @ onehot(y_pred)``:
no boolean masks, no data-dependent shapes, one kernel on a GPU.
"""

from __future__ import annotations

from typing import Any

from array_api_compat import array_namespace, device


def one_hot(y: Any, n_classes: int, dtype: Any) -> Any:
    """(N,) integer labels -> (N, n_classes) rows of 0 and 1."""
    xp = array_namespace(y)
    classes = xp.arange(n_classes, device=device(y), dtype=y.dtype)
    return xp.astype(xp.reshape(y, (-1, 1)) == classes, dtype)


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int) -> Any:
    """(n_classes, n_classes) counts: row = true label, column = prediction.

    Counted in float32, which is exact up to 2**24 (16.7 million) per cell.
    """
    xp = array_namespace(y_true)
    counts = xp.matrix_transpose(one_hot(y_true, n_classes, xp.float32)) @ one_hot(
        y_pred, n_classes, xp.float32
    )
    return xp.astype(counts, xp.int64)


def accuracy(y_true: Any, y_pred: Any) -> Any:
    """Fraction of equal labels, as a 0-d array."""
    xp = array_namespace(y_true)
    return xp.mean(xp.astype(y_true == y_pred, xp.float32))


def per_class(cm: list[list[int]]) -> list[dict[str, float]]:
    """One-vs-rest accuracy, precision, recall, F1 and support per class.

    ``cm`` is a host confusion matrix (rows true, columns predicted). A class
    never predicted has precision 0; a class absent from the data recall 0.
    """
    n = len(cm)
    total = sum(sum(row) for row in cm)
    rows = []
    for k in range(n):
        tp = cm[k][k]
        support = sum(cm[k])
        predicted = sum(cm[i][k] for i in range(n))
        fp, fn = predicted - tp, support - tp
        tn = total - tp - fp - fn
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append(
            {
                "label": k,
                "accuracy": (tp + tn) / total if total else 0.0,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "support": support,
            }
        )
    return rows


def macro_f1(rows: list[dict[str, float]]) -> float:
    """Unweighted mean of the per-class F1 scores."""
    return sum(r["f1"] for r in rows) / len(rows) if rows else 0.0
