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
