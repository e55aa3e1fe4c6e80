"""Two variants of a training step the epoch loop needs now and then: a
batch larger than the memory budget, run in chunks with the exact summed
gradient, and the untimed warm-up pass on a GPU backend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import backend as B
from .backend import Array

if TYPE_CHECKING:
    from .network import Network


def warm_up(net: Network, X: Array, Y: Array, size: int) -> None:
    """One untimed forward + backward pass on a GPU backend, so the first
    epoch's time does not include the CUDA context, cuBLAS handles and the
    kernels CuPy compiles on first use. The network does not change (no
    optimiser step; params and state are restored), and the masks come from a
    generator of their own."""
    rows = min(size, net.max_rows(), X.shape[0])
    rng, saved = net._dropout_rng, net.snapshot()  # batch norm's statistics move in training
    net._dropout_rng = net.backend.random_generator([net.seed, 1 << 21])
    try:
        A = net.forward_with(X[:rows, ...], net.training_context())
        net.backward(A, Y[:rows, :])
        net.backend.synchronize()
    finally:
        net._dropout_rng = rng
        net.restore(saved)
        for layer in net.layers:
            layer.grads = {}


def chunked_batch(
    net: Network,
    X: Array,
    Y: Array,
    perm: Any,
    s: int,
    e: int,
    rows: int,
    ctx: Any,
    outputs: Array,
    scale: float,
    augment: Any,
    epoch: int,
    batch: int,
) -> None:
    """Rows s:e, a batch larger than the memory budget, in chunks of ``rows``:
    each chunk's gradient is weighted by its share of the batch and the layers'
    ``grads`` become the sums, which is the batch's exact mean gradient."""
    sums: list[dict[str, Any]] = [{} for _ in net.layers]
    for c in range(s, e, rows):
        ce = min(c + rows, e)
        chunk_step(net, X, Y, perm, c, ce, ctx, outputs, scale * (ce - c) / (e - s), augment,
                   epoch, batch)  # fmt: skip
        for layer, total in zip(net.layers, sums, strict=True):
            for k, g in layer.grads.items():
                if k in total:
                    total[k] += g
                else:
                    total[k] = g if B.writeable(g) else g * 1
    for layer, total in zip(net.layers, sums, strict=True):
        layer.grads = total


def chunk_step(
    net: Network,
    X: Array,
    Y: Array,
    index: Any,
    c: int,
    ce: int,
    ctx: Any,
    outputs: Array,
    scale: float,
    augment: Any,
    epoch: int,
    batch: int,
) -> None:
    """Forward and backward of rows c:ce (of X, or of X's rows ``index`` when
    given), their loss input kept in ``outputs``, gradients weighted by
    ``scale`` (their share of the batch times the optimiser's factor)."""
    xp = net.xp
    Xb = X[c:ce, ...] if index is None else xp.take(X, index[c:ce], axis=0)
    if augment is not None:
        Xb = augment(xp, Xb, epoch, batch)
    A = net.forward_with(Xb, ctx)
    outputs[c:ce, :] = net.loss_input(A)
    net.backward(A, Y[c:ce, :], scale)
