"""Benchmark fixtures: data, machine description, and the slow-suite switch.

``pytest`` alone runs every benchmark once as a smoke test (the root conftest's
benchmark-disable) on a small slice of the data, and skips the slow
time-to-accuracy suite. Real timings:

    pytest benchmarks --benchmark-enable --benchmark-only \\
        --benchmark-json benchmarks/results/cpu-DATE.json

and the time-to-accuracy suite: ``pytest benchmarks/test_time_to_accuracy.py
--run-slow`` (or ``GNET_RUN_SLOW=1``).
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from machine import blas_info, cpu_model, data_dir, library_versions, load_average

BENCH_DIR = Path(__file__).resolve().parent


def pytest_addoption(parser):
    try:
        parser.addoption(
            "--run-slow",
            action="store_true",
            default=False,
            help="run tests marked slow (also GNET_RUN_SLOW=1)",
        )
    except ValueError:  # another conftest already registered it
        pass


def run_slow(config) -> bool:
    return bool(config.getoption("--run-slow", default=False)) or os.environ.get(
        "GNET_RUN_SLOW", ""
    ).lower() in ("1", "true", "yes")


def pytest_collection_modifyitems(config, items):
    """Skip the slow benchmarks (time-to-accuracy) unless asked for."""
    if run_slow(config):
        return
    skip = pytest.mark.skip(reason="slow benchmark: run with --run-slow or GNET_RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords and BENCH_DIR in Path(str(item.path)).parents:
            item.add_marker(skip)


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["cpu_model"] = cpu_model()
    machine_info["cores"] = os.cpu_count()
    machine_info["blas"] = blas_info()
    machine_info["openblas_env"] = {
        k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))
    }
    machine_info["library_versions"] = library_versions()
    machine_info["load_average_at_end"] = load_average()
    if os.environ.get("GNET_BENCH_THREADS"):
        machine_info["threads_limit"] = int(os.environ["GNET_BENCH_THREADS"])
    note = os.environ.get("GNET_BENCH_NOTE")
    if note:
        machine_info["note"] = note


@pytest.fixture(scope="session", autouse=True)
def thread_limit():
    """``GNET_BENCH_THREADS=N`` caps the BLAS / OpenMP pools and torch's
    intra-op threads at N for the whole run (default: the libraries' own
    choice, one thread per core). On a shared machine one thread gives steadier
    figures: a multi-threaded small GEMM stalls whenever one of its threads is
    descheduled."""
    value = os.environ.get("GNET_BENCH_THREADS")
    if not value:
        yield None
        return
    n = int(value)
    try:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(n)
    except ImportError:
        torch = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is None:
        yield n
    else:
        with threadpool_limits(limits=n):
            yield n
    if torch is not None:
        torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def free_device_memory():
    """After each benchmark, give CuPy's and torch's cached GPU memory back, so
    one implementation's pool neither helps nor crowds the next in the same
    process. Only libraries already imported are touched; nothing here
    imports CuPy or torch."""
    yield
    cupy, torch = sys.modules.get("cupy"), sys.modules.get("torch")
    if cupy is None and torch is None:
        return
    gc.collect()  # the finished benchmark's arrays, so their blocks are free
    if cupy is not None:
        with contextlib.suppress(Exception):  # CuPy without a usable GPU
            cupy.get_default_memory_pool().free_all_blocks()
            cupy.get_default_pinned_memory_pool().free_all_blocks()
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------- data


@pytest.fixture(scope="session")
def mnist_train() -> tuple[np.ndarray, np.ndarray, str]:
    """(X, y, source): MNIST's 60,000 training images as float32 (N, 784) in
    [0, 1] and int64 labels when the files are there, else random data of the
    same shape (the timings do not depend on the pixel values)."""
    root = data_dir() / "mnist"
    images, labels = root / "train-images-idx3-ubyte.gz", root / "train-labels-idx1-ubyte.gz"
    if images.exists() and labels.exists():
        X = np.frombuffer(gzip.open(images).read(), np.uint8, offset=16).reshape(-1, 784)
        y = np.frombuffer(gzip.open(labels).read(), np.uint8, offset=8)
        return (X.astype(np.float32) / 255.0), y.astype(np.int64), "mnist"
    rng = np.random.default_rng(0)
    X = rng.random((60_000, 784), dtype=np.float32)
    return X, rng.integers(0, 10, 60_000).astype(np.int64), "random (MNIST-shaped)"
