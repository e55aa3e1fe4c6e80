"""PyTorch autograd as the oracle for convolutional networks (float64).

Random stacks of conv2d / maxpool2d / avgpool2d / batchnorm / flatten /
global_avgpool2d / dense layers are built in gnet; the same weights are
permuted to torch's layouts (conv (kh, kw, in, out) -> (out, in, kh, kw),
NHWC -> NCHW, flatten back in NHWC order) and the forward pass is written
here with torch.nn.functional. Torch never sees gnet's backward code. The
batch-mean cross-entropy, every gradient and the batch-norm running
statistics must agree, and one epoch of Adam must give the same weights as
torch.optim.Adam.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import gnet  # noqa: E402
from gnet.backend import to_numpy  # noqa: E402
from gnet.layers import check_specs  # noqa: E402
from gnet.network import Network  # noqa: E402

RTOL, ATOL = 1e-9, 1e-12
ACTIVATIONS = ["relu", "tanh", "leaky_relu", "sigmoid", "identity"]


def random_stack(seed: int) -> tuple[list[int], list[dict]]:
    """A random but valid layer list for a random small image shape."""
    rng = np.random.default_rng(seed)
    shape = [int(rng.integers(7, 12)), int(rng.integers(7, 12)), int(rng.choice([1, 3]))]
    layers: list[dict] = []
    for _ in range(int(rng.integers(1, 3))):
        conv = {
            "type": "conv2d",
            "filters": int(rng.integers(2, 5)),
            "kernel_size": [int(rng.choice([1, 2, 3, 5])), int(rng.choice([1, 2, 3]))],
            "strides": int(rng.integers(1, 3)),
            "padding": str(rng.choice(["valid", "same"])),
            "activation": str(rng.choice(ACTIVATIONS)),
        }
        if conv["activation"] == "leaky_relu":
            conv["alpha"] = 0.2
        for extra in (
            conv,
            {"type": "batchnorm", "momentum": 0.9} if rng.random() < 0.5 else None,
            {"type": str(rng.choice(["maxpool2d", "avgpool2d"])), "pool_size": 2}
            if rng.random() < 0.6
            else None,
        ):
            if extra is not None and not check_specs(shape, [*layers, extra, {"type": "flatten"}]):
                layers.append(extra)
    layers.append({"type": str(rng.choice(["flatten", "global_avgpool2d"]))})
    if rng.random() < 0.5:
        layers += [{"type": "dense", "units": 5, "activation": "tanh"}, {"type": "batchnorm"}]
    layers.append({"type": "dense", "units": 4, "activation": "softmax"})
    assert check_specs(shape, layers) == []
    return shape, layers


def same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding, written out independently of gnet."""
    out = math.ceil(n / s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def torch_activation(spec: dict):
    name = spec.get("activation", "identity")
    return {
        "relu": torch.relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "leaky_relu": lambda z: F.leaky_relu(z, spec.get("alpha", 0.01)),
        "identity": lambda z: z,
        "softmax": lambda z: z,  # the logits: cross_entropy applies log-softmax
    }[name]


def torch_forward(net: Network, X, leaves: list[dict], stats: list[dict], training=True):
    """The logits of ``net``'s layers written with torch; X is NHWC."""
    A = X.permute(0, 3, 1, 2)  # NCHW
    for layer, p, st in zip(net.layers, leaves, stats, strict=True):
        s = layer.spec()
        if s["type"] == "conv2d":
            (kh, kw), (sh, sw) = s["kernel_size"], s["strides"]
            if s["padding"] == "same":
                top, bottom = same_pads(A.shape[2], kh, sh)
                left, right = same_pads(A.shape[3], kw, sw)
                A = F.pad(A, (left, right, top, bottom))
            Z = F.conv2d(A, p["weight"].permute(3, 2, 0, 1), p["bias"], stride=(sh, sw))
            A = torch_activation(s)(Z)
        elif s["type"] == "maxpool2d":
            A = F.max_pool2d(A, s["pool_size"], s["strides"])
        elif s["type"] == "avgpool2d":
            A = F.avg_pool2d(A, s["pool_size"], s["strides"])
        elif s["type"] == "flatten":
            A = A.permute(0, 2, 3, 1).reshape(A.shape[0], -1)  # gnet flattens NHWC
        elif s["type"] == "global_avgpool2d":
            A = A.mean(dim=(2, 3))
        elif s["type"] == "batchnorm":
            A = F.batch_norm(
                A, st["running_mean"], st["running_var"], p["gamma"], p["beta"],
                training=training, momentum=1 - s["momentum"], eps=s["epsilon"],
            )  # fmt: skip
        elif s["type"] == "dense":
            A = torch_activation(s)(A @ p["weight"] + p["bias"])
    return A


def build(device: str, shape, layers, seed: int) -> Network:
    """A float64 network whose biases, gammas and betas are random, not 0 / 1."""
    net = Network(
        layers, input_shape=shape, loss="cross-entropy", dtype="float64", device=device, seed=seed
    )
    rng = np.random.default_rng(seed + 100)
    for layer in net.layers:
        for name in ("bias", "beta"):
            if name in layer.params:
                n = layer.params[name].shape[0]
                layer.params[name] = net.backend.asarray(rng.standard_normal(n) * 0.3)
        if "gamma" in layer.params:
            n = layer.params["gamma"].shape[0]
            layer.params["gamma"] = net.backend.asarray(rng.uniform(0.5, 1.5, n))
    return net


def torch_copies(net: Network):
    leaves = [
        {k: torch.tensor(to_numpy(v), requires_grad=True) for k, v in layer.params.items()}
        for layer in net.layers
    ]
    stats = [{k: torch.tensor(to_numpy(v)) for k, v in layer.state.items()} for layer in net.layers]
    return leaves, stats


def data(net: Network, n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, *net.input_shape))
    y = rng.integers(0, net.n_classes, n)
    return X, y


def close(a, b) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("seed", range(12))
def test_random_conv_stacks_match_torch(device, seed):
    shape, layers = random_stack(seed)
    net = build(device, shape, layers, seed)
    X, y = data(net, 6, seed)
    leaves, stats = torch_copies(net)
    logits = torch_forward(net, torch.tensor(X), leaves, stats)
    loss = F.cross_entropy(logits, torch.tensor(y))
    loss.backward()

    before = [{k: to_numpy(v) for k, v in layer.state.items()} for layer in net.layers]
    grads = net.gradients(X, y)
    for i, (layer, g, p) in enumerate(zip(net.layers, grads, leaves, strict=True)):
        assert set(g) == set(p), (i, layer.type)
        for name in p:
            close(to_numpy(g[name]), p[name].grad.numpy())
        if layer.type == "batchnorm":
            check_running_stats(layer, before[i], stats[i])
    # Inference uses the running statistics: compare against torch's eval mode.
    close(net.loss_value(X, y), torch_eval_loss(net, X, y, stats))


def check_running_stats(layer, before, torch_stats):
    """Running mean equals torch's (momentum 1 - m); running var is Keras's,
    from the biased batch variance, where torch uses the unbiased one."""
    m = layer.momentum
    close(to_numpy(layer.state["running_mean"]), torch_stats["running_mean"].numpy())
    X = layer._Xhat  # the batch's count is the rows per channel
    count = math.prod(X.shape) // X.shape[-1]
    unbiased = (torch_stats["running_var"].numpy() - m * before["running_var"]) / (1 - m)
    expected = m * before["running_var"] + (1 - m) * unbiased * (count - 1) / count
    close(to_numpy(layer.state["running_var"]), expected)
    # torch's running stats were updated in place by its forward above: keep
    # gnet's in the copy used for the inference check.
    torch_stats["running_mean"] = torch.tensor(to_numpy(layer.state["running_mean"]))
    torch_stats["running_var"] = torch.tensor(to_numpy(layer.state["running_var"]))


def torch_eval_loss(net: Network, X, y, stats) -> float:
    leaves = [
        {k: torch.tensor(to_numpy(v)) for k, v in layer.params.items()} for layer in net.layers
    ]
    logits = torch_forward(net, torch.tensor(X), leaves, stats, training=False)
    return float(F.cross_entropy(logits, torch.tensor(y)))


def test_flat_rows_are_reshaped_to_images(device):
    shape, layers = random_stack(3)
    net = build(device, shape, layers, 3)
    X, y = data(net, 4, 3)
    flat = [to_numpy(g["weight"]) for g in net.gradients(X.reshape(4, -1), y) if "weight" in g]
    nhwc = [to_numpy(g["weight"]) for g in net.gradients(X, y) if "weight" in g]
    for a, b in zip(flat, nhwc, strict=True):
        close(a, b)


def test_one_adam_epoch_matches_torch(device):
    layers = [
        {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"},
        {"type": "batchnorm"},
        {"type": "maxpool2d", "pool_size": 2},
        {"type": "conv2d", "filters": 3, "kernel_size": 3, "strides": 2, "activation": "tanh"},
        {"type": "flatten"},
        {"type": "dense", "units": 3, "activation": "softmax"},
    ]
    net = build(device, (10, 10, 1), layers, 0)
    X, y = data(net, 40, 1)
    leaves, stats = torch_copies(net)
    opt = torch.optim.Adam([t for p in leaves for t in p.values()], lr=0.01)
    for start in range(0, 40, 16):  # the last batch is short, as in gnet
        opt.zero_grad()
        logits = torch_forward(net, torch.tensor(X[start : start + 16]), leaves, stats)
        F.cross_entropy(logits, torch.tensor(y[start : start + 16])).backward()
        opt.step()
    net.fit(X, y, epochs=1, batch_size=16, shuffle=False, optimizer=gnet.optim.Adam(0.01))
    for layer, p, st in zip(net.layers, leaves, stats, strict=True):
        for name, t in p.items():
            close(to_numpy(layer.params[name]), t.detach().numpy())
        if layer.type == "batchnorm":
            close(to_numpy(layer.state["running_mean"]), st["running_mean"].numpy())
