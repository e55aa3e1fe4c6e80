"""Training checkpoints: everything needed to continue a run where it stopped.

A checkpoint is a model file (DESIGN "Model file", so ``gnet.load`` and
``gnet evaluate`` read it as a model) with two additions:

- tensors ``optimizer.{layer}.{param}`` (the optimiser's state for that
  layer's parameter, e.g. SGD momentum for ``weight``) or
  ``optimizer.{layer}.{param}.{k}`` for state made of several arrays (Adam's
  two moments); checkpoint format 1 named them ``optimizer.{k}.{0|1}`` (k-th
  dense layer, weight / bias) and still resumes;
- a ``checkpoint`` object in the ``gnet`` metadata: its format version, the
  optimiser's hyperparameters, step count and current learning rate, the
  resolved training configuration, the dataset, and the per-epoch records
  so far (not the per-batch losses, which callbacks do not see).

The epoch loop draws each epoch's permutation from (seed, epoch) and its
dropout masks from (seed, epoch, 1), so weights + optimiser state +
``epochs_trained`` are all a resumed run needs to end, on CPU, with weights
bit-identical to an uninterrupted run. Early-stopping patience is not kept:
a resumed run counts it afresh.

Files are written atomically (temporary file + rename, then the folder is
fsynced), so a crash during a write leaves the previous checkpoint intact; the
temporary file a killed write leaves behind is removed by the next checkpoint
written to the folder (only files of ours whose writer is gone, or a day old).
Loading checks every metadata field and every optimiser tensor (dtype, shape
against its parameter, finite values) before using it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import io, modelfile
from .backend import to_numpy
from .errors import ConfigError, ModelFileError
from .optim import Optimizer, get_optimizer
from .train import Callback, History

CHECKPOINT_VERSION = 2
FILE_PATTERN = "epoch-{epoch:04d}.safetensors"
_FILE_RE = re.compile(r"^epoch-(\d+)\.safetensors$")


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns."""

    net: Any
    optimizer: Optimizer
    config: dict[str, Any]
    history: History
    dataset: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def epochs_trained(self) -> int:
        return int(self.net.epochs_trained)


def build_optimizer(config: dict[str, Any]) -> Optimizer:
    """The optimiser a resolved configuration names, with its hyperparameters."""
    return get_optimizer(
        config["optimizer"],
        learning_rate=config["learning_rate"],
        momentum=config.get("momentum"),
        nesterov=config.get("nesterov"),
        l1=config.get("l1"),
        l2=config.get("l2"),
    )


def save_checkpoint(
    path: str | os.PathLike[str],
    net: Any,
    optimizer: Optimizer,
    config: dict[str, Any],
    history: History | None = None,
    dataset: str | None = None,
    **extra: Any,
) -> Path:
    """Write a checkpoint of ``net`` and ``optimizer`` to ``path`` atomically."""
    from safetensors.numpy import save

    tensors = io.model_tensors(net)
    entries = []
    for (layer, slot), value in sorted(optimizer.state.items()):
        parts = value if isinstance(value, tuple) else (value,)
        for k, a in enumerate(parts):
            suffix = f".{k}" if isinstance(value, tuple) else ""
            tensors[f"optimizer.{layer}.{slot}{suffix}"] = np.ascontiguousarray(to_numpy(a))
        entries.append([layer, slot, len(parts) if isinstance(value, tuple) else None])
    history = history or History()
    state = {
        "format_version": CHECKPOINT_VERSION,
        "optimizer": {
            "name": type(optimizer).__name__.lower(),
            "config": optimizer.config(),
            "steps": optimizer.steps,
            "learning_rate": optimizer.learning_rate,
            "state": entries,
        },
        "train_config": config,
        "history": {
            "epochs": history.epochs,
            "best_epoch": history.best_epoch,
        },
    }
    meta = io.model_metadata(net, checkpoint=state, **extra)
    if dataset is not None:
        meta["dataset"] = dataset
    data = save(tensors, metadata={"gnet": json.dumps(meta)})
    path = Path(path)
    # A run killed while writing leaves a temporary file: the next write clears it.
    io.remove_stale_temporaries(path.parent, _FILE_RE)
    try:
        io.atomic_write_bytes(path, data)
    except OSError as exc:
        raise ModelFileError(
            f"{path}: cannot write the checkpoint ({exc.strerror or exc})"
        ) from exc
    return path


def find_checkpoint(path: str | os.PathLike[str]) -> Path:
    """``path`` itself, or the checkpoint of the latest epoch in the folder ``path``."""
    path = Path(path)
    if not path.is_dir():
        return path
    found = sorted(
        (int(m.group(1)), p)
        for p in path.iterdir()
        if (m := _FILE_RE.match(p.name)) and p.is_file()
    )
    if not found:
        raise ModelFileError(f"{path}: no checkpoint files (epoch-NNNN.safetensors) in this folder")
    return found[-1][1]


# Configuration keys added after the first checkpoints were written, with the
# value that means "not used": an older checkpoint resumes as the run it was.
_KEYS_ADDED_LATER: dict[str, Any] = {"batch_schedule": None, "dropconnect": 0.0}


def load_checkpoint(path: str | os.PathLike[str], device: Any = None) -> Checkpoint:
    """Read a checkpoint file (or the latest one in a folder) onto ``device``."""
    from .config import validate

    path = find_checkpoint(path)
    net = io.load_model(path, device=device)
    meta = net.metadata
    state = meta.get("checkpoint")
    if not isinstance(state, dict):
        raise ModelFileError(f"{path}: a model file, not a checkpoint (no optimiser state)")
    version = state.get("format_version")
    if not (isinstance(version, int) and not isinstance(version, bool) and version >= 1) or (
        version > CHECKPOINT_VERSION
    ):
        raise ModelFileError(
            f"{path}: checkpoint format version {version!r} is not one this gnet reads "
            f"(up to {CHECKPOINT_VERSION})"
        )
    opt = _check_state(path, state)
    try:
        config = validate({**_KEYS_ADDED_LATER, **state["train_config"]})
    except ValueError as exc:
        raise ModelFileError(f"{path}: invalid checkpoint metadata train_config ({exc})") from exc
    optimizer = build_optimizer(config)
    optimizer.steps = opt["steps"]
    optimizer.learning_rate = float(config["learning_rate"])
    _restore_state(path, net, optimizer, opt["state"], version)
    hist = state.get("history") or {}
    history = History(epochs=list(hist.get("epochs") or []), best_epoch=hist.get("best_epoch"))
    return Checkpoint(net, optimizer, config, history, meta.get("dataset"), meta)


MAX_STATE_PARTS = 8
"""Most arrays one optimiser state entry may hold (Adam holds 2)."""


def _check_state(path: Path, state: dict[str, Any]) -> dict[str, Any]:
    """Type and range of every field of the checkpoint metadata gnet reads;
    returns the optimiser's part."""

    def fail(field: str, why: str) -> ModelFileError:
        return ModelFileError(f"{path}: invalid checkpoint metadata {field} ({why})")

    def is_int(value: Any, low: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= low

    if not isinstance(state.get("train_config"), dict):
        raise fail("train_config", "missing, or not an object")
    opt = state.get("optimizer")
    if not isinstance(opt, dict):
        raise fail("optimizer", "missing, or not an object")
    if not (is_int(opt.get("steps"), 0) and opt["steps"] < 2**63):
        raise fail("optimizer.steps", f"expected an integer >= 0, got {opt.get('steps')!r}")
    entries = opt.get("state")
    if not isinstance(entries, list):
        raise fail("optimizer.state", "expected a list of [layer, parameter, parts]")
    for k, entry in enumerate(entries):
        if not (
            isinstance(entry, list)
            and len(entry) == 3
            and (is_int(entry[0], 0) or _is_index(entry[0]))
            and isinstance(entry[1], (str, int))
            and not isinstance(entry[1], bool)
            and (entry[2] is None or (is_int(entry[2], 1) and entry[2] <= MAX_STATE_PARTS))
        ):
            raise fail(
                f"optimizer.state[{k}]", f"expected [layer, parameter, parts], got {entry!r}"
            )
    hist = state.get("history")
    if hist is None:
        return opt
    if not isinstance(hist, dict):
        raise fail("history", "expected an object")
    epochs = hist.get("epochs")
    if epochs is not None and not (
        isinstance(epochs, list) and all(isinstance(e, dict) for e in epochs)
    ):
        raise fail("history.epochs", "expected a list of objects")
    best = hist.get("best_epoch")
    if best is not None and not is_int(best, 0):
        raise fail("history.best_epoch", f"expected null or an integer >= 0, got {best!r}")
    return opt


def _is_index(text: Any) -> bool:
    """A layer index written as text by an older checkpoint: a few ASCII digits."""
    return isinstance(text, str) and 0 < len(text) <= 6 and text.isascii() and text.isdecimal()


def _restore_state(
    path: Path, net: Any, optimizer: Optimizer, entries: list[Any], version: int
) -> None:
    header, _, start = modelfile._read_header(path)
    dense = [i for i, layer in enumerate(net.layers) if "weight" in layer.params]
    for layer, slot, parts in entries:
        prefix = f"optimizer.{layer}.{slot}"
        if version == 1:  # (k-th dense layer, 0 | 1) -> (layer index, weight | bias)
            if not (0 <= int(layer) < len(dense) and str(slot) in ("0", "1")):
                raise ModelFileError(f"{path}: optimiser state {prefix} matches no parameter")
            layer, slot = dense[int(layer)], ("weight", "bias")[int(slot)]
        if not (0 <= int(layer) < len(net.layers) and slot in net.layers[int(layer)].params):
            raise ModelFileError(f"{path}: optimiser state {prefix} matches no parameter")
        param = net.layers[int(layer)].params[slot]
        names = [prefix] if parts is None else [f"{prefix}.{k}" for k in range(parts)]
        for name in names:
            entry = header.get(name)
            if not isinstance(entry, dict):
                raise ModelFileError(f"{path}: tensor {name} is missing")
            if entry["dtype"] not in ("F16", "F32", "F64"):
                raise ModelFileError(
                    f"{path}: tensor {name} has dtype {entry['dtype']}, not a float"
                )
            if tuple(entry["shape"]) != tuple(int(d) for d in param.shape):
                raise ModelFileError(
                    f"{path}: tensor {name} has shape {entry['shape']}, the parameter "
                    f"{layer}.{slot} has {list(param.shape)}"
                )
        host = io._read_tensors(path, header, start, names)
        # a fresh writeable device copy: the optimiser updates it in place
        arrays = [net.backend.asarray(host[name], dtype=net.dtype) for name in names]
        optimizer.state[(int(layer), str(slot))] = arrays[0] if parts is None else tuple(arrays)


class CheckpointCallback(Callback):
    """Writes ``epoch-NNNN.safetensors`` into ``folder`` after every epoch.

    ``history`` holds the epochs of earlier runs (when resuming); this run's
    records are appended to a copy of it.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        optimizer: Optimizer,
        config: dict[str, Any],
        history: History | None = None,
        dataset: str | None = None,
        keep: int | None = None,
        **extra: Any,
    ):
        self.folder = Path(folder)
        self.optimizer = optimizer
        self.config = config
        earlier = history or History()
        self.history = History(epochs=list(earlier.epochs))
        self.dataset = dataset
        self.keep = keep
        self.extra = extra
        self.net = None
        self.written: list[Path] = []

    def on_train_begin(self, net: Any, info: dict[str, Any]) -> None:
        self.net = net

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.net is None:
            raise ConfigError("CheckpointCallback: on_train_begin was not called")
        self.history.epochs.append(dict(logs))
        path = self.folder / FILE_PATTERN.format(epoch=epoch)
        save_checkpoint(
            path,
            self.net,
            self.optimizer,
            self.config,
            self.history,
            dataset=self.dataset,
            **self.extra,
        )
        self.written.append(path)
        if self.keep is not None and len(self.written) > self.keep:
            self.written.pop(0).unlink(missing_ok=True)
