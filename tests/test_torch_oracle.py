"""PyTorch autograd as an independent oracle for gnet's loss and gradients.

The same network (same weights and biases, float64) is built once in gnet and
once in torch; on the same batch the batch-mean loss and every (dW, db) must
agree within rtol 1e-10, on every backend. Torch never sees gnet's backward
code: it differentiates the forward pass written here with torch.nn.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from gnet.backend import to_numpy  # noqa: E402
from gnet.network import Network  # noqa: E402

RTOL = 1e-10
# Gradient entries that cancel to ~1e-17 carry rounding noise of the same size;
# an absolute floor far below any real entry keeps rtol meaningful elsewhere.
ATOL = 1e-14

# (gnet name, leaky ReLU slope) for hidden layers.
HIDDEN = [
    ("sigmoid", 0.01),
    ("relu", 0.01),
    ("leaky_relu", 0.01),
    ("leaky_relu", 0.2),
    ("tanh", 0.01),
    ("identity", 0.01),
]
# (output activation, loss); sigmoid + cross-entropy exercises the unfused
# -Y / P / B gradient through the sigmoid's derivative.
OUTPUTS = [
    ("softmax", "cross-entropy"),
    ("sigmoid", "mse"),
    ("identity", "mse"),
    ("tanh", "mse"),
    ("softmax", "mse"),
    ("sigmoid", "cross-entropy"),
]


def torch_activation(name: str, alpha: float):
    return {
        "sigmoid": torch.sigmoid,
        "relu": torch.relu,
        "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=alpha),
        "tanh": torch.tanh,
        "identity": lambda z: z,
        "softmax": lambda z: torch.softmax(z, dim=1),
    }[name]


def build(device, sizes, activations, loss, alpha, seed, dropout=0.0, dropconnect=0.0):
    """A float64 gnet network with He weights and random (non-zero) biases."""
    net = Network(
        sizes,
        activations,
        loss=loss,
        device=device,
        dtype="float64",
        seed=seed,
        dropout=dropout,
        dropconnect=dropconnect,
        leaky_relu_alpha=alpha,
    )
    rng = np.random.default_rng(1000 + seed)
    params = []
    for layer in net.dense_layers:  # dropout layers have no parameters
        params.append(np.array(to_numpy(layer.weight), copy=True))
        params.append(rng.normal(0.0, 0.3, size=layer.shape[1]))
    net.set_parameters(params)
    return net


def torch_oracle(net, activations, loss, alpha, X, y, masks=None, weight_masks=None):
    """(loss, [(dW, db), ...]) from torch autograd, dW in gnet's (in, out) layout."""
    linears = []
    for layer in net.dense_layers:
        n_in, n_out = layer.shape
        lin = torch.nn.Linear(n_in, n_out, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.array(to_numpy(layer.weight)).T.copy()))
            lin.bias.copy_(torch.from_numpy(np.array(to_numpy(layer.bias))))
        linears.append(lin)
    A = torch.from_numpy(np.asarray(X, dtype=np.float64))
    Y = F.one_hot(torch.from_numpy(np.asarray(y, dtype=np.int64)), net.n_classes).double()
    last = len(linears) - 1
    for i, (lin, name) in enumerate(zip(linears, activations, strict=True)):
        if weight_masks is not None and i < last:  # DropConnect: W * M, (out, in) layout
            Z = F.linear(A, lin.weight * torch.from_numpy(weight_masks[i].T.copy()), lin.bias)
        else:
            Z = lin(A)
        A = torch_activation(name, alpha)(Z)
        if masks is not None and i < last:
            A = A * torch.from_numpy(masks[i])
    B = A.shape[0]
    if loss == "mse":
        L = ((A - Y) ** 2).sum(dim=1).mean()
    elif activations[-1] == "softmax":
        L = -(Y * F.log_softmax(Z, dim=1)).sum(dim=1).mean()
    else:
        L = -(Y * torch.log(torch.clamp(A, min=1e-12))).sum() / B
    L.backward()
    grads = [(lin.weight.grad.numpy().T, lin.bias.grad.numpy()) for lin in linears]
    return float(L.detach()), grads


def compare(net, grads, expected):
    # one dict per layer; dropout layers have no parameters
    grads = [(g["weight"], g["bias"]) for g in grads if g]
    assert len(grads) == len(expected) == len(net.dense_layers)
    for k, ((dW, db), (tW, tb)) in enumerate(zip(grads, expected, strict=True)):
        dW, db = to_numpy(dW), to_numpy(db)
        assert dW.shape == tW.shape and db.shape == tb.shape, f"layer {k}"
        np.testing.assert_allclose(dW, tW, rtol=RTOL, atol=ATOL, err_msg=f"dW of layer {k}")
        np.testing.assert_allclose(db, tb, rtol=RTOL, atol=ATOL, err_msg=f"db of layer {k}")


CASES = [
    pytest.param(
        h, a, out, loss, 1 + (i + j) % 3, id=f"{h}{a if h == 'leaky_relu' else ''}-{out}-{loss}"
    )
    for i, (h, a) in enumerate(HIDDEN)
    for j, (out, loss) in enumerate(OUTPUTS)
]


@pytest.mark.parametrize("hidden, alpha, output, loss, depth", CASES)
def test_loss_and_gradients_match_torch(device, hidden, alpha, output, loss, depth):
    seed = 17 * depth + len(hidden) + len(output)
    rng = np.random.default_rng(seed)
    sizes = [5] + [int(s) for s in rng.integers(3, 7, size=depth)] + [4]
    activations = [hidden] * depth + [output]
    X = rng.normal(0.0, 1.0, size=(7, 5))
    y = rng.integers(0, 4, size=7)
    net = build(device, sizes, activations, loss, alpha, seed)

    t_loss, t_grads = torch_oracle(net, activations, loss, alpha, X, y)
    np.testing.assert_allclose(net.loss_value(X, y), t_loss, rtol=RTOL)
    compare(net, net.gradients(X, y), t_grads)


@pytest.mark.parametrize("seed", range(8))
def test_random_mixed_networks_match_torch(device, seed):
    """1-3 hidden layers, each with its own activation, and a random output/loss."""
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 4))
    alpha = float(rng.choice([0.01, 0.2]))
    names = [h for h, _ in HIDDEN]
    activations = [str(rng.choice(names)) for _ in range(depth)]
    output, loss = OUTPUTS[int(rng.integers(len(OUTPUTS)))]
    activations.append(output)
    sizes = [6] + [int(s) for s in rng.integers(2, 8, size=depth)] + [3]
    X = rng.normal(0.0, 1.5, size=(7, 6))
    y = rng.integers(0, 3, size=7)
    net = build(device, sizes, activations, loss, alpha, seed)

    t_loss, t_grads = torch_oracle(net, activations, loss, alpha, X, y)
    np.testing.assert_allclose(net.loss_value(X, y), t_loss, rtol=RTOL)
    compare(net, net.gradients(X, y), t_grads)


@pytest.mark.parametrize("output, loss", [("softmax", "cross-entropy"), ("sigmoid", "mse")])
def test_batch_of_one_matches_torch(device, output, loss):
    """Batch 1 takes Dense.backward's broadcast outer-product path."""
    rng = np.random.default_rng(5)
    activations = ["relu", "tanh", output]
    net = build(device, [5, 6, 4, 3], activations, loss, 0.01, 5)
    X = rng.normal(size=(1, 5))
    y = np.array([2])
    t_loss, t_grads = torch_oracle(net, activations, loss, 0.01, X, y)
    np.testing.assert_allclose(net.loss_value(X, y), t_loss, rtol=RTOL)
    compare(net, net.gradients(X, y), t_grads)


@pytest.mark.parametrize(
    "activations, loss, rate",
    [
        (["relu", "tanh", "softmax"], "cross-entropy", 0.5),
        (["sigmoid", "leaky_relu", "sigmoid"], "mse", 0.25),
        (["tanh", "softmax"], "mse", 0.3),
    ],
)
def test_dropout_with_fixed_masks_matches_torch(device, activations, loss, rate):
    rng = np.random.default_rng(11)
    sizes = [5] + [6] * (len(activations) - 1) + [4]
    net = build(device, sizes, activations, loss, 0.2, 11, dropout=rate)
    X = rng.normal(size=(7, 5))
    y = rng.integers(0, 4, size=7)
    # Inverted dropout: kept units carry 1 / (1 - rate), dropped ones 0.
    masks = [(rng.random((7, n)) >= rate).astype(np.float64) / (1.0 - rate) for n in sizes[1:-1]]
    assert all(0 < (m == 0).sum() < m.size for m in masks)
    device_masks = [net.backend.asarray(m, dtype="float64") for m in masks]

    _, t_grads = torch_oracle(net, activations, loss, 0.2, X, y, masks=masks)
    compare(net, net.gradients(X, y, masks=device_masks), t_grads)
    # loss_value is the inference loss: dropout off, same as torch without masks.
    t_loss, _ = torch_oracle(net, activations, loss, 0.2, X, y)
    np.testing.assert_allclose(net.loss_value(X, y), t_loss, rtol=RTOL)


@pytest.mark.parametrize(
    "activations, loss, rate",
    [
        (["relu", "softmax"], "cross-entropy", 0.5),
        (["tanh", "leaky_relu", "softmax"], "cross-entropy", 0.3),
        (["sigmoid", "identity"], "mse", 0.25),
    ],
)
@pytest.mark.parametrize("batch", [1, 7])
def test_dropconnect_with_fixed_weight_masks_matches_torch(device, activations, loss, rate, batch):
    """DropConnect: Z = X (W * M) + b on the weights into each hidden layer;
    torch autograd through W * M is the oracle for dW (and for dX below it)."""
    rng = np.random.default_rng(12)
    sizes = [5] + [6] * (len(activations) - 1) + [4]
    net = build(device, sizes, activations, loss, 0.2, 12, dropconnect=rate)
    X = rng.normal(size=(batch, 5))
    y = rng.integers(0, 4, size=batch)
    masks = [
        (rng.random((n_in, n_out)) >= rate).astype(np.float64) / (1.0 - rate)
        for n_in, n_out in zip(sizes[:-2], sizes[1:-1], strict=True)
    ]
    assert all(0 < (m == 0).sum() < m.size for m in masks)
    device_masks = [net.backend.asarray(m, dtype="float64") for m in masks]

    _, t_grads = torch_oracle(net, activations, loss, 0.2, X, y, weight_masks=masks)
    compare(net, net.gradients(X, y, weight_masks=device_masks), t_grads)
    # Inference uses the whole weights: the same loss as torch without masks.
    t_loss, _ = torch_oracle(net, activations, loss, 0.2, X, y)
    np.testing.assert_allclose(net.loss_value(X, y), t_loss, rtol=RTOL)
