"""Training throughput: one epoch per mode, gnet on each backend beside a
plain-NumPy loop and PyTorch, plus the machine's float32 GEMM floor.

Each benchmark trains one epoch of MNIST-shaped float32 data (the 60,000
MNIST training images when present), SGD with momentum 0.9, from the same
initial weights and on the same batches for every implementation. Per-sample
epochs are a fixed 5,000-sample slice (the group name says so). Groups are
``<model> <mode>``; ``extra_info`` carries samples/s, implementation,
backend, device name, thread count, library versions and the load average.

With a plain ``pytest`` (the root conftest.py sets ``--benchmark-disable``) each function runs
once as a smoke test on a small slice (1,024 samples, 128 per-sample). Real timings:

    pytest benchmarks --benchmark-enable --benchmark-only \\
        --benchmark-json benchmarks/results/cpu-DATE.json

``GNET_BENCH_ROUNDS`` sets the rounds (default 7, after one warm-up round).
GPU implementations also take an untimed warm-up step on a small slice
before that (CUDA context, cuBLAS, CuPy's kernel compilation: keep
``CUPY_CACHE_DIR`` between runs), run inside the backend's device context,
and synchronise inside every timed call; the conftest frees CuPy's and
torch's memory pools after each benchmark.
``scripts/bench_table.py`` renders the JSON as a Markdown table.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from machine import cpu_model, library_versions, load_average, thread_count
from reference_loops import PlainNumpy, Torch

import gnet
from gnet.backend import cuda_available

ROUNDS = int(os.environ.get("GNET_BENCH_ROUNDS", "7"))
PER_SAMPLE_SLICE = 5_000
SMOKE_SAMPLES = 1_024  # batch modes, smoke test
SMOKE_PER_SAMPLE = 128
LEARNING_RATE = 0.01
MOMENTUM = 0.9
SEED = 0

MODELS = {"784-128-10": [784, 128, 10], "784-512-256-10": [784, 512, 256, 10]}

CASES = [
    ("784-128-10", "per-sample", 1),
    ("784-128-10", "mini-batch", 128),
    ("784-128-10", "mini-batch", 1024),
    ("784-128-10", "full-batch", None),
    ("784-512-256-10", "mini-batch", 128),
    ("784-512-256-10", "full-batch", None),
]

HAS_TORCH = importlib.util.find_spec("torch") is not None


def _torch_cuda() -> bool:
    if not HAS_TORCH:
        return False
    import torch

    return torch.cuda.is_available()


NO_TORCH = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
NO_CUPY = pytest.mark.skipif(not cuda_available(), reason="no GPU: CuPy sees no CUDA device")
NO_TORCH_CUDA = pytest.mark.skipif(not _torch_cuda(), reason="no GPU: torch sees no CUDA device")

# (implementation, device, marks): gnet devices are gnet's device strings.
IMPLEMENTATIONS = [
    pytest.param("gnet", "cpu", id="gnet-numpy"),
    pytest.param("gnet", "torch", id="gnet-torch-cpu", marks=NO_TORCH),
    pytest.param("gnet", "cuda", id="gnet-cupy", marks=NO_CUPY),
    pytest.param("gnet", "torch:cuda", id="gnet-torch-cuda", marks=NO_TORCH_CUDA),
    pytest.param("plain-numpy", "cpu", id="plain-numpy"),
    pytest.param("pytorch", "cpu", id="pytorch-cpu", marks=NO_TORCH),
    pytest.param("pytorch", "cuda", id="pytorch-cuda", marks=NO_TORCH_CUDA),
]

LABELS = {
    ("gnet", "cpu"): "gnet numpy",
    ("gnet", "torch"): "gnet torch-cpu",
    ("gnet", "cuda"): "gnet cupy",
    ("gnet", "torch:cuda"): "gnet torch-cuda",
    ("plain-numpy", "cpu"): "plain NumPy",
    ("pytorch", "cpu"): "PyTorch cpu",
    ("pytorch", "cuda"): "PyTorch cuda",
}


def n_parameters(sizes: list[int]) -> int:
    return sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:], strict=True))


def group_name(model: str, mode: str, batch: int | None) -> str:
    if mode == "per-sample":
        return f"{model} per-sample ({PER_SAMPLE_SLICE:,} samples)"
    if mode == "mini-batch":
        return f"{model} mini-batch {batch}"
    return f"{model} full-batch"


def initial_weights(sizes: list[int]) -> list[np.ndarray]:
    """gnet's He initial weights for seed 0, shared by every implementation."""
    net = gnet.Network(sizes, _activations(sizes), device="cpu", seed=SEED)
    return [np.array(gnet.to_numpy(layer.weight)) for layer in net.layers]


def _activations(sizes: list[int]) -> list[str]:
    return ["relu"] * (len(sizes) - 2) + ["softmax"]


def _gnet_trainer(device: str, sizes: list[int], X: np.ndarray, y: np.ndarray, mode, batch):
    backend = gnet.get_backend(device)
    with backend.context():  # CuPy puts new arrays on the current GPU: make it this one
        net = gnet.Network(sizes, _activations(sizes), device=backend, seed=SEED)
        opt = gnet.optim.SGD(learning_rate=LEARNING_RATE, momentum=MOMENTUM)
        # Data go to the device once, outside the timing, as a training run does.
        Xd, yd = backend.asarray(X), backend.asarray(y)
        size = batch if batch is not None else X.shape[0]
        if backend.is_gpu:
            # Untimed warm-up: CUDA context, cuBLAS handles and the ~40 kernels
            # CuPy compiles (or loads from CUPY_CACHE_DIR) on first use.
            warm = gnet.Network(sizes, _activations(sizes), device=backend, seed=SEED)
            n = min(X.shape[0], 2 * size)
            warm.fit(
                Xd[:n],
                yd[:n],
                epochs=1,
                mode=mode,
                batch_size=min(size, n),
                optimizer=gnet.optim.SGD(learning_rate=LEARNING_RATE, momentum=MOMENTUM),
            )
            warm.evaluate(Xd[:n], yd[:n])
            backend.synchronize()

    def epoch():
        with backend.context():
            net.fit(Xd, yd, epochs=1, mode=mode, batch_size=size, optimizer=opt)
            backend.synchronize()

    return epoch, backend.describe() if backend.is_gpu else cpu_model(), backend.name


def _reference_trainer(impl: str, device: str, sizes, X, y, batch):
    weights = initial_weights(sizes)
    size = batch if batch is not None else X.shape[0]
    if impl == "plain-numpy":
        model = PlainNumpy(weights, LEARNING_RATE, MOMENTUM, seed=SEED)
        return (lambda: model.train_epoch(X, y, size)), cpu_model(), "numpy"
    model = Torch(weights, LEARNING_RATE, MOMENTUM, device=device, seed=SEED)
    Xd, yd = model.to_device(X, y)
    name = cpu_model()
    if device == "cuda":
        import torch

        name = torch.cuda.get_device_name()
    return (lambda: model.train_epoch(Xd, yd, size)), name, "torch"


@pytest.mark.parametrize(("impl", "device"), IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("model", "mode", "batch"),
    [
        pytest.param(*c, id=f"{c[0]}-{c[1]}" + (f"-{c[2]}" if c[1] == "mini-batch" else ""))
        for c in CASES
    ],
)
def test_epoch(benchmark, mnist_train, model, mode, batch, impl, device):
    X, y, source = mnist_train
    n = PER_SAMPLE_SLICE if mode == "per-sample" else X.shape[0]
    if not benchmark.enabled:  # smoke test: run once on a small slice
        n = min(n, SMOKE_PER_SAMPLE if mode == "per-sample" else SMOKE_SAMPLES)
    X, y = np.ascontiguousarray(X[:n]), np.ascontiguousarray(y[:n])
    sizes = MODELS[model]
    if impl == "gnet":
        epoch, device_name, backend = _gnet_trainer(device, sizes, X, y, mode, batch)
    else:
        epoch, device_name, backend = _reference_trainer(impl, device, sizes, X, y, batch)
    benchmark.group = group_name(model, mode, batch)
    benchmark.extra_info.update(
        {
            "model": model,
            "mode": mode,
            "batch_size": batch if batch is not None else n,
            "samples": n,
            "parameters": n_parameters(sizes),
            "implementation": LABELS[(impl, device)],
            "backend": backend,
            "device": device,
            "device_name": device_name,
            "platform": "gpu" if "cuda" in device else "cpu",
            "threads": thread_count("torch" if backend == "torch" else "numpy"),
            "data": source,
            "dtype": "float32",
            "learning_rate": LEARNING_RATE,
            "momentum": MOMENTUM,
            "versions": library_versions(),
            "load_average_before": load_average(),
        }
    )
    benchmark.pedantic(epoch, rounds=ROUNDS, warmup_rounds=1)
    if benchmark.enabled:
        median = benchmark.stats.stats.median
        benchmark.extra_info["samples_per_second"] = n / median
        benchmark.extra_info["load_average_after"] = load_average()


# ---------------------------------------------------------------- GEMM floor

GEMM_SIZE = 4096
GEMM_LIBRARIES = [
    pytest.param("numpy", id="numpy"),
    pytest.param("torch", id="torch-cpu", marks=NO_TORCH),
    pytest.param("cupy", id="cupy", marks=NO_CUPY),
    pytest.param("torch:cuda", id="torch-cuda", marks=NO_TORCH_CUDA),
]


def _gemm(library: str, size: int):
    rng = np.random.default_rng(0)
    A = rng.random((size, size), dtype=np.float32)
    B = rng.random((size, size), dtype=np.float32)
    if library == "numpy":
        out = np.empty_like(A)
        return lambda: np.matmul(A, B, out=out), cpu_model()
    if library == "cupy":
        import cupy

        backend = gnet.get_backend("cuda")  # CuPy's current GPU, probed
        with backend.context():
            Ad, Bd = cupy.asarray(A), cupy.asarray(B)
            out = cupy.empty_like(Ad)
            cupy.matmul(Ad, Bd, out=out)  # warm-up: cuBLAS handle and workspace
            backend.synchronize()

        def run_cupy():
            with backend.context():
                cupy.matmul(Ad, Bd, out=out)
                backend.synchronize()

        return run_cupy, backend.describe()
    import torch

    device = torch.device("cuda" if library == "torch:cuda" else "cpu")
    At, Bt = torch.from_numpy(A).to(device), torch.from_numpy(B).to(device)
    out = torch.empty_like(At)
    if device.type == "cpu":
        return lambda: torch.matmul(At, Bt, out=out), cpu_model()

    torch.matmul(At, Bt, out=out)  # warm-up: cuBLAS handle and workspace
    torch.cuda.synchronize(device)

    def run_torch_cuda():
        torch.matmul(At, Bt, out=out)
        torch.cuda.synchronize(device)

    return run_torch_cuda, torch.cuda.get_device_name(device)


@pytest.mark.parametrize("library", GEMM_LIBRARIES)
def test_gemm_floor(benchmark, library):
    """Peak float32 FLOP/s of a large matmul; with 6 x parameters FLOPs per
    training sample (2 forward, 4 backward), it bounds samples/s from above."""
    size = GEMM_SIZE if benchmark.enabled else 256
    run, device_name = _gemm(library, size)
    flops = 2 * size**3
    benchmark.group = "float32 GEMM floor"
    benchmark.extra_info.update(
        {
            "implementation": f"{library} matmul",
            "library": library,
            "matrix_size": size,
            "flops": flops,
            "platform": "gpu" if "cuda" in library else "cpu",
            "device_name": device_name,
            "threads": thread_count("torch" if library.startswith("torch") else "numpy"),
            "versions": library_versions(),
        }
    )
    benchmark.pedantic(run, rounds=ROUNDS, warmup_rounds=1)
    if benchmark.enabled:
        stats = benchmark.stats.stats
        peak = flops / stats.min
        benchmark.extra_info["gflops_median"] = flops / stats.median / 1e9
        benchmark.extra_info["gflops_peak"] = peak / 1e9
        benchmark.extra_info["floor_samples_per_second"] = {
            name: peak / (6 * n_parameters(sizes)) for name, sizes in MODELS.items()
        }


# ---------------------------------------------------------------- sameness


@pytest.mark.parametrize(
    ("mode", "batch"), [("per-sample", 1), ("mini-batch", 64), ("full-batch", None)]
)
def test_references_train_the_same_model(mnist_train, mode, batch):
    """gnet, the plain-NumPy loop and PyTorch end one epoch with the same
    weights: the comparison is of one computation, not three."""
    X, y, _ = mnist_train
    n = 64 if mode == "per-sample" else 512
    X, y = X[:n], y[:n]
    sizes = MODELS["784-128-10"]
    size = batch if batch is not None else n
    net = gnet.Network(sizes, _activations(sizes), device="cpu", seed=SEED)
    weights = initial_weights(sizes)  # copies: gnet updates its own in place
    net.fit(
        X,
        y,
        epochs=1,
        mode=mode,
        batch_size=size,
        optimizer=gnet.optim.SGD(learning_rate=0.1, momentum=MOMENTUM),
    )
    expected = [gnet.to_numpy(layer.weight) for layer in net.layers]
    plain = PlainNumpy(weights, 0.1, MOMENTUM, seed=SEED)
    plain.train_epoch(X, y, size)
    results = {"plain NumPy": plain.W}
    if HAS_TORCH:
        ref = Torch(weights, 0.1, MOMENTUM, seed=SEED)
        ref.train_epoch(*ref.to_device(X, y), size)
        results["PyTorch"] = ref.weights()
    for name, got in results.items():
        for k, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert np.abs(g - e).max() < 1e-4, f"{name} layer {k}"
