"""What ``gnet train`` shows while it runs: the run's one-line description,
a line per epoch, and rich progress bars on a terminal (gnet.run's callbacks)."""

from __future__ import annotations

import time
from typing import Any

from .base import Output, plural

PROGRESS_HZ = 10  # progress-bar refreshes per second (each reads the device)


def describe_run(info: dict[str, Any], threads: int | None) -> str:
    """One line: data, network, training recipe and device of a run (gnet.run's on_run_begin)."""
    config, backend = info["config"], info["backend"]
    if isinstance(config["layers"][0], dict):
        shape = "x".join(str(n) for n in config["input_shape"])
        arch = f"{shape} -> " + ", ".join(_layer_text(spec) for spec in config["layers"])
    else:
        arch = "-".join(str(n) for n in config["layers"]) + " " + "/".join(config["activations"])
    batch = {"per-sample": "per-sample", "full-batch": "full-batch"}.get(
        config["mode"], f"mini-batch {config['batch_size']}"
    )
    if config["batch_schedule"]:
        batch += f" to {config['batch_schedule']['final']} ({config['batch_schedule']['type']})"
    opt = f"{config['optimizer']} lr {config['learning_rate']:g}"
    if config["optimizer"] == "sgd" and config["momentum"]:
        opt += f" momentum {config['momentum']:g}" + (" nesterov" if config["nesterov"] else "")
    extras = [f"{k} {config[k]:g}" for k in ("l1", "l2", "dropout", "dropconnect") if config[k]]
    if config["lr_schedule"]:
        spec = dict(config["lr_schedule"])
        extras.append(
            "schedule " + spec.pop("type") + "".join(f" {k}={v:g}" for k, v in spec.items())
        )
    if config["normalize"]:
        extras.append("normalized inputs")
    val = f", {info['n_validation']} validation" if info["n_validation"] else ""
    cores = f", {plural(threads, 'thread')}" if threads else ""
    return (
        f"{config['dataset']}: {info['n_train']} training{val}, {info['n_test']} test images; "
        f"network {arch}, {config['loss']}, init {config['init']}, {config['dtype']}; "
        f"{batch}, {opt}{', ' + ', '.join(extras) if extras else ''}; "
        f"{plural(config['epochs'], 'epoch')}, seed {config['seed']}; device {backend.spec} "
        f"({backend.describe()}{cores})"
    )


def _layer_text(spec: dict[str, Any]) -> str:
    fields = [f"{v}" for k, v in spec.items() if k != "type"]
    return str(spec["type"]) + (f" {' '.join(fields)}" if fields else "")


class EpochLines:
    """Callbacks of gnet.run: the run's description, then one line per epoch
    (seconds, loss, accuracy, validation)."""

    def __init__(self, out: Output, threads: int | None):
        self.out = out
        self.threads = threads
        self.epochs = 0
        self.net: Any = None

    def on_run_begin(self, info: dict[str, Any]) -> None:
        self.net, self.epochs = info["network"], info["config"]["epochs"]
        self.out.print(describe_run(info, self.threads))
        if not self.out.quiet:
            from ..summary import summary_text

            self.out.print(summary_text(self.net))
        if info["resume"] is not None:
            self.out.print(
                f"resuming {info['resume']} after epoch {info['epochs_before']} of {self.epochs}"
            )

    def on_epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        from ..report import epoch_line

        self.out.print(epoch_line(record, self.epochs))

    def close(self) -> None:
        pass


class ProgressBars(EpochLines):
    """Callbacks: a rich progress bar per epoch (batches, samples/s, running loss)
    and the epoch line when it ends. Reads the device at most PROGRESS_HZ times a second."""

    def __init__(self, out: Output, threads: int | None):
        super().__init__(out, threads)
        self.progress: Any = None
        self.task: Any = None
        self.start = self.last = 0.0

    def on_train_begin(self, net: Any, info: dict[str, Any]) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}/" + str(self.epochs)),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("batches {task.fields[rate]:>8} samples/s loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            console=self.out.console,
            transient=True,
        )
        self.progress.start()

    def on_epoch_begin(self, epoch: int, info: dict[str, Any]) -> None:
        self.start = self.last = time.perf_counter()
        if self.progress is not None:
            self.task = self.progress.add_task(
                "train", total=info["batches"], epoch=epoch, rate="-", loss="-"
            )

    def on_batch_end(self, batch: int, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if self.progress is None or now - self.last < 1.0 / PROGRESS_HZ:
            return
        self.last = now
        self.progress.update(
            self.task,
            completed=batch + 1,
            rate=f"{info['samples'] / max(now - self.start, 1e-9):,.0f}",
            loss=f"{info['running_loss']():.4f}",
        )

    def on_epoch_end(self, epoch: int, record: dict[str, Any]) -> None:
        if self.task is not None and self.progress is not None:
            self.progress.remove_task(self.task)
            self.task = None
        super().on_epoch_end(epoch, record)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
