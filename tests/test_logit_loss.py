"""Cross-entropy from the logits: log-softmax (logsumexp minus the true
logit) stays finite where the true class's float32 probability underflows
(a logit gap over ~104, or any gap on a GPU that flushes subnormals to zero)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gnet
from gnet.backend import get_backend
from gnet.losses import get_loss


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_logit_gap_of_1000_gives_a_finite_loss_of_1000(device, dtype):
    be = get_backend(device)
    xp = be.xp
    Z = be.asarray([[1000.0, 0.0, 0.0], [0.0, 2.0, 1.0]], dtype=dtype)
    y = be.asarray([1, 1])
    Y = be.asarray(np.eye(3)[[1, 1]], dtype=dtype)
    ce = get_loss("cross-entropy")
    rows = gnet.to_numpy(ce.per_sample_of_labels(xp, Z, y, Y, logits=True))
    assert np.all(np.isfinite(rows))
    assert rows[0] == pytest.approx(1000.0, rel=1e-6)
    # the second row against an independent log-softmax
    assert rows[1] == pytest.approx(math.log(1 + math.exp(-1) + math.exp(-2)), rel=1e-5)
    total = float(ce.total(xp, Z, Y, logits=True))
    assert total == pytest.approx(float(rows.sum()), rel=1e-6)


def test_a_network_with_a_logit_gap_of_1000_trains_on(device):
    """Output logits 1,000 apart, the true class the low one: a finite loss of
    ~1,000, and a training epoch that does not raise TrainingDiverged."""
    net = gnet.Network([2, 3], ["softmax"], device=device, seed=0)
    W = np.zeros((2, 3), dtype=np.float32)
    W[0, 0] = 1000.0
    net.set_parameters([W, np.zeros(3, dtype=np.float32)])
    X, y = np.array([[1.0, 0.0]] * 4, dtype=np.float32), np.array([1, 1, 1, 1])
    assert net.loss_value(X, y) == pytest.approx(1000.0, rel=1e-5)
    assert net.evaluate(X, y)["loss"] == pytest.approx(1000.0, rel=1e-5)
    history = net.fit(X, y, epochs=2, mode="full-batch", optimizer=gnet.optim.SGD(0.1))
    assert all(math.isfinite(loss) for loss in history.loss)
    assert history.loss[0] == pytest.approx(1000.0, rel=1e-3)
