"""Inference on a Network: outputs, labels, the loss and the evaluation
report, computed chunk by chunk so memory stays bounded on large inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import backend as B
from .layers import INFERENCE
from .metrics import confusion_matrix, macro_f1, per_class

# The most rows per forward pass in predict/evaluate; networks whose layers
# hold more per row (convolutions) take fewer: Network.max_rows's memory budget.
CHUNK = 8192


class Inference:
    """Mixed into :class:`gnet.network.Network`."""

    # Provided by Network.
    xp: Any
    backend: Any
    n_classes: Any
    as_input: Callable[..., Any]
    as_labels: Callable[..., tuple[Any, Any]]
    forward_with: Callable[[Any, Any], Any]
    max_rows: Callable[[], int]
    loss_input: Callable[[Any], Any]
    total_loss: Callable[[Any, Any], Any]

    def predict_proba(self, X: Any) -> Any:
        """Output activations (N, classes) (class probabilities with softmax)."""
        with self.backend.context():
            return self._predict_prepared(self.as_input(X))

    def predict(self, X: Any) -> Any:
        """Predicted class indices (N,) as an int64 array on the network's device."""
        P = self.predict_proba(X)
        with self.backend.context():
            return self.xp.argmax(P, axis=1)

    def _chunk_rows(self) -> int:
        """Rows per inference pass: at most CHUNK, and few enough that the
        activations stay within the training memory budget (a 10,000-image
        forward pass through a same-padded conv net would otherwise hold
        several GB at once)."""
        return min(CHUNK, self.max_rows())

    def _predict_prepared(self, X: Any) -> Any:
        n, rows = X.shape[0], self._chunk_rows()
        if n <= rows:
            return self.forward_with(X, INFERENCE)
        parts = [
            self.forward_with(X[s : min(s + rows, n), ...], INFERENCE) for s in range(0, n, rows)
        ]
        return self.xp.concat(parts, axis=0)

    def _loss_and_predictions(self, X: Any, Y: Any) -> tuple[Any, Any]:
        """Summed loss (0-d device array) and argmax predictions, chunk by chunk."""
        xp = self.xp
        total, preds = None, []
        n, rows = X.shape[0], self._chunk_rows()
        for s in range(0, n, rows):
            e = min(s + rows, n)
            A = self.forward_with(X[s:e, ...], INFERENCE)
            part = self.total_loss(self.loss_input(A), Y[s:e, :])
            total = part if total is None else total + part
            preds.append(xp.argmax(A, axis=1))
        return total, preds[0] if len(preds) == 1 else xp.concat(preds, axis=0)

    def loss_value(self, X: Any, y: Any) -> float:
        """The batch-mean loss (no dropout), as a Python float."""
        with self.backend.context():
            X = self.as_input(X)
            n: int = X.shape[0]
            _, Y = self.as_labels(y, n)
            total, _ = self._loss_and_predictions(X, Y)
            return float(total) / n

    def evaluate(self, X: Any, y: Any) -> dict[str, Any]:
        """Accuracy, loss, confusion matrix, per-class metrics and macro F1 (host values)."""
        with self.backend.context():
            X = self.as_input(X)
            y, Y = self.as_labels(y, X.shape[0])
            loss_sum, y_pred = self._loss_and_predictions(X, Y)
            cm = B.to_numpy(confusion_matrix(y, y_pred, self.n_classes)).tolist()
        n = X.shape[0]
        rows = per_class(cm)
        return {
            "accuracy": sum(cm[k][k] for k in range(len(cm))) / n,
            "loss": float(loss_sum) / n,
            "confusion_matrix": cm,
            "per_class": rows,
            "macro_f1": macro_f1(rows),
            "n_samples": n,
        }
