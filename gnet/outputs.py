"""What a run writes and where: checking output paths before any work, the
metrics JSON (DESIGN "Metrics JSON"), written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .network import Network
    from .train import History

PathLike = str | os.PathLike[str]


def writable_file(path: PathLike, what: str) -> Path:
    """Check now, before any work, that ``path`` can be written (atomically, later)."""
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{what} {path}: is a directory; give a file name")
    folder = target.parent
    if not folder.exists():
        raise ConfigError(f"{what} {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise ConfigError(f"{what} {path}: {folder} is not a folder")
    _probe(folder, f"{what} {path}")
    return target


def writable_dir(path: PathLike, what: str) -> Path:
    """Create the folder ``path`` if needed and check that files can be written in it."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"{what} {path}: exists and is not a folder") from None
    except OSError as exc:
        raise ConfigError(
            f"{what} {path}: cannot create the folder ({exc.strerror or exc})"
        ) from None
    _probe(folder, f"{what} {path}")
    return folder


def _probe(folder: Path, what: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=".gnet-write-test.", dir=folder)
    except OSError as exc:
        raise ConfigError(f"{what}: cannot write in {folder} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(tmp)


def write_json(path: PathLike, payload: dict[str, Any], what: str = "metrics_json") -> None:
    """``payload`` as indented JSON, written atomically."""
    from .io import atomic_write_bytes

    text = json.dumps(payload, indent=2) + "\n"
    try:
        atomic_write_bytes(Path(path), text.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot write ({exc.strerror or exc})") from None


def metrics_payload(
    net: Network,
    config: dict[str, Any],
    report: dict[str, Any],
    history: History | None = None,
    dataset: str | None = None,
) -> dict[str, Any]:
    """The metrics JSON (DESIGN "Metrics JSON"); ``train`` only with a ``history``."""
    from . import __version__
    from .references import compare, kind_of

    backend = net.backend
    device = f"cuda:{backend.device.id}" if backend.name == "cupy" else str(backend.device)
    payload: dict[str, Any] = {
        "gnet_version": __version__,
        "backend": backend.name,
        "device": device,
        "dtype": net.dtype_name,
        "config": config,
    }
    if history is not None:
        keys = ("epoch", "seconds", "loss", "accuracy", "val_loss", "val_accuracy")
        payload["train"] = {
            "seconds": history.seconds,
            "samples_per_second": history.samples_per_second,
            "epochs": [{k: e[k] for k in keys if k in e} for e in history.epochs],
        }
    rows = ("label", "accuracy", "precision", "recall", "f1", "support")
    payload["test"] = {
        "accuracy": report["accuracy"],
        "loss": report["loss"],
        "confusion_matrix": report["confusion_matrix"],
        "per_class": [{k: row[k] for k in rows} for row in report["per_class"]],
        "macro_f1": report["macro_f1"],
        "references": compare(
            dataset or config.get("dataset"), report["accuracy"], kind_of(net)
        ),
    }
    return payload
