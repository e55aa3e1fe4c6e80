"""A batch larger than the memory budget runs in chunks whose gradients are
weighted and summed: the update equals the one-pass update (full-batch mode
of a large set, or a convolutional network's full batch)."""

from __future__ import annotations

import numpy as np
import pytest

import gnet


def pair(device, **kw):
    a = gnet.Network([12, 7, 4], ["tanh", "softmax"], device=device, dtype="float64", **kw)
    b = gnet.Network([12, 7, 4], ["tanh", "softmax"], device=device, dtype="float64", **kw)
    b.max_rows = lambda budget=0: 37  # chunks of 37 rows, the last one short
    return a, b


@pytest.mark.parametrize(
    "make", [lambda: gnet.optim.SGD(0.2, momentum=0.9, l2=0.01), lambda: gnet.optim.Adam(0.01)]
)
@pytest.mark.parametrize("mode,batch", [("full-batch", None), ("mini-batch", 150)])
def test_chunked_batches_give_the_one_pass_update(device, make, mode, batch):
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((300, 12)), rng.integers(0, 4, 300)
    a, b = pair(device)
    ha = a.fit(X, y, epochs=3, mode=mode, batch_size=batch, optimizer=make())
    hb = b.fit(X, y, epochs=3, mode=mode, batch_size=batch, optimizer=make())
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_allclose(gnet.to_numpy(q), gnet.to_numpy(p), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hb.loss, ha.loss, rtol=1e-12)


def test_mse_loss_chunks_too(device):
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((100, 12)), rng.integers(0, 4, 100)
    a, b = pair(device, loss="mse")
    a.fit(X, y, epochs=2, mode="full-batch", optimizer=gnet.optim.SGD(0.5))
    b.fit(X, y, epochs=2, mode="full-batch", optimizer=gnet.optim.SGD(0.5))
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_allclose(gnet.to_numpy(q), gnet.to_numpy(p), rtol=1e-12, atol=1e-14)


def test_the_default_mlp_full_batch_is_one_pass():
    net = gnet.Network([784, 256, 10], ["relu", "softmax"])
    assert net.max_rows() >= 60_000


def test_inference_runs_in_chunks_within_the_budget(device):
    """predict/evaluate/loss_value on more rows than Network.max_rows allows
    give the one-pass results, in forward passes of at most that many rows."""
    spec = [
        {"type": "conv2d", "filters": 3, "kernel_size": 3, "padding": "same", "activation": "relu"},
        {"type": "batchnorm"},
        {"type": "maxpool2d", "pool_size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 4, "activation": "softmax"},
    ]
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((101, 6 * 6 * 2)), rng.integers(0, 4, 101)
    net = gnet.Network(spec, input_shape=(6, 6, 2), device=device, dtype="float64", seed=1)
    net.fit(X, y, epochs=1, batch_size=16, optimizer=gnet.optim.Adam(0.01))
    net.max_rows = lambda budget=0: 10**9  # one pass
    P, whole = gnet.to_numpy(net.predict_proba(X)), net.evaluate(X, y)
    net.max_rows = lambda budget=0: 17  # chunks of 17 rows, the last one short
    seen: list[int] = []
    first = net.layers[0]
    forward = first.forward
    first.forward = lambda X, ctx: seen.append(X.shape[0]) or forward(X, ctx)
    np.testing.assert_allclose(gnet.to_numpy(net.predict_proba(X)), P, rtol=1e-12, atol=1e-15)
    assert seen == [17] * 5 + [16]
    chunked = net.evaluate(X, y)
    assert chunked["confusion_matrix"] == whole["confusion_matrix"]
    assert chunked["loss"] == pytest.approx(whole["loss"], rel=1e-12)
    assert net.loss_value(X, y) == pytest.approx(whole["loss"], rel=1e-12)


def test_a_same_padded_conv_net_evaluates_in_bounded_chunks():
    net = gnet.Network(
        [
            {"type": "conv2d", "filters": 32, "kernel_size": 3, "padding": "same"},
            {"type": "flatten"},
            {"type": "dense", "units": 10, "activation": "softmax"},
        ],
        input_shape=(28, 28, 1),
    )
    # ~0.6 MB kept per row in float32: a 512 MiB budget allows ~850 rows, not 8192.
    assert 500 < net._chunk_rows() < 1_000
