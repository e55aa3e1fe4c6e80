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
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np

from .backend import to_numpy
from .errors import ConfigError, ModelFileError

if TYPE_CHECKING:
    from .network import Network

FORMAT_VERSION = 2
_DTYPES = {"float16": "F16", "float32": "F32", "float64": "F64"}
# safetensors dtype code -> NumPy dtype (little-endian); codes NumPy has no type for
# (BF16, F8_*) are sized here but not readable.
_NUMPY = {
    "BOOL": "|b1", "U8": "|u1", "I8": "|i1", "U16": "<u2", "I16": "<i2", "F16": "<f2",
    "U32": "<u4", "I32": "<i4", "F32": "<f4", "U64": "<u8", "I64": "<i8", "F64": "<f8",
}  # fmt: skip
_ITEMSIZE = {
    **{code: np.dtype(t).itemsize for code, t in _NUMPY.items()},
    "BF16": 2, "F8_E5M2": 1, "F8_E4M3": 1,
}  # fmt: skip

MAX_HEADER_BYTES = 16_000_000
"""A safetensors header longer than this is refused (gnet's are a few kB; the
safetensors library's own limit is 100 MB, but parsing even a string that
long costs several times its size in memory)."""
MAX_JSON_CONTAINERS = 100_000
"""Most lists and objects a header or the metadata may hold (counted on the
text before parsing: parsing millions of tiny ones costs gigabytes)."""
MAX_JSON_ITEMS = 1_000_000
"""Most commas a header or the metadata may hold (a bound on its values)."""
MAX_JSON_DEPTH = 64
"""Deepest nesting of lists and objects accepted in a header or the metadata."""
MAX_INT_DIGITS = 30
"""Longest integer (in digits) accepted in a header or the metadata."""
MAX_DIMENSION = 1 << 40
"""Largest tensor dimension accepted in a header (before the file-length check)."""
MAX_EPOCHS = 10**9
_MIN_STD, _MAX_ABS = 1e-30, 1e30  # normalisation: std in [1e-30, 1e30], |mean| <= 1e30


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash or error never leaves a
    half-written file: write a temporary file in the same folder, flush it to
    disk, then rename it over ``path`` (atomic on POSIX and Windows)."""
    path = Path(path)
    prefix = f".{path.name}.{os.getpid()}."  # the pid tells a stale file from a live write
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
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
    fsync_dir(path.parent)


STALE_AFTER_S = 24 * 3600
"""A temporary file of ours this old is stale even if its pid is in use again."""

_TEMPORARY = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[A-Za-z0-9_]{6,}\.tmp$")


def remove_stale_temporaries(folder: str | os.PathLike[str], name: re.Pattern[str]) -> list[Path]:
    """Delete the temporary files :func:`atomic_write_bytes` left in ``folder``
    for targets whose file name matches ``name``, when the process that wrote
    them is gone (killed during a write) or they are over a day old. Files of
    a live writer, and every other file, are left alone. Returns those removed."""
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TEMPORARY.match(entry.name)
        if not m or not name.match(m.group("name")):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_S
            pid = m.group("pid")
            if old or (pid is not None and not _alive(int(pid))):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # gone already, or not ours to delete
    return removed


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (POSIX); elsewhere assume it does (age decides)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (a rename into it) to disk, where the OS allows
    (POSIX; Windows cannot open a folder, and a rename there is durable)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (and Windows) refuse: the rename stands anyway
    finally:
        os.close(fd)


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


def _read_header(path: Path) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The file's checked safetensors header, its checked gnet metadata, and
    the offset where the tensor data starts. Reads only the header: every
    tensor entry's dtype, shape and byte range is checked against the file's
    length here, before anything of the size it declares is allocated."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            prefix = f.read(8)
            n = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
            if n < 0:
                raise _bad(path, f"only {size} bytes, shorter than a safetensors header")
            if n > MAX_HEADER_BYTES:
                raise _bad(path, f"header of {n} bytes is over the limit of {MAX_HEADER_BYTES}")
            if n > size - 8:
                raise _bad(path, f"header length {n} is beyond the end of the file ({size} bytes)")
            raw = f.read(n)
    except FileNotFoundError as exc:
        raise ModelFileError(f"{path}: no such model file") from exc
    except IsADirectoryError as exc:
        raise ModelFileError(f"{path}: is a directory, not a model file") from exc
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if len(raw) != n:
        raise _bad(path, "the file changed while it was read")
    try:
        text = raw.decode("utf-8")
        del raw  # one copy of a long header at a time
        header = parse_json(text)
        del text
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(path, f"header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise _bad(path, "header is not a JSON object")
    _check_entries(path, header, size - 8 - n)
    extra = header.get("__metadata__") or {}
    if not isinstance(extra, dict) or "gnet" not in extra:
        raise ModelFileError(f"{path}: a safetensors file without gnet metadata (not a gnet model)")
    if not isinstance(extra["gnet"], str):
        raise ModelFileError(f"{path}: metadata gnet: expected a JSON string")
    try:
        meta = parse_json(extra["gnet"])
    except ValueError as exc:
        raise ModelFileError(f"{path}: gnet metadata is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: gnet metadata is not a JSON object")
    check_metadata(path, meta)
    return header, meta, 8 + n


def _bad(path: Path, why: str) -> ModelFileError:
    return ModelFileError(f"{path}: not a safetensors model file ({why})")


def parse_json(text: str) -> Any:
    """``json.loads`` with limits: integers of at most MAX_INT_DIGITS digits,
    nesting at most MAX_JSON_DEPTH deep. ValueError (one line) otherwise."""

    def bounded_int(digits: str) -> int:
        if len(digits.lstrip("-")) > MAX_INT_DIGITS:
            raise ValueError(f"integer of {len(digits)} digits (over {MAX_INT_DIGITS})")
        return int(digits)

    containers, items = text.count("{") + text.count("["), text.count(",")
    if containers > MAX_JSON_CONTAINERS or items > MAX_JSON_ITEMS:
        raise ValueError(
            f"{containers} lists and objects and {items} commas, over the limits of "
            f"{MAX_JSON_CONTAINERS} and {MAX_JSON_ITEMS}"
        )
    try:
        value = json.loads(text, parse_int=bounded_int)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    stack = [(value, 0)]
    while stack:  # iterative: a deep document cannot exhaust the C stack here
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return value


def _is_int(value: Any, low: int = 0, high: int | None = None) -> TypeGuard[int]:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= low
        and (high is None or value <= high)
    )


def _check_entries(path: Path, header: dict[str, Any], data_size: int) -> None:
    """Each tensor entry: a known dtype, a shape of non-negative integers and
    a byte range inside the data that holds exactly that many elements;
    ranges do not overlap. Checked on the header alone."""
    ranges = []
    for name, entry in header.items():
        if name == "__metadata__":
            if entry is not None and not (
                isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values())
            ):
                raise _bad(path, "__metadata__ is not an object of strings")
            continue
        where = f"tensor {name}"
        if not isinstance(entry, dict):
            raise _bad(path, f"{where}: entry is not an object")
        kind, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if not isinstance(kind, str) or kind not in _ITEMSIZE:
            raise _bad(path, f"{where}: unknown dtype {kind!r}")
        if not (isinstance(shape, list) and all(_is_int(d, 0, MAX_DIMENSION) for d in shape)):
            raise _bad(path, f"{where}: shape {shape!r} is not a list of sizes")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(_is_int(o) for o in offsets)
            and offsets[0] <= offsets[1]
        ):
            raise _bad(path, f"{where}: data_offsets {offsets!r} is not [begin, end]")
        begin, end = offsets
        if end > data_size:
            raise _bad(
                path,
                f"{where}: data_offsets {offsets} beyond the end of the data ({data_size} "
                "bytes; the file is truncated or the header is wrong)",
            )
        if end - begin != math.prod(shape) * _ITEMSIZE[kind]:
            raise _bad(path, f"{where}: {end - begin} bytes for shape {shape} of {kind}")
        ranges.append((begin, end, name))
    ranges.sort()
    for (_, end, first), (begin, _, second) in zip(ranges, ranges[1:], strict=False):
        if begin < end:
            raise _bad(path, f"tensors {first} and {second} overlap")


# ---------------------------------------------------------------- metadata


def check_metadata(path: str | os.PathLike[str], meta: dict[str, Any]) -> None:
    """Every top-level field of a model file's ``gnet`` metadata: type and
    range. Raises ModelFileError naming the file and the field. The network
    spec is checked by :func:`load_model` (gnet.layers.check_specs)."""

    def fail(field: str, why: str) -> ModelFileError:
        return ModelFileError(f"{path}: metadata {field}: {why}")

    version = meta.get("format_version")
    if not _is_int(version, 1):
        raise fail("format_version", f"expected an integer >= 1, got {_show(version)}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version} is newer than this gnet reads "
            f"({FORMAT_VERSION}); upgrade gnet"
        )
    key = "config" if version == 1 else "spec"
    if not isinstance(meta.get(key), dict):
        raise ModelFileError(f"{path}: gnet metadata has no network {key}")
    if version == 1:  # rates and activation parameters, used or not, in [0, 1)
        for field in ("leaky_relu_alpha", "dropout", "dropconnect"):
            value = meta["config"].get(field, 0.0)
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (number and 0 <= value < 1):
                raise fail(f"config.{field}", f"expected a number in [0, 1), got {_show(value)}")
    if version >= 2 and not isinstance(meta["spec"].get("loss", "cross-entropy"), str):
        raise fail("spec.loss", f"expected a loss name, got {_show(meta['spec'].get('loss'))}")
    for field in ("gnet_version", "dataset", "init"):
        if meta.get(field) is not None and not isinstance(meta[field], str):
            raise fail(field, f"expected a string, got {_show(meta[field])}")
    if meta.get("dtype") is not None and meta["dtype"] not in ("float32", "float64"):
        raise fail("dtype", f'expected "float32" or "float64", got {_show(meta["dtype"])}')
    if meta.get("seed") is not None and not _is_int(meta["seed"], 0, 2**64 - 1):
        raise fail("seed", f"expected an integer >= 0, got {_show(meta['seed'])}")
    if "epochs_trained" in meta and not _is_int(meta["epochs_trained"], 0, MAX_EPOCHS):
        raise fail(
            "epochs_trained", f"expected an integer >= 0, got {_show(meta['epochs_trained'])}"
        )
    for field in ("test", "train_config", "checkpoint"):
        if meta.get(field) is not None and not isinstance(meta[field], dict):
            raise fail(field, f"expected an object, got {_show(meta[field])}")
    names = meta.get("class_names")
    if names is not None and not (
        isinstance(names, list) and names and all(isinstance(n, str) for n in names)
    ):
        raise fail("class_names", f"expected a list of strings, got {_show(names)}")
    norm = meta.get("normalization")
    if norm is None:
        return
    if not isinstance(norm, dict):
        raise fail("normalization", f"expected an object {{mean, std}}, got {_show(norm)}")
    for field in ("mean", "std"):
        value = norm.get(field, 0.0 if field == "mean" else 1.0)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (number and math.isfinite(value) and abs(value) <= _MAX_ABS):
            raise fail(f"normalization.{field}", f"expected a finite number, got {_show(value)}")
        if field == "std" and not value >= _MIN_STD:
            raise fail(
                "normalization.std", f"must be >= {_MIN_STD} (not zero or denormal), got {value!r}"
            )


def _show(value: Any) -> str:
    text = json.dumps(value) if _jsonable(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


# ------------------------------------------------------------------- load


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
