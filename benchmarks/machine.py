"""What the benchmarks record about the machine (CPU, BLAS kernel and threads,
library versions, load average: the machine may be shared) and where the data are."""

from __future__ import annotations

import importlib
import os
import platform
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info() -> list[dict]:
    """Thread pools and BLAS kernels as threadpoolctl sees them (empty without it)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("user_api", "internal_api", "prefix", "version", "num_threads", "architecture")
    return [{k: d[k] for k in keys if d.get(k) is not None} for d in threadpool_info()]


def thread_count(library: str = "numpy") -> int:
    """Threads the BLAS (numpy) or torch uses, else the core count."""
    if library == "torch":
        try:
            import torch

            return torch.get_num_threads()
        except ImportError:
            pass
    for pool in blas_info():
        if pool.get("user_api") == "blas":
            return int(pool["num_threads"])
    return os.cpu_count() or 1


def library_versions() -> dict[str, str]:
    versions = {}
    for name in ("gnet", "numpy", "array_api_compat", "torch", "cupy", "threadpoolctl"):
        try:
            versions[name] = importlib.import_module(name).__version__
        except Exception:
            continue
    return versions


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def data_dir() -> Path:
    env = os.environ.get("GNET_DATA_DIR")
    if env:
        path = Path(env)
        return path if path.is_absolute() else (REPO / path).resolve()
    return (REPO.parent / "shared" / "data").resolve()
