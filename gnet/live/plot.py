"""``--plot DIR`` during training: ``training.png`` rewritten after every epoch.

:class:`EpochPlots` is a training callback. After each epoch it hands the
epoch records so far to a worker thread, which draws them with
:func:`gnet.plots.training_figure` and writes the file atomically with
:func:`gnet.plots.save_figure` (a temporary file, then a rename), so an
image viewer never sees half a PNG. Drawing takes a few tenths of a second;
on the worker it overlaps the next epoch instead of adding to it, and when
epochs end faster than that only the latest state is drawn. ``on_train_end``
waits for the last drawing, so that the run's own final ``training.png``
(with the per-batch losses) is always written after it, never under it.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from ..train import Callback

logger = logging.getLogger("gnet.live")


class EpochPlots(Callback):
    """Rewrite ``<out_dir>/training.png`` after every epoch (on a worker thread)."""

    def __init__(self, out_dir: str | os.PathLike[str], filename: str = "training.png"):
        self.path = Path(out_dir) / filename
        self.epochs: list[dict[str, Any]] = []
        self.written = 0  # drawings written (for tests)
        self._pending: list[dict[str, Any]] | None = None
        self._cond = threading.Condition()
        self._busy = False
        self._thread: threading.Thread | None = None

    def on_train_begin(self, net: Any, info: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        self.epochs.append(dict(logs))
        with self._cond:
            self._pending = list(self.epochs)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="gnet-epoch-plots", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def on_train_end(self, history: Any) -> None:
        self.flush()

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until the latest epochs are drawn (or ``timeout`` seconds)."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def _work(self) -> None:
        from ..plots import save_figure, training_figure

        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None)
                epochs, self._pending = self._pending, None
                self._busy = True
            try:
                save_figure(training_figure(epochs or []), self.path)
                self.written += 1
            except Exception as e:  # a plot must never stop the training
                logger.warning("could not write %s (%s)", self.path, e)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
