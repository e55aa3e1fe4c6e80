"""Model files: safetensors tensors plus JSON metadata, written atomically.

Format 2 (DESIGN "Model file"): tensors ``layers.{i}.{name}`` for every
layer's params and state (``weight``, ``bias``, ``gamma``, ``running_mean``...)
in the dtype trained; metadata key ``gnet`` holds a JSON object with
``format_version`` 2, the ``spec`` (input shape, layer list, loss), the
construction options (dtype, seed, init), the input normalisation, class
names, dataset name and gnet version. Format 1 (tensors
``layers.{k}.weight|bias`` of the k-th dense layer, ``config`` with sizes and
activations) is still read. safetensors stores raw little-endian numbers,
so loading never executes code; tensors are host arrays, so a model saved
from a GPU loads on a CPU and the reverse.

Loading trusts nothing in the file. It reads the header alone first (at
most MAX_HEADER_BYTES; JSON within the nesting, integer and count limits
below), checks every tensor entry's dtype, shape and byte range against the
file's length and every metadata field's type and range, computes every
tensor's shape from the spec and compares, and only then reads the tensors
(float16/32/64 only; NaN or inf is a corrupt file) and builds the network.
Every failure is a ModelFileError naming the file and the field.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .atomic import atomic_write_bytes, fsync_dir, remove_stale_temporaries
from .backend import to_numpy
from .errors import ConfigError, ModelFileError
from .modelfile import (
    _DTYPES,
    _NUMPY,
    FORMAT_VERSION,
    _bad,
    _read_header,
)

if TYPE_CHECKING:
    from .network import Network

__all__ = [
    "FORMAT_VERSION",
    "atomic_write_bytes",
    "fsync_dir",
    "load_model",
    "model_metadata",
    "model_tensors",
    "read_model_file",
    "remove_stale_temporaries",
    "save_model",
]

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
    """Host tensors and the parsed, checked ``gnet`` metadata of a model file.

    Raises :class:`~gnet.errors.ModelFileError` naming the file for anything
    that is not a readable gnet model of a format version this gnet knows.
    """
    path = Path(path)
    header, meta, start = _read_header(path)
    tensors = _read_tensors(path, header, start, [k for k in header if k != "__metadata__"])
    return tensors, meta


# ------------------------------------------------------------------ header


def load_model(path: str | os.PathLike[str], device: Any = None) -> Network:
    """Load a model file of any format onto ``device`` (any backend; see gnet.backend).

    Order: header and metadata checked; the spec checked and every tensor's
    shape computed from it (nothing allocated); each tensor's declared dtype,
    shape and byte range checked against those and the file's length; then
    the tensors read (and refused if they hold NaN or inf); the network is
    built last.
    """
    from .layers import array_shapes, check_specs
    from .mlp import mlp_specs
    from .network import Network

    path = Path(path)
    header, meta, start = _read_header(path)
    norm = meta.get("normalization") or {}
    options = {
        "device": device,
        "input_mean": float(norm.get("mean", 0.0)),
        "input_std": float(norm.get("std", 1.0)),
        "class_names": meta.get("class_names"),
    }
    try:
        if meta["format_version"] == 1:
            cfg = meta["config"]
            arch = {k: v for k, v in cfg.items() if k != "input_shape"}
            net_args: dict[str, Any] = {"architecture": arch}
            input_shape, specs = mlp_specs(
                cfg.get("layers"),
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
        outputs = _outputs(specs)
    except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as exc:
        raise ModelFileError(f"{path}: invalid network configuration in metadata ({exc})") from exc
    class_names = meta.get("class_names")
    if class_names is not None and outputs is not None and len(class_names) != outputs:
        raise ModelFileError(
            f"{path}: metadata class_names: {len(class_names)} names for {outputs} outputs"
        )
    # The file's own names for each expected tensor (format 1 counts dense layers only).
    file_name = {v: k for k, v in names.items()} if names else {k: k for k in expected}
    dtype = _check_tensors(path, header, expected, file_name)
    if dtype is not None:
        net_args["architecture"] = {**net_args["architecture"], "dtype": dtype}
    tensors = _read_tensors(path, header, start, [file_name[k] for k in expected])
    try:
        net = Network.from_architecture(net_args["architecture"], **options)
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise ModelFileError(f"{path}: invalid network configuration in metadata ({exc})") from exc
    with net.backend.context():
        for i, layer in enumerate(net.layers):
            for group in (layer.params, layer.state):
                for name in group:
                    host = tensors.pop(file_name[f"layers.{i}.{name}"])
                    group[name] = net.backend.asarray(host, dtype=net.dtype)
    net.epochs_trained = int(meta.get("epochs_trained", 0))
    net.metadata = meta
    return net


def _outputs(specs: list[Any]) -> int | None:
    """Number of outputs of a checked layer list (units of its last dense layer)."""
    for spec in reversed(specs):
        if isinstance(spec, dict) and spec.get("type") == "dense":
            units = spec.get("units")
            return units if isinstance(units, int) else None
    return None


def _check_tensors(
    path: Path, header: dict[str, Any], expected: dict[str, Any], file_name: dict[str, str]
) -> str | None:
    """Check each expected tensor's declared shape and dtype in the header
    (before anything is allocated); return the network dtype the tensors
    give (float16 weights load as float32)."""
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
            raise ModelFileError(
                f"{path}: tensor {file_name[name]} has dtype {kind}, not a float (F16, F32 or F64)"
            )
        dtypes.add(kind)
    if len(dtypes) > 1:
        raise ModelFileError(f"{path}: tensors mix dtypes {sorted(dtypes)}")
    if not dtypes:
        return None
    return "float64" if dtypes.pop() == "F64" else "float32"


def _read_tensors(
    path: Path, header: dict[str, Any], start: int, names: list[str]
) -> dict[str, np.ndarray]:
    """Read the named tensors (entries already checked by _check_entries) as
    writeable host arrays; float tensors holding NaN or inf are refused."""
    out: dict[str, np.ndarray] = {}
    try:
        with path.open("rb") as f:
            for name in names:
                entry = header[name]
                if entry["dtype"] not in _NUMPY:
                    raise ModelFileError(
                        f"{path}: tensor {name} has dtype {entry['dtype']}, which gnet cannot read"
                    )
                dtype = np.dtype(_NUMPY[entry["dtype"]])
                begin, end = entry["data_offsets"]
                array = np.empty(math.prod(entry["shape"]), dtype=dtype)
                f.seek(start + begin)
                if f.readinto(array.data.cast("B")) != end - begin:
                    raise _bad(path, f"tensor {name}: the file ends inside its data")
                if dtype.kind == "f" and not np.all(np.isfinite(array)):
                    raise ModelFileError(
                        f"{path}: tensor {name} holds NaN or inf (a corrupt or diverged model)"
                    )
                out[name] = array.astype(dtype.newbyteorder("="), copy=False).reshape(
                    entry["shape"]
                )
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return out
