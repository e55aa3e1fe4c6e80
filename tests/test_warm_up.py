"""The untimed warm-up pass that fit runs on GPU backends leaves the network
as it was: same params, same batch-norm statistics, same training after it."""

from __future__ import annotations

import numpy as np

import gnet
from gnet.steps import warm_up as _warm_up

SPEC = [
    {"type": "dense", "units": 8, "activation": "relu"},
    {"type": "batchnorm"},
    {"type": "dropout", "rate": 0.5},
    {"type": "dense", "units": 3, "activation": "softmax"},
]


def test_warm_up_changes_nothing(device):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)
    a = gnet.Network(SPEC, input_shape=(5,), device=device, dtype="float64")
    b = gnet.Network(SPEC, input_shape=(5,), device=device, dtype="float64")
    Xd = b.as_input(X)
    _, Y = b.as_labels(y, 40)
    _warm_up(b, Xd, Y, 16)
    for la, lb in zip(a.layers, b.layers, strict=True):
        for name in (*la.params, *la.state):
            got = lb.params.get(name, lb.state.get(name))
            want = la.params.get(name, la.state.get(name))
            np.testing.assert_array_equal(gnet.to_numpy(got), gnet.to_numpy(want))
        assert lb.grads == {}
    for net in (a, b):
        net.fit(X, y, epochs=2, batch_size=16, optimizer=gnet.optim.SGD(0.1))
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(gnet.to_numpy(p), gnet.to_numpy(q))
