"""Batch sizes: what each training mode means for n samples, and the
schedules that change the mini-batch size from one epoch to the next."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

MODES = ("per-sample", "mini-batch", "full-batch")


def batch_size_for(mode: str, batch_size: int | None, n: int) -> int:
    """The batch size a mode means for n training samples."""
    if mode not in MODES:
        raise ConfigError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    if mode == "per-sample":
        return 1
    if mode == "full-batch":
        return n
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size: expected an integer >= 1, got {batch_size!r}")
    return min(batch_size, n)


@dataclass(frozen=True)
class LinearBatchSize:
    """Batch size from ``batch_size`` to ``final`` in a straight line over the
    run's epochs, rounded; the last epoch (of two or more) uses ``final``.

    Shrinking the batch as training goes on is the seeds' way of annealing:
    large batches average the gradient noise away early, small ones take
    more (noisier) steps per epoch near the end.
    """

    final: int

    def __call__(self, epoch: int, base: int, epochs: int) -> int:
        progress = min(epoch / max(epochs - 1, 1), 1.0)
        return max(1, round(base + (self.final - base) * progress))


def make_batch_schedule(spec: Any) -> Any:
    """A batch-size schedule from ``None``, a callable ``(0-based epoch, base
    size, total epochs) -> size``, ``"linear:FINAL"`` or ``{"type": "linear",
    "final": FINAL}`` (read by :func:`gnet.config.schedules.parse_batch_schedule`)."""
    from .config.schedules import parse_batch_schedule

    if spec is None or callable(spec):
        return spec
    if isinstance(spec, str) and spec.strip().lower() in ("", "none", "null"):
        raise ConfigError(f"batch_schedule {spec!r}: expected linear:FINAL")
    parsed = parse_batch_schedule(spec)
    return LinearBatchSize(int(parsed["final"])) if parsed else None


def scheduled_size(sizes: Any, epoch0: int, base: int, epochs: int, n: int) -> int:
    """The batch size a schedule gives for 0-based ``epoch0``, checked and capped at n."""
    value = sizes(epoch0, base, epochs)
    try:
        size = operator.index(value)
    except TypeError:
        size = 0
    if isinstance(value, bool) or size < 1:
        raise ConfigError(
            f"batch_schedule: gave {value!r} for epoch {epoch0 + 1}; expected an integer >= 1"
        )
    return min(size, n)
