"""Reading a model file's header without trusting it: the safetensors header
alone first (at most MAX_HEADER_BYTES; JSON within the nesting, integer and
count limits below), every tensor entry's dtype, shape and byte range against
the file's length, and every gnet metadata field's type and range. Nothing
of the tensors is read or allocated here; every failure is a ModelFileError
naming the file and the field."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from .errors import ModelFileError
from .jsonlimits import check_depth, int_parser

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

    containers, items = text.count("{") + text.count("["), text.count(",")
    if containers > MAX_JSON_CONTAINERS or items > MAX_JSON_ITEMS:
        raise ValueError(
            f"{containers} lists and objects and {items} commas, over the limits of "
            f"{MAX_JSON_CONTAINERS} and {MAX_JSON_ITEMS}"
        )
    try:
        value = json.loads(text, parse_int=int_parser(MAX_INT_DIGITS))
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    check_depth(value, MAX_JSON_DEPTH)
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
