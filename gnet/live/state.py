"""The live view's shared state: a bounded, lock-protected record of a run.

The training thread appends (run description, loss ticks, epoch records, the
final results); server threads read snapshots and wait for what is new. All
values are plain Python numbers, strings and lists, ready for JSON, so a
reader never touches the network or the device.

Every change takes the next sequence number ``seq``; a reader that has seen
``seq`` asks for what came after it (:meth:`LiveState.since`). Loss ticks
are bounded: when :data:`MAX_TICKS` is reached every other stored tick is
dropped and only every second new one is kept from then on, so a long run
keeps its whole curve at a coarser resolution and memory stays flat.
"""

from __future__ import annotations

import json
import math
import threading
from typing import Any

MAX_TICKS = 8192
"""Loss points kept (decimated by two each time the limit is reached)."""

MAX_EPOCHS = 10_000
"""Epoch records kept (the oldest are dropped beyond this)."""

STATUSES = ("waiting", "training", "evaluating", "done", "failed")


def clean(value: Any) -> Any:
    """``value`` with non-finite floats as None (JSON has no NaN or Infinity),
    recursively through dicts, lists and tuples; other leaves as they are."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def to_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON of ``obj`` (non-finite floats become null)."""
    return json.dumps(clean(obj), separators=(",", ":"), allow_nan=False).encode("utf-8")


class LiveState:
    """What the page shows, kept by the training thread for the server threads."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.seq = 0
        self.status = "waiting"
        self.run: dict[str, Any] = {}
        self.progress: dict[str, Any] = {}
        self.ticks: list[dict[str, Any]] = []
        self.epochs: list[dict[str, Any]] = []
        self.final: dict[str, Any] | None = None
        self._final_seq = 0
        self._stride = 1  # keep every stride-th new tick (grows as ticks are decimated)
        self._skipped = 0
        self.closed = False

    # ------------------------------------------------------------ writers

    def _bump(self) -> int:
        self.seq += 1
        self._cond.notify_all()
        return self.seq

    def set_run(self, run: dict[str, Any]) -> None:
        with self._cond:
            self.run = {**self.run, **clean(run)}
            self._bump()

    def set_status(self, status: str) -> None:
        assert status in STATUSES, status
        with self._cond:
            self.status = status
            self._bump()

    def add_tick(self, tick: dict[str, Any]) -> None:
        """A loss reading; ``progress`` fields (epoch, rate, ETA) always update."""
        with self._cond:
            self.progress = clean(
                {k: tick[k] for k in ("epoch", "samples", "rate", "eta", "t") if k in tick}
            )
            self._skipped += 1
            if self._skipped >= self._stride:
                self._skipped = 0
                if len(self.ticks) >= MAX_TICKS:
                    self.ticks = self.ticks[::2]
                    self._stride *= 2
                self.ticks.append({**clean(tick), "i": self.seq + 1})
            self._bump()

    def add_epoch(self, record: dict[str, Any]) -> None:
        with self._cond:
            if len(self.epochs) >= MAX_EPOCHS:
                del self.epochs[0]
            self.epochs.append({**clean(record), "i": self.seq + 1})
            self._bump()

    def set_final(self, final: dict[str, Any], status: str = "done") -> None:
        with self._cond:
            self.final = clean(final)
            self.status = status
            self._final_seq = self._bump()

    def close(self) -> None:
        """Wake every waiting reader for good (the server is stopping)."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    # ------------------------------------------------------------ readers

    def snapshot(self) -> dict[str, Any]:
        """Everything so far (what a page opened late starts from)."""
        with self._cond:
            return {
                "seq": self.seq,
                "status": self.status,
                "run": self.run,
                "progress": self.progress,
                "ticks": list(self.ticks),
                "epochs": list(self.epochs),
                "final": self.final,
            }

    def since(self, seq: int) -> dict[str, Any]:
        """What changed after ``seq``: new ticks and epochs, and the run, the
        final results when they changed (else absent)."""
        with self._cond:
            update: dict[str, Any] = {
                "seq": self.seq,
                "status": self.status,
                "progress": self.progress,
                "ticks": _after(self.ticks, seq),
                "epochs": _after(self.epochs, seq),
            }
            if self.run and seq < self.seq:
                update["run"] = self.run
            if self.final is not None and self._final_seq > seq:
                update["final"] = self.final
            return update

    def wait(self, seq: int, timeout: float) -> bool:
        """Block until something newer than ``seq`` exists (True), or the
        timeout passes or the state is closed (False)."""
        with self._cond:
            self._cond.wait_for(lambda: self.seq > seq or self.closed, timeout)
            return self.seq > seq

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


def _after(items: list[dict[str, Any]], seq: int) -> list[dict[str, Any]]:
    """The items (sorted by their ``i``) with ``i > seq``: a scan from the end,
    which stops after the few new ones."""
    k = len(items)
    while k > 0 and items[k - 1]["i"] > seq:
        k -= 1
    return items[k:]
