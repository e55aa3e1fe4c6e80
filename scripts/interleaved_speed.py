"""Speed ratios on a busy machine: gnet's epochs interleaved with the
references' (the plain-NumPy loop and PyTorch), in rotating order, the median
of per-round ratios reported. A load that drifts slows both sides of a round
alike, so the ratio holds where absolute timings do not.

    python scripts/interleaved_speed.py mlp [ROUNDS]     # 784-128-10, three modes
    python scripts/interleaved_speed.py cnn [ROUNDS] [N] # the Keras net, mini-batch 128

One BLAS thread (set OPENBLAS_NUM_THREADS=1 for the run). MNIST from
$GNET_DATA_DIR. ``PYTHONPATH=OTHER_CHECKOUT`` measures another version of gnet
with the same script (the before / after of a change).
"""

from __future__ import annotations

import gzip
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from reference_loops import PlainNumpy  # noqa: E402

import gnet  # noqa: E402


def mnist() -> tuple[np.ndarray, np.ndarray]:
    root = Path(os.environ.get("GNET_DATA_DIR", "../shared/data")) / "mnist"
    images = gzip.open(root / "train-images-idx3-ubyte.gz").read()
    labels = gzip.open(root / "train-labels-idx1-ubyte.gz").read()
    X = np.frombuffer(images, np.uint8, offset=16).reshape(-1, 784).astype(np.float32) / 255
    return X, np.frombuffer(labels, np.uint8, offset=8).astype(np.int64)


def mlp_round(Xs: np.ndarray, ys: np.ndarray, mode: str, size: int, gnet_first: bool) -> dict:
    """Seconds of one epoch of gnet and of the plain loop, from the same fresh start."""
    net = gnet.Network([784, 128, 10], ["relu", "softmax"], seed=0)
    weights = [np.array(gnet.to_numpy(w)) for w in net.parameters()[::2]]
    plain = PlainNumpy(weights, 0.01, 0.9, seed=0)
    opt = gnet.optim.SGD(learning_rate=0.01, momentum=0.9)
    runs = {
        "gnet": lambda: net.fit(Xs, ys, epochs=1, mode=mode, batch_size=size, optimizer=opt),
        "plain": lambda: plain.train_epoch(Xs, ys, size),
    }
    seconds = {}
    for name in ["gnet", "plain"] if gnet_first else ["plain", "gnet"]:
        start = time.perf_counter()
        runs[name]()
        seconds[name] = time.perf_counter() - start
    return seconds


def mlp(rounds: int) -> None:
    X, y = mnist()
    for mode, batch, n in [("per-sample", 1, 5000), ("mini-batch", 128, 60000),
                           ("full-batch", None, 60000)]:  # fmt: skip
        Xs, ys = np.ascontiguousarray(X[:n]), np.ascontiguousarray(y[:n])
        size = batch or n
        ratios, rates = [], []
        for r in range(rounds + 1):
            seconds = mlp_round(Xs, ys, mode, size, r % 2 == 0)
            if r:  # the first round warms up
                ratios.append(seconds["plain"] / seconds["gnet"])
                rates.append(n / seconds["gnet"])
        print(
            f"{mode}: gnet / plain {statistics.median(ratios):.3f}x "
            f"(range {min(ratios):.2f}-{max(ratios):.2f}), "
            f"gnet {statistics.median(rates):,.0f} samples/s",
            flush=True,
        )


def cnn(rounds: int, n: int) -> None:
    import torch
    from reference_cnn import KERAS_SPEC, PlainCNN, TorchCNN

    torch.set_num_threads(1)
    X, y = mnist()
    Xs, ys = np.ascontiguousarray(X[:n]), np.ascontiguousarray(y[:n])
    net = gnet.Network(KERAS_SPEC, input_shape=(28, 28, 1), seed=0, init="glorot")
    opt = gnet.optim.Adam(1e-3)
    plain = PlainCNN([gnet.to_numpy(p) for p in net.parameters()], 1e-3, 0)
    model = TorchCNN(1e-3)
    Xt, yt = model.to_device(Xs, ys)
    runs = {
        "gnet": lambda: net.fit(Xs, ys, epochs=1, batch_size=128, optimizer=opt),
        "plain": lambda: plain.train_epoch(Xs, ys, 128),
        "torch": lambda: model.train_epoch(Xt, yt, 128),
    }
    for run in runs.values():  # warm-up
        run()
    seconds: dict[str, list[float]] = {k: [] for k in runs}
    order = list(runs)
    for r in range(rounds):
        for name in order[r % 3 :] + order[: r % 3]:
            start = time.perf_counter()
            runs[name]()
            seconds[name].append(time.perf_counter() - start)
    g, p, t = (np.array(seconds[k]) for k in ("gnet", "plain", "torch"))
    print(
        f"samples/s (median): gnet {n / np.median(g):,.0f}, plain im2col {n / np.median(p):,.0f}, "
        f"PyTorch {n / np.median(t):,.0f}"
    )
    print(
        f"gnet / plain {np.median(p / g):.2f}x (range {np.min(p / g):.2f}-{np.max(p / g):.2f}); "
        f"gnet / PyTorch {np.median(t / g):.2f}x (range {np.min(t / g):.2f}-{np.max(t / g):.2f})"
    )


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "mlp"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 9
    if kind == "cnn":
        cnn(count, int(sys.argv[3]) if len(sys.argv) > 3 else 6400)
    else:
        mlp(count)
