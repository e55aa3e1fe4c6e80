"""Model files: safetensors tensors plus JSON metadata, written atomically.

Layout (DESIGN "Model file"): tensors ``layers.{i}.weight`` (in, out) and
``layers.{i}.bias`` (out,) in the dtype trained; metadata key ``gnet`` holds
a JSON object with ``format_version``, the network configuration, the input
normalisation, class names, dataset name and gnet version. safetensors stores
raw little-endian numbers, so loading never executes code, and tensors are
host arrays, so a model saved from a GPU loads on a CPU and the reverse.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import to_numpy
from .errors import ConfigError, ModelFileError

if TYPE_CHECKING:
    from .network import Network

FORMAT_VERSION = 1


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash or error never leaves a
    half-written file: write a temporary file in the same folder, flush it to
    disk, then rename it over ``path`` (atomic on POSIX and Windows)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def model_metadata(net: Network, **extra: Any) -> dict[str, Any]:
    """The JSON-able description stored under the ``gnet`` metadata key."""
    from . import __version__

    meta = {
        "format_version": FORMAT_VERSION,
        "gnet_version": __version__,
        "config": net.config(),
        "normalization": {"mean": net.input_mean, "std": net.input_std},
        "class_names": list(net.class_names),
        "epochs_trained": net.epochs_trained,
    }
    meta.update(extra)
    return meta


def model_tensors(net: Network) -> dict[str, np.ndarray]:
    tensors = {}
    for i, layer in enumerate(net.layers):
        tensors[f"layers.{i}.weight"] = np.ascontiguousarray(to_numpy(layer.weight))
        tensors[f"layers.{i}.bias"] = np.ascontiguousarray(to_numpy(layer.bias))
    return tensors


def save_model(net: Network, path: str | os.PathLike[str], **extra: Any) -> None:
    """Save ``net`` as a safetensors file at ``path`` (atomically).

    ``extra`` adds metadata, e.g. ``dataset="mnist"`` or ``test={...}``.
    """
    from safetensors.numpy import save

    meta = json.dumps(model_metadata(net, **extra))
    data = save(model_tensors(net), metadata={"gnet": meta})
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise ModelFileError(
            f"{path}: cannot write the model file ({exc.strerror or exc})"
        ) from exc


def read_model_file(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Host tensors and the parsed ``gnet`` metadata of a model file.

    Raises :class:`~gnet.errors.ModelFileError` naming the file for anything
    that is not a readable gnet model of a format version this gnet knows.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelFileError(f"{path}: no such model file") from exc
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        tensors = load(data)
        header = _header_metadata(data)
    except (SafetensorError, ValueError, OverflowError, KeyError) as exc:
        raise ModelFileError(f"{path}: not a safetensors model file ({exc})") from exc
    if "gnet" not in header:
        raise ModelFileError(f"{path}: a safetensors file without gnet metadata (not a gnet model)")
    try:
        meta = json.loads(header["gnet"])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: gnet metadata is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        raise ModelFileError(f"{path}: gnet metadata has no network configuration")
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise ModelFileError(f"{path}: gnet metadata has no format_version")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version} is newer than this gnet reads "
            f"({FORMAT_VERSION}); upgrade gnet"
        )
    return tensors, meta


def _header_metadata(data: bytes) -> dict[str, Any]:
    """The ``__metadata__`` of a safetensors header (8-byte length + JSON)."""
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    return header.get("__metadata__") or {}


def load_model(path: str | os.PathLike[str], device: Any = None) -> Network:
    """Load a model file onto ``device`` (any backend; see gnet.backend)."""
    from .network import Network

    tensors, meta = read_model_file(path)
    cfg = meta["config"]
    norm = meta.get("normalization") or {}
    try:
        net = Network.from_architecture(
            cfg,
            device=device,
            input_mean=norm.get("mean", 0.0),
            input_std=norm.get("std", 1.0),
            class_names=meta.get("class_names"),
        )
    except (KeyError, TypeError, ConfigError) as exc:
        raise ModelFileError(f"{path}: invalid network configuration in metadata ({exc})") from exc
    params = []
    for i in range(len(net.layers)):
        for name in ("weight", "bias"):
            key = f"layers.{i}.{name}"
            if key not in tensors:
                raise ModelFileError(f"{path}: tensor {key} is missing")
            params.append(tensors[key])
    try:
        net.set_parameters(params)
    except ValueError as exc:
        raise ModelFileError(f"{path}: {exc}") from exc
    net.epochs_trained = int(meta.get("epochs_trained", 0))
    net.metadata = meta
    return net
