"""The two references gnet is timed against: a plain-NumPy loop and PyTorch.

Both train the same model as gnet (dense layers, ReLU hidden, softmax output
with cross-entropy, gradients averaged over the batch) with the same update
(SGD, momentum 0.9), from the same initial weights, on the same batches:
the permutation of epoch ``e`` is ``numpy.random.default_rng([seed, e])``,
as in ``gnet.train``, and full-batch epochs are not shuffled.

The plain-NumPy loop is written as simply as possible, with in-place
updates: it is the floor that gnet's overhead is measured against. At batch
1 it takes the outer product by broadcasting (``x.T * d``), as any NumPy
user would write ``np.outer``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order of epoch ``epoch`` (1-based), the same as gnet's."""
    return np.random.default_rng([seed, epoch]).permutation(n)


class PlainNumpy:
    """784-...-10 ReLU/softmax trained with SGD + momentum in plain NumPy."""

    def __init__(self, weights: list[np.ndarray], lr: float, momentum: float, seed: int = 0):
        self.W = [np.array(W, dtype=np.float32) for W in weights]
        self.b = [np.zeros(W.shape[1], dtype=np.float32) for W in weights]
        self.vW = [np.zeros_like(W) for W in self.W]
        self.vb = [np.zeros_like(b) for b in self.b]
        self.lr, self.mu, self.seed, self.epoch = lr, momentum, seed, 0

    def train_epoch(self, X: np.ndarray, y: np.ndarray, batch: int) -> None:
        self.epoch += 1
        n = len(X)
        Y = np.eye(self.W[-1].shape[1], dtype=np.float32)[y]
        if batch >= n:
            self.step(X, Y)
            return
        p = permutation(self.seed, self.epoch, n)
        for s in range(0, n, batch):
            idx = p[s : s + batch]
            self.step(X[idx], Y[idx])

    def step(self, x: np.ndarray, t: np.ndarray) -> None:
        # forward, keeping each layer's input and pre-activation
        inputs, zs, a = [], [], x
        for W, b in zip(self.W, self.b, strict=True):
            inputs.append(a)
            z = a @ W + b
            zs.append(z)
            a = np.maximum(z, 0)
        z = zs[-1]
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        # backward: softmax + cross-entropy gives dZ = (P - Y) / B
        d = (p - t) / len(x)
        for i in range(len(self.W) - 1, -1, -1):
            a = inputs[i]
            gW = a.T * d if len(x) == 1 else a.T @ d
            gb = d.sum(axis=0)
            if i > 0:
                d = (d @ self.W[i].T) * (zs[i - 1] > 0)
            for param, v, g in ((self.W[i], self.vW[i], gW), (self.b[i], self.vb[i], gb)):
                v *= self.mu
                v -= self.lr * g
                param += v


class Torch:
    """The same model as ``torch.nn`` layers trained by ``torch.optim.SGD``."""

    def __init__(
        self,
        weights: list[np.ndarray],
        lr: float,
        momentum: float,
        device: str = "cpu",
        seed: int = 0,
    ):
        import torch
        from torch import nn

        self.torch = torch
        self.device = torch.device(device)
        layers: list[Any] = []
        for W in weights:
            linear = nn.Linear(W.shape[0], W.shape[1])
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
                linear.bias.zero_()
            layers += [linear, nn.ReLU()]
        self.model = nn.Sequential(*layers[:-1]).to(self.device)
        # torch's momentum (v = mu v + g; p -= lr v) equals gnet's (v = mu v - lr g;
        # p += v) at a constant learning rate.
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=momentum)
        self.loss = nn.CrossEntropyLoss()
        self.seed, self.epoch = seed, 0

    def to_device(self, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """X, y as tensors on the model's device (done once, outside the timing)."""
        t = self.torch
        return t.from_numpy(X).to(self.device), t.from_numpy(y).to(self.device)

    def train_epoch(self, X: Any, y: Any, batch: int) -> None:
        t = self.torch
        self.epoch += 1
        n = X.shape[0]
        p = t.from_numpy(permutation(self.seed, self.epoch, n)).to(self.device)
        for s in range(0, n, batch):
            idx = p[s : s + batch]
            xb, yb = (X, y) if batch >= n else (X[idx], y[idx])
            self.opt.zero_grad(set_to_none=True)
            self.loss(self.model(xb), yb).backward()
            self.opt.step()
        if self.device.type == "cuda":
            t.cuda.synchronize(self.device)

    def weights(self) -> list[np.ndarray]:
        """Weights as (in, out) host arrays, gnet's layout."""
        return [m.weight.detach().cpu().numpy().T for m in self.model if hasattr(m, "weight")]
