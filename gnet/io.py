"""Model files: safetensors tensors plus JSON metadata, written atomically.

Format 2 (DESIGN "Model file"): tensors ``layers.{i}.{name}`` for every
layer's params and state (``weight``, ``bias``, ``gamma``, ``running_mean``...)
in the dtype trained; metadata key ``gnet`` holds a JSON object with
``format_version`` 2, the ``spec`` (input shape, layer list, loss), the
construction options (dtype, seed, init), the input normalisation, class
names, dataset name and gnet version. Format 1 (tensors
``layers.{k}.weight|bias`` of the k-th dense layer, ``config`` with sizes and
activations) is still read. safetensors stores raw little-endian numbers,
so loading never executes code; every declared tensor shape and dtype is
checked against the spec before any array is allocated; tensors are host
arrays, so a model saved from a GPU loads on a CPU and the reverse.
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

FORMAT_VERSION = 2
_DTYPES = {"float32": "F32", "float64": "F64"}


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
        "spec": net.spec(),
        "config": net.config(),
        "dtype": net.dtype_name,
        "seed": net.seed,
        "init": net.init_name,
        "normalization": {"mean": net.input_mean, "std": net.input_std},
        "class_names": list(net.class_names),
        "epochs_trained": net.epochs_trained,
    }
    meta.update(extra)
    return meta


def model_tensors(net: Network) -> dict[str, np.ndarray]:
    """``layers.{i}.{name}`` -> host array, for every layer's params and state."""
    tensors = {}
    for i, layer in enumerate(net.layers):
        for name, a in (*layer.params.items(), *layer.state.items()):
            tensors[f"layers.{i}.{name}"] = np.ascontiguousarray(to_numpy(a))
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

    data, header, meta = _read_header(Path(path))
    try:
        tensors = load(data)
    except (SafetensorError, ValueError, OverflowError, KeyError) as exc:
        raise ModelFileError(f"{path}: not a safetensors model file ({exc})") from exc
    return tensors, meta


def _read_header(path: Path) -> tuple[bytes, dict[str, Any], dict[str, Any]]:
    """The file's bytes, its safetensors header and its checked gnet metadata."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelFileError(f"{path}: no such model file") from exc
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        size = int.from_bytes(data[:8], "little")
        if len(data) < 8 or size > len(data) - 8:
            raise ValueError("header length beyond the end of the file")
        header = json.loads(data[8 : 8 + size])
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path}: not a safetensors model file ({exc})") from exc
    extra = header.get("__metadata__") or {}
    if not isinstance(extra, dict) or "gnet" not in extra:
        raise ModelFileError(f"{path}: a safetensors file without gnet metadata (not a gnet model)")
    try:
        meta = json.loads(extra["gnet"])
    except (TypeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path}: gnet metadata is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: gnet metadata is not a JSON object")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: gnet metadata has no format_version")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version} is newer than this gnet reads "
            f"({FORMAT_VERSION}); upgrade gnet"
        )
    key = "config" if version == 1 else "spec"
    if not isinstance(meta.get(key), dict):
        raise ModelFileError(f"{path}: gnet metadata has no network {key}")
    return data, header, meta


def load_model(path: str | os.PathLike[str], device: Any = None) -> Network:
    """Load a model file of any format onto ``device`` (any backend; see gnet.backend)."""
    from .layers import array_shapes, check_specs
    from .mlp import mlp_specs
    from .network import Network

    path = Path(path)
    data, header, meta = _read_header(path)
    norm = meta.get("normalization") or {}
    options = {
        "device": device,
        "input_mean": norm.get("mean", 0.0),
        "input_std": norm.get("std", 1.0),
        "class_names": meta.get("class_names"),
    }
    try:
        if meta["format_version"] == 1:
            cfg = meta["config"]
            arch = {k: v for k, v in cfg.items() if k != "input_shape"}
            net_args: dict[str, Any] = {"architecture": arch}
            input_shape, specs = mlp_specs(
                cfg["layers"],
                cfg.get("activations"),
                cfg.get("init", "he"),
                cfg.get("dropout", 0.0),
                cfg.get("dropconnect", 0.0),
                cfg.get("leaky_relu_alpha", 0.01),
            )
            dense = [i for i, s in enumerate(specs) if s["type"] == "dense"]
            names = {
                f"layers.{k}.{n}": f"layers.{i}.{n}"
                for k, i in enumerate(dense)
                for n in ("weight", "bias")
            }
        else:
            spec = meta["spec"]
            input_shape, specs = spec.get("input_shape"), spec.get("layers")
            arch = {k: meta[k] for k in ("dtype", "seed", "init") if k in meta}
            arch.update({"input_shape": input_shape, "layers": specs, "loss": spec.get("loss")})
            net_args = {"architecture": arch}
            names = None
        problems = check_specs(input_shape, specs)
        if problems:
            raise ConfigError("; ".join(problems))
        expected = {
            f"layers.{i}.{name}": shape
            for i, shapes in enumerate(array_shapes(input_shape, specs))
            for name, shape in shapes.items()
        }
    except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as exc:
        raise ModelFileError(f"{path}: invalid network configuration in metadata ({exc})") from exc
    # The file's own names for each expected tensor (format 1 counts dense layers only).
    file_name = {v: k for k, v in names.items()} if names else {k: k for k in expected}
    dtype = _check_tensors(path, header, expected, file_name)
    if dtype is not None:
        net_args["architecture"] = {**net_args["architecture"], "dtype": dtype}
    try:
        net = Network.from_architecture(net_args["architecture"], **options)
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise ModelFileError(f"{path}: invalid network configuration in metadata ({exc})") from exc
    tensors = read_model_file(path)[0]
    with net.backend.context():
        for i, layer in enumerate(net.layers):
            for group in (layer.params, layer.state):
                for name in group:
                    host = tensors[file_name[f"layers.{i}.{name}"]]
                    if not np.all(np.isfinite(host)):
                        raise ModelFileError(f"{path}: tensor layers.{i}.{name} holds NaN or inf")
                    group[name] = net.backend.asarray(np.array(host), dtype=net.dtype)
    epochs = meta.get("epochs_trained", 0)
    net.epochs_trained = epochs if isinstance(epochs, int) and epochs >= 0 else 0
    net.metadata = meta
    return net


def _check_tensors(
    path: Path, header: dict[str, Any], expected: dict[str, Any], file_name: dict[str, str]
) -> str | None:
    """Check each expected tensor's declared shape and dtype in the header
    (before anything is allocated); return the dtype name the tensors share."""
    dtypes: set[str] = set()
    for name, shape in expected.items():
        entry = header.get(file_name[name])
        if not isinstance(entry, dict):
            raise ModelFileError(f"{path}: tensor {file_name[name]} is missing")
        if list(entry.get("shape", [])) != list(shape):
            raise ModelFileError(
                f"{path}: tensor {file_name[name]} has shape {entry.get('shape')}, "
                f"the network needs {list(shape)}"
            )
        kind = str(entry.get("dtype"))
        if kind not in _DTYPES.values():
            raise ModelFileError(f"{path}: tensor {file_name[name]} has dtype {kind}, not a float")
        dtypes.add(kind)
    if len(dtypes) > 1:
        raise ModelFileError(f"{path}: tensors mix dtypes {sorted(dtypes)}")
    by_code = {v: k for k, v in _DTYPES.items()}
    return by_code[dtypes.pop()] if dtypes else None
