"""What a training run reports: :class:`History`, the per-epoch records of a
``fit``, and :class:`Callback`, the hooks through which progress reaches
callers (the library itself prints nothing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class History:
    """Per-epoch records: epoch, seconds, loss, accuracy, learning_rate,
    batch_size, samples and, with validation data, val_loss and val_accuracy."""

    epochs: list[dict[str, Any]] = field(default_factory=list)
    batch_losses: list[list[float]] = field(default_factory=list)
    stopped_early: bool = False
    best_epoch: int | None = None

    def __getitem__(self, key: str) -> list[Any]:
        return [e.get(key) for e in self.epochs]

    @property
    def loss(self) -> list[float]:
        return self["loss"]

    @property
    def accuracy(self) -> list[float]:
        return self["accuracy"]

    @property
    def seconds(self) -> float:
        total: float = sum(e["seconds"] for e in self.epochs)
        return total

    @property
    def samples_per_second(self) -> float:
        samples = sum(e["samples"] for e in self.epochs)
        return samples / self.seconds if self.seconds else 0.0


class Callback:
    """Hooks called by :func:`fit`; override the ones you need.

    ``on_batch_end`` receives ``info`` with ``batch``, ``batches``,
    ``samples`` (done so far this epoch) and ``running_loss()``, the mean
    loss of the epoch so far (it reads the device, so call it sparingly).
    ``on_epoch_end`` receives the epoch's record; set ``net.stop_training``
    to stop after this epoch.
    """

    def on_train_begin(self, net: Any, info: dict[str, Any]) -> None: ...

    def on_epoch_begin(self, epoch: int, info: dict[str, Any]) -> None: ...

    def on_batch_end(self, batch: int, info: dict[str, Any]) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None: ...

    def on_train_end(self, history: History) -> None: ...
