"""Same seed, same data, one epoch: the same weights on every backend.

NumPy is the reference. Initial weights and batch permutations come from a
host generator, so any difference beyond float32 rounding is a bug in one
backend's path (a wrong device, a non-standard call, a different batch).
"""

import numpy as np
import pytest

import gnet
from gnet.optim import SGD, Adam


def one_epoch(device, X, y, optimizer, mode="mini-batch", dropout=0.0):
    net = gnet.Network([784, 32, 10], ["relu", "softmax"], device=device, seed=3, dropout=dropout)
    net.fit(X, y, epochs=1, mode=mode, batch_size=64, optimizer=optimizer)
    return [gnet.to_numpy(p) for p in net.parameters()]


@pytest.mark.parametrize(
    "make_optimizer",
    [lambda: SGD(0.1, momentum=0.9), lambda: Adam(0.001)],
    ids=["sgd-momentum", "adam"],
)
def test_one_epoch_matches_numpy(device, mnist, make_optimizer):
    (X, y), _ = mnist
    X, y = X[:2000], y[:2000]
    reference = one_epoch("cpu", X, y, make_optimizer())
    params = one_epoch(device, X, y, make_optimizer())
    for ref, got in zip(reference, params, strict=True):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_per_sample_epoch_matches_numpy(device, mnist):
    (X, y), _ = mnist
    reference = one_epoch("cpu", X[:300], y[:300], SGD(0.01, momentum=0.9), mode="per-sample")
    params = one_epoch(device, X[:300], y[:300], SGD(0.01, momentum=0.9), mode="per-sample")
    for ref, got in zip(reference, params, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_predictions_stay_on_the_network_device(device, mnist):
    (X, y), _ = mnist
    net = gnet.Network([784, 16, 10], ["relu", "softmax"], device=device, seed=0)
    labels = net.predict(X[:50])
    proba = net.predict_proba(X[:50])
    assert gnet.backend.same_device(labels, net.backend)
    assert gnet.backend.same_device(proba, net.backend)
    np.testing.assert_allclose(gnet.to_numpy(net.xp.sum(proba, axis=1)), 1.0, rtol=1e-5)
