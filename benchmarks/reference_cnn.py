"""The two references the convolutional net is timed against: a plain NHWC
im2col loop and PyTorch.

The model is the Keras mnist_convnet example that configs/mnist-cnn.json
describes: conv 32 3x3 ReLU, max-pool 2, conv 64 3x3 ReLU, max-pool 2,
flatten, dropout 0.5, dense 10 softmax, cross-entropy, Adam 1e-3.

The plain loop is written as simply as possible with Array API operations
only (slices, stack, reshape, matmul, max, where-free masks), on NumPy: it is
the floor gnet's layer machinery is measured against. Batches come from the
permutation gnet uses (``reference_loops.permutation``); batches larger than
``CHUNK`` rows are processed in chunks whose gradients are summed, as gnet
does, so a full-batch epoch fits in memory.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from reference_loops import permutation

CHUNK = 2048
KERAS_SPEC = [
    {"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
    {"type": "maxpool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"},
    {"type": "maxpool2d", "pool_size": 2},
    {"type": "flatten"},
    {"type": "dropout", "rate": 0.5},
    {"type": "dense", "units": 10, "activation": "softmax"},
]


def _im2col(x: np.ndarray, k: int) -> np.ndarray:
    """(B, H, W, C) -> (B, Ho, Wo, k*k, C): the k*k shifted windows, valid padding."""
    ho, wo = x.shape[1] - k + 1, x.shape[2] - k + 1
    return np.stack([x[:, i : i + ho, j : j + wo, :] for i in range(k) for j in range(k)], axis=3)


def _col2im(d: np.ndarray, k: int, shape: tuple[int, ...]) -> np.ndarray:
    """The adjoint of _im2col: each window's gradient added back where it came from."""
    out = np.zeros(shape, dtype=d.dtype)
    ho, wo = d.shape[1], d.shape[2]
    for idx, (i, j) in enumerate((i, j) for i in range(k) for j in range(k)):
        out[:, i : i + ho, j : j + wo, :] += d[:, :, :, idx, :]
    return out


def _pool(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max-pool (floor): (pooled, the cropped input as (B, H/2, 2, W/2, 2, C))."""
    b, h, w, c = a.shape
    r = a[:, : h - h % 2, : w - w % 2, :].reshape(b, h // 2, 2, w // 2, 2, c)
    return r.max(axis=(2, 4)), r


def _unpool(r: np.ndarray, p: np.ndarray, dp: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    mask = (r == p[:, :, None, :, None, :]).astype(dp.dtype)
    d = mask * dp[:, :, None, :, None, :]
    out = np.zeros(shape, dtype=dp.dtype)
    b, h2, _, w2, _, c = r.shape
    out[:, : 2 * h2, : 2 * w2, :] = d.reshape(b, 2 * h2, 2 * w2, c)
    return out


class PlainCNN:
    """The Keras net in plain NumPy: im2col + one matmul per conv, Adam."""

    def __init__(
        self, params: list[np.ndarray], lr: float = 1e-3, seed: int = 0, dropout: bool = True
    ):
        self.p = [np.array(a) for a in params]  # W1 b1 W2 b2 W3 b3
        self.dropout = dropout
        self.m = [np.zeros_like(a) for a in self.p]
        self.v = [np.zeros_like(a) for a in self.p]
        self.lr, self.t, self.seed, self.epoch = lr, 0, seed, 0
        self.rng = np.random.default_rng(seed)

    def train_epoch(self, X: np.ndarray, y: np.ndarray, batch: int) -> None:
        self.epoch += 1
        n = len(X)
        X = X.reshape(n, 28, 28, 1)
        Y = np.eye(10, dtype=self.p[0].dtype)[y]
        order = permutation(self.seed, self.epoch, n) if batch < n else np.arange(n)
        for s in range(0, n, batch):
            idx = order[s : s + batch]
            grads = None
            for c in range(0, len(idx), CHUNK):
                part = idx[c : c + CHUNK]
                g = self.gradients(X[part], Y[part], len(part) / len(idx))
                grads = g if grads is None else [a + b for a, b in zip(grads, g, strict=True)]
            self.adam(grads)

    def gradients(self, x: np.ndarray, t: np.ndarray, share: float) -> list[np.ndarray]:
        W1, b1, W2, b2, W3, b3 = self.p
        B = len(x)
        c1 = _im2col(x, 3)
        z1 = c1.reshape(-1, 9).dot(W1.reshape(9, 32)).reshape(B, 26, 26, 32) + b1
        a1 = np.maximum(z1, 0)
        p1, r1 = _pool(a1)
        c2 = _im2col(p1, 3)
        z2 = c2.reshape(-1, 288).dot(W2.reshape(288, 64)).reshape(B, 11, 11, 64) + b2
        a2 = np.maximum(z2, 0)
        p2, r2 = _pool(a2)
        f = p2.reshape(B, 1600)
        mask = np.ones_like(f)
        if self.dropout:
            mask = (self.rng.random(f.shape) >= 0.5).astype(f.dtype) * 2
        h = f * mask
        z3 = h @ W3 + b3
        e = np.exp(z3 - z3.max(axis=1, keepdims=True))
        P = e / e.sum(axis=1, keepdims=True)
        d3 = (P - t) * (share / B)
        g3, gb3 = h.T @ d3, d3.sum(axis=0)
        dp2 = ((d3 @ W3.T) * mask).reshape(B, 5, 5, 64)
        dz2 = _unpool(r2, p2, dp2, a2.shape) * (z2 > 0)
        dz2r = dz2.reshape(-1, 64)
        g2 = (c2.reshape(-1, 288).T @ dz2r).reshape(3, 3, 32, 64)
        gb2 = dz2r.sum(axis=0)
        dp1 = _col2im((dz2r @ W2.reshape(288, 64).T).reshape(B, 11, 11, 9, 32), 3, p1.shape)
        dz1 = (_unpool(r1, p1, dp1, a1.shape) * (z1 > 0)).reshape(-1, 32)
        g1 = (c1.reshape(-1, 9).T @ dz1).reshape(3, 3, 1, 32)
        return [g1, dz1.sum(axis=0), g2, gb2, g3, gb3]

    def adam(self, grads: list[np.ndarray], b1: float = 0.9, b2: float = 0.999) -> None:
        self.t += 1
        lr_t = self.lr * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        eps_t = 1e-8 * math.sqrt(1 - b2**self.t)
        for p, m, v, g in zip(self.p, self.m, self.v, grads, strict=True):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            p -= lr_t * m / (np.sqrt(v) + eps_t)


class TorchCNN:
    """The same network as torch.nn layers (NCHW) trained by torch.optim.Adam."""

    def __init__(self, lr: float = 1e-3, device: str = "cpu", seed: int = 0):
        import torch
        from torch import nn

        torch.manual_seed(seed)
        self.torch, self.device = torch, torch.device(device)
        self.model = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10),
        ).to(self.device)  # fmt: skip
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.loss = nn.CrossEntropyLoss()
        self.seed, self.epoch = seed, 0

    def to_device(self, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        t = self.torch
        images = t.from_numpy(np.ascontiguousarray(X.reshape(-1, 1, 28, 28)))
        return images.to(self.device), t.from_numpy(y).to(self.device)

    def train_epoch(self, X: Any, y: Any, batch: int) -> None:
        t = self.torch
        self.epoch += 1
        n = X.shape[0]
        p = t.from_numpy(permutation(self.seed, self.epoch, n)).to(self.device)
        for s in range(0, n, batch):
            idx = p[s : s + batch] if batch < n else t.arange(n, device=self.device)
            self.opt.zero_grad(set_to_none=True)
            for c in range(0, len(idx), CHUNK):  # chunks' gradients add up in .grad
                part = idx[c : c + CHUNK]
                (self.loss(self.model(X[part]), y[part]) * (len(part) / len(idx))).backward()
            self.opt.step()
        if self.device.type == "cuda":
            t.cuda.synchronize(self.device)
