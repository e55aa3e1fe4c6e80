"""The plain im2col loop the convolutional benchmarks measure gnet against
computes what gnet computes: same weights, same batches, no dropout, one
Adam epoch in float64 -> the same weights."""

from __future__ import annotations

import sys

import numpy as np
from datapaths import REPO

import gnet

sys.path.insert(0, str(REPO / "benchmarks"))
from reference_cnn import KERAS_SPEC, PlainCNN  # noqa: E402


def test_plain_cnn_matches_gnet():
    spec = [s for s in KERAS_SPEC if s["type"] != "dropout"]
    net = gnet.Network(spec, input_shape=(28, 28, 1), dtype="float64", seed=1)
    plain = PlainCNN([gnet.to_numpy(p) for p in net.parameters()], lr=1e-3, seed=1, dropout=False)
    rng = np.random.default_rng(2)
    X, y = rng.random((70, 784)), rng.integers(0, 10, 70)
    net.fit(X, y, epochs=1, batch_size=32, optimizer=gnet.optim.Adam(1e-3), shuffle=True)
    plain.train_epoch(X, y, 32)
    for got, want in zip(net.parameters(), plain.p, strict=True):
        np.testing.assert_allclose(gnet.to_numpy(got), want, rtol=1e-9, atol=1e-12)
