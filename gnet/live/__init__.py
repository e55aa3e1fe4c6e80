"""Watch training in the browser: ``gnet train --live`` and :class:`LiveView`.

>>> live = gnet.LiveView(port=8766)            # listens now (port 0: any free one)
>>> result = gnet.run("configs/mnist-cnn.json", callbacks=[live])
>>> live.url                                    # 'http://127.0.0.1:8766/'

The page shows, as the run goes: the loss (per reading, raw and smoothed,
and per epoch with the validation loss), training and validation accuracy
per epoch, the learning rate, samples/s, the epoch and the ETA; at the end
the test confusion matrix and the most confident mistakes (their images
drawn on canvases from the pixel values).

Speed: the callback never synchronises the device per batch. At most
``hz`` times a second (default 5), and never for more than 1 % of the time
(a reading costs more late in a long epoch: it then comes less often), it
reads ``info["running_loss"]()``, the epoch's mean loss so far (one device
read); the difference between two
readings gives the mean loss of the batches in between, the "raw" point
(in per-sample mode the running mean is drawn as well). Everything else is
host arithmetic on numbers the loop hands over anyway. The HTTP server runs
in a daemon thread; the callback only appends to a bounded, lock-protected
:class:`~gnet.live.state.LiveState`.

Life cycle: the socket is bound in the constructor (so a busy port fails
before any data loads); the server stops when training ends (after the
final results are out), unless ``keep=True``: then it serves until
:meth:`LiveView.close` (or :meth:`LiveView.wait`, which returns on
Ctrl-C). Final results need the test images: under :func:`gnet.run` they
come with its ``on_run_end`` hook (with the run's own test report); for a
plain ``fit``, give them as ``test_data=(X, y)``.

The library prints nothing; requests and problems go to the ``gnet.live``
logger. See :mod:`gnet.live.server` for the endpoints.
"""

from __future__ import annotations

import logging
import threading
import time
import webbrowser
from typing import Any

from ..train import Callback
from .plot import EpochPlots
from .server import LiveServer, make_server
from .state import LiveState

logger = logging.getLogger("gnet.live")

__all__ = ["LiveView", "EpochPlots", "LiveState", "LiveServer", "DEFAULT_PORT", "TICK_HZ"]

DEFAULT_PORT = 8766  # the demo's is 8765: both can run at once
TICK_HZ = 5.0
READ_SHARE = 0.01  # at most this share of the training time goes to loss readings


class LiveView(Callback):
    """A training callback that serves the live page on ``host``:``port``."""

    def __init__(
        self,
        port: int = DEFAULT_PORT,
        host: str = "127.0.0.1",
        keep: bool = False,
        *,
        test_data: tuple[Any, Any] | None = None,
        hz: float = TICK_HZ,
    ):
        if not hz > 0:
            raise ValueError(f"hz: expected a positive rate, got {hz!r}")
        self.keep = keep
        self.test_data = test_data
        self.state = LiveState()
        self.server: LiveServer = make_server(self.state, host, port)
        self.url = self.server.url
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="gnet-live", daemon=True
        )
        self._thread.start()
        self._closed = False
        self._period = 1.0 / hz
        self._net: Any = None
        self._run: dict[str, Any] = {}
        self._n = 1
        self._epochs = self._last_epoch = 0
        self._epoch = 0
        self._start = self._epoch_start = self._next = 0.0
        self._last = (0, 0.0)  # (samples, running mean) at the last reading
        self._walls: list[float] = []
        self._cost = 0.0  # seconds per sample of the last reading
        self._read_at = 0.0
        logger.info("live view on %s", self.url)

    # ---------------------------------------------------------------- hooks

    def on_run_begin(self, info: dict[str, Any]) -> None:
        config, net = info["config"], info["network"]
        self._net, self._run = net, info
        self.state.set_run(
            {
                "dataset": config.get("dataset"),
                "model": describe_model(net),
                "mode": config.get("mode"),
                "batch_size": config.get("batch_size"),
                "optimizer": config.get("optimizer"),
                "learning_rate": config.get("learning_rate"),
                "epochs": config.get("epochs"),
                "epochs_before": info.get("epochs_before", 0),
                "n_train": info.get("n_train"),
                "n_validation": info.get("n_validation"),
                "n_test": info.get("n_test"),
                "device": getattr(info.get("backend"), "spec", None),
            }
        )

    def on_train_begin(self, net: Any, info: dict[str, Any]) -> None:
        self._net = net
        self._n = max(1, int(info.get("samples_total", 1)))
        self._epochs = int(info.get("epochs", 0))
        self._last_epoch = (getattr(net, "epochs_trained", 0) or 0) + self._epochs
        self._start = time.perf_counter()
        self._walls = []
        run = {
            "n_train": self._n,
            "batch_size": info.get("batch_size"),
            "batches": info.get("batches"),
            "epochs": self._last_epoch,
            "class_names": list(getattr(net, "class_names", [])),
        }
        if not self._run:
            run["model"] = describe_model(net)
        self.state.set_run(run)
        self.state.set_status("training")

    def on_epoch_begin(self, epoch: int, info: dict[str, Any]) -> None:
        self._epoch = epoch
        self._epoch_start = time.perf_counter()
        self._next = self._epoch_start + self._period
        self._read_at = self._epoch_start
        self._last = (0, 0.0)
        self._n = max(1, int(info.get("samples_total", self._n)))

    def on_batch_end(self, batch: int, info: dict[str, Any]) -> None:
        # Called after every batch: return at once unless a reading is due.
        now = time.perf_counter()
        if now < self._next:
            return
        self._next = now + self._period
        read = info.get("running_loss")
        samples = int(info.get("samples", 0))
        # A reading costs O(samples so far) on the device (a pass over the
        # epoch's outputs): skip it while its expected cost would be more than
        # READ_SHARE of the time since the last one.
        if read is None or samples * self._cost > READ_SHARE * (now - self._read_at):
            return
        mean = float(read())
        self._cost = (time.perf_counter() - now) / max(samples, 1)  # seconds per sample
        self._read_at = now
        self._tick(now, samples, mean, batch)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        now = time.perf_counter()
        samples = int(logs.get("samples", self._n))
        if samples > self._last[0]:  # the batches after the last reading
            self._tick(now, samples, float(logs["loss"]), None)
        self._walls.append(now - self._epoch_start)
        record: dict[str, Any] = {
            k: logs[k]
            for k in ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")
            if k in logs
        }
        seconds = float(logs.get("seconds") or 0.0)
        record.update(
            seconds=seconds,
            samples_per_second=samples / seconds if seconds > 0 else None,
            t=now - self._start,
            eta=self._eta(epoch, samples, 0.0),
        )
        self.state.add_epoch(record)

    def on_train_end(self, history: Any) -> None:
        self._ended = {
            "stopped_early": bool(getattr(history, "stopped_early", False)),
            "best_epoch": getattr(history, "best_epoch", None),
        }
        self.state.set_status("evaluating")
        if not self._run:  # a plain fit: the test data given to the constructor, if any
            self._finish(self.test_data, None)
        # under gnet.run, on_run_end brings the test data and report

    def on_run_end(self, info: dict[str, Any]) -> None:
        self._finish(info.get("test_data"), info.get("report"))

    def _finish(self, data: tuple[Any, Any] | None, report: dict[str, Any] | None) -> None:
        try:
            final = self._final(data, report)
        except Exception as e:  # the run goes on without the page's final panel
            logger.warning("live view: final results failed (%s)", e, exc_info=True)
            final = {"error": f"final results failed: {e}"}
        final.update(getattr(self, "_ended", {}))
        self.state.set_final(final)
        if not self.keep:
            self.close()

    # ---------------------------------------------------------------- helpers

    def _tick(self, now: float, samples: int, mean: float, batch: int | None) -> None:
        before, before_mean = self._last
        # The mean loss of the batches since the last reading, from two running means.
        window = (mean * samples - before_mean * before) / max(samples - before, 1)
        self._last = (samples, mean)
        elapsed = max(now - self._epoch_start, 1e-9)
        rate = samples / elapsed
        self.state.add_tick(
            {
                "x": self._epoch - 1 + samples / self._n,
                "epoch": self._epoch,
                "batch": batch,
                "samples": samples,
                "loss": max(window, 0.0),
                "mean": mean,
                "rate": rate,
                "eta": self._eta(self._epoch, samples, rate),
                "t": now - self._start,
            }
        )

    def _eta(self, epoch: int, samples: int, rate: float) -> float:
        """Seconds left: the rest of this epoch at its rate, then the epochs after
        it at the mean wall time of the finished ones (validation included)."""
        this = (self._n - samples) / rate if rate > 0 else 0.0
        if self._walls:
            per_epoch = sum(self._walls) / len(self._walls)
        else:
            per_epoch = self._n / rate if rate > 0 else 0.0
        return this + max(self._last_epoch - epoch, 0) * per_epoch

    def _final(
        self, data: tuple[Any, Any] | None, report: dict[str, Any] | None
    ) -> dict[str, Any]:
        from .results import final_results

        started = time.perf_counter()
        if data is None or self._net is None:
            return {"error": "no test data given: no confusion matrix"}
        result = final_results(self._net, data[0], data[1])
        if report is not None:  # the run's own test report (all ranks' rows when distributed)
            result.update(
                accuracy=report["accuracy"],
                n_samples=report["n_samples"],
                confusion_matrix=report["confusion_matrix"],
            )
        result["seconds"] = time.perf_counter() - started
        return result

    # ---------------------------------------------------------------- life cycle

    def open_browser(self) -> None:
        """Open the page with :mod:`webbrowser` (from a thread: a text-mode
        browser would block the caller)."""
        threading.Thread(target=webbrowser.open, args=(self.url,), daemon=True).start()

    def close(self) -> None:
        """Stop the server (idempotent); a page still open keeps what it shows."""
        if self._closed:
            return
        self._closed = True
        if not self.state.finished:
            self.state.set_final({"error": "the run stopped before the end"}, status="failed")
        self.server.stop()
        self._thread.join(5)

    def wait(self) -> None:
        """Serve until Ctrl-C (KeyboardInterrupt), then close; for ``keep=True``."""
        try:
            while not self._closed:
                time.sleep(0.5)
        finally:
            self.close()

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def describe_model(net: Any) -> str:
    """The layers as text, e.g. "28x28x1 > conv2d 8 3 > maxpool2d 2 > flatten > dense 10"."""
    try:
        spec = net.spec()
    except Exception:
        return type(net).__name__
    parts = ["x".join(str(n) for n in spec.get("input_shape", []))]
    for layer in spec.get("layers", []):
        fields = [
            str(v)
            for k, v in layer.items()
            if k not in ("type", "init") and v not in (None, "", 0, False)
        ]
        parts.append(" ".join([str(layer.get("type"))] + fields))
    return " > ".join(parts)
