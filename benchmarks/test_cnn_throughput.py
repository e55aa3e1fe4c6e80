"""Training throughput of the Keras mnist_convnet (configs/mnist-cnn.json):
gnet on each backend beside a plain NHWC im2col loop (Array API operations
only, NumPy) and PyTorch, one epoch per mode, same batches.

Groups are ``keras-cnn <mode>``: a per-sample slice of 1,000 images,
mini-batch 128, and full-batch (60,000 images in one update; every
implementation runs it in chunks of at most a few thousand rows and sums the
gradients). ``extra_info`` carries samples/s and what ``test_throughput``
records. The issue's figure is one BLAS thread, mini-batch 128:

    GNET_BENCH_THREADS=1 pytest benchmarks/test_cnn_throughput.py \\
        --benchmark-enable --benchmark-only --benchmark-json benchmarks/results/cnn-DATE.json

With a plain ``pytest`` each function runs once on a small slice (smoke test).
"""

from __future__ import annotations

import numpy as np
import pytest
from machine import cpu_model, library_versions, load_average, thread_count
from reference_cnn import KERAS_SPEC, PlainCNN, TorchCNN
from test_throughput import IMPLEMENTATIONS, LABELS, ROUNDS

import gnet

PER_SAMPLE_SLICE = 1_000
SMOKE_SAMPLES, SMOKE_PER_SAMPLE = 512, 16
LEARNING_RATE = 1e-3
SEED = 0
CASES = [("per-sample", 1), ("mini-batch", 128), ("full-batch", None)]


def _gnet(device: str, X: np.ndarray, y: np.ndarray, mode: str, size: int):
    backend = gnet.get_backend(device)
    with backend.context():
        net = gnet.Network(
            KERAS_SPEC, input_shape=(28, 28, 1), device=backend, seed=SEED, init="glorot"
        )
        opt = gnet.optim.Adam(learning_rate=LEARNING_RATE)
        Xd, yd = backend.asarray(X), backend.asarray(y)
        if backend.is_gpu:  # fit warms up itself; one small fit also compiles the step
            warm = gnet.Network(KERAS_SPEC, input_shape=(28, 28, 1), device=backend)
            warm.fit(
                Xd[:256],
                yd[:256],
                epochs=1,
                batch_size=min(size, 256),
                optimizer=gnet.optim.Adam(LEARNING_RATE),
            )
            backend.synchronize()

    def epoch():
        with backend.context():
            net.fit(Xd, yd, epochs=1, mode=mode, batch_size=size, optimizer=opt)
            backend.synchronize()

    return epoch, backend.describe() if backend.is_gpu else cpu_model(), backend.name


def _reference(impl: str, device: str, X: np.ndarray, y: np.ndarray, size: int):
    if impl == "plain-numpy":
        net = gnet.Network(KERAS_SPEC, input_shape=(28, 28, 1), seed=SEED, init="glorot")
        model = PlainCNN([gnet.to_numpy(p) for p in net.parameters()], LEARNING_RATE, SEED)
        return (lambda: model.train_epoch(X, y, size)), cpu_model(), "numpy"
    torch_model = TorchCNN(LEARNING_RATE, device=device, seed=SEED)
    Xd, yd = torch_model.to_device(X, y)
    name = cpu_model()
    if device == "cuda":
        import torch

        name = torch.cuda.get_device_name()
    return (lambda: torch_model.train_epoch(Xd, yd, size)), name, "torch"


@pytest.mark.parametrize(("impl", "device"), IMPLEMENTATIONS)
@pytest.mark.parametrize(("mode", "batch"), CASES, ids=[m for m, _ in CASES])
def test_cnn_epoch(benchmark, mnist_train, mode, batch, impl, device):
    X, y, source = mnist_train
    n = PER_SAMPLE_SLICE if mode == "per-sample" else X.shape[0]
    if not benchmark.enabled:
        n = min(n, SMOKE_PER_SAMPLE if mode == "per-sample" else SMOKE_SAMPLES)
    X, y = np.ascontiguousarray(X[:n]), np.ascontiguousarray(y[:n])
    size = batch if batch is not None else n
    if impl == "gnet":
        epoch, device_name, backend = _gnet(device, X, y, mode, size)
    else:
        epoch, device_name, backend = _reference(impl, device, X, y, size)
    benchmark.group = (
        f"keras-cnn {mode}"
        + (f" {batch}" if mode == "mini-batch" else "")
        + (f" ({PER_SAMPLE_SLICE:,} samples)" if mode == "per-sample" else "")
    )
    benchmark.extra_info.update(
        {
            "model": "keras-cnn",
            "mode": mode,
            "batch_size": size,
            "samples": n,
            "parameters": 34826,
            "implementation": LABELS[(impl, device)],
            "backend": backend,
            "device": device,
            "device_name": device_name,
            "platform": "gpu" if "cuda" in device else "cpu",
            "threads": thread_count("torch" if backend == "torch" else "numpy"),
            "data": source,
            "dtype": "float32",
            "learning_rate": LEARNING_RATE,
            "versions": library_versions(),
            "load_average_before": load_average(),
        }
    )
    rounds = ROUNDS if mode == "mini-batch" else max(3, ROUNDS // 2)
    benchmark.pedantic(epoch, rounds=rounds, warmup_rounds=1)
    if benchmark.enabled:
        benchmark.extra_info["samples_per_second"] = n / benchmark.stats.stats.median
        benchmark.extra_info["load_average_after"] = load_average()
