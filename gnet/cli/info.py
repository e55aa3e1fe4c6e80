"""``gnet info``: versions of gnet and its libraries, backends and devices found, data."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import platform
from typing import Any

from .base import EXIT_OK, Output, Parents


def add_parser(sub: Any, parents: Parents) -> argparse.ArgumentParser:
    info: argparse.ArgumentParser = sub.add_parser(
        "info",
        parents=[parents.common],
        help="versions, backends and devices found; with MODEL, its summary",
        description="Versions, backends and devices found; with MODEL, the model's "
        "summary (layer, output shape, parameters) instead.",
    )
    info.add_argument("model", metavar="MODEL", nargs="?")
    return info


def model_summary(path: str, out: Output) -> int:
    """``gnet info MODEL``: what the file holds, then the layer table."""
    from ..io import load_model
    from ..summary import summary_text

    net = load_model(path, device="cpu")
    meta = net.metadata
    trained = meta.get("epochs_trained", 0)
    data = meta.get("dataset") or "an unnamed data set"
    out.print(
        f"{path}: gnet model format {meta.get('format_version')}, saved by gnet "
        f"{meta.get('gnet_version', '?')}; {net.loss.name} loss, {trained} epochs on {data}"
    )
    test = meta.get("test")
    if isinstance(test, dict) and isinstance(test.get("accuracy"), (int, float)):
        out.print(f"test accuracy when saved: {100 * test['accuracy']:.2f}%")
    out.final(summary_text(net))
    return EXIT_OK


def cmd_info(args: argparse.Namespace, out: Output) -> int:
    from importlib import metadata

    if args.model:
        return model_summary(args.model, out)

    from .. import __version__
    from ..backend import get_backend, library_versions
    from ..data import DATASETS, default_data_dir

    out.print(f"gnet {__version__}")
    out.print(
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )
    versions = library_versions()
    for dist in ("rich", "safetensors", "matplotlib", "pillow", "pooch"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    out.print("libraries: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    out.print("backends:")
    gpus: list[str] = []
    for spec, label in (("cpu", "numpy"), ("strict", "array-api-strict"), ("torch", "torch")):
        try:
            backend = get_backend(spec)
            out.print(f"  {spec:<10} available ({label}, {backend.describe()})")
        except Exception as exc:
            out.print(f"  {spec:<10} not available: {exc}")
    gpus += _torch_cuda(out)
    gpus += _cupy(out)
    out.print("GPUs: " + ("; ".join(gpus) if gpus else "none found"))
    root = default_data_dir()
    present = []
    for name, entry in DATASETS.items():
        folder = root / name
        have = all(
            (folder / f["name"]).is_file() or (folder / f["name"].removesuffix(".gz")).is_file()
            for f in entry["files"].values()
        )
        present.append(f"{name} {'present' if have else 'not downloaded'}")
    out.final(f"data: {root} ({', '.join(present)})")
    return EXIT_OK


def _torch_cuda(out: Output) -> list[str]:
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        out.print(f"  {'torch:cuda':<10} not available: this PyTorch build sees no CUDA GPU")
        return []
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    out.print(f"  {'torch:cuda':<10} available ({len(names)} GPU(s))")
    return [f"torch:cuda:{i} {n}" for i, n in enumerate(names)]


def _cupy(out: Output) -> list[str]:
    gpus: list[str] = []
    try:
        cupy: Any = importlib.import_module("cupy")
        count = cupy.cuda.runtime.getDeviceCount()
        for i in range(count):
            props = cupy.cuda.runtime.getDeviceProperties(i)
            gpus.append(f"cuda:{i} {props['name'].decode()}")
        out.print(f"  {'cuda':<10} available (cupy, {count} GPU(s))")
    except ImportError:
        out.print(
            f"  {'cuda':<10} not available: CuPy is not installed (pip install 'gnet[cuda12]')"
        )
    except Exception as exc:
        out.print(f"  {'cuda':<10} not available: CuPy finds no usable GPU ({exc})")
    return gpus
