"""Central-difference gradient checks (float64) on every backend.

The oracle is the definition of the derivative: (f(x + h) - f(x - h)) / 2h,
computed on the host from forward passes only. Every activation, loss, the
fused softmax + cross-entropy, Dense, Dropout with a fixed mask, and whole
networks of 1 to 3 hidden layers must match it to a relative error < 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest

from gnet.activations import ACTIVATIONS, get_activation
from gnet.backend import get_backend, to_numpy
from gnet.layers import Context, Dense, Dropout
from gnet.losses import LOSSES
from gnet.network import Network

H = 1e-6
TOL = 1e-6



def make_dense(be, W, b, name, alpha=0.01):
    """A built Dense layer holding the given weights (in, out) and bias."""
    layer = Dense(W.shape[1], name, alpha=alpha)
    layer.build((W.shape[0],), np.random.default_rng(0), be, be.xp.float64)
    layer.params.update(weight=be.asarray(W), bias=be.asarray(b))
    return layer


def training(be, seed=0):
    return Context(be, training=True, rng=be.random_generator(seed))

def rel_error(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def numeric_gradient(f, x: np.ndarray) -> np.ndarray:
    """d f / d x by central differences; f maps a host float64 array to a float."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + H
        up = f(x)
        x[i] = old - H
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * H)
    return g


def _scalar(a) -> float:
    return float(to_numpy(a))


ACTIVATION_CASES = [*ACTIVATIONS, "leaky_relu:0.2"]


@pytest.mark.parametrize("name", ACTIVATION_CASES)
def test_activation_backward(device, name):
    be = get_backend(device)
    xp = be.xp
    act = get_activation(*name.split(":")[:1], *(float(a) for a in name.split(":")[1:]))
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((4, 5)) * 2
    Z[np.abs(Z) < 1e-3] = 0.5  # keep away from ReLU's kink, where no derivative exists
    G = rng.standard_normal((4, 5))
    Gd = be.asarray(G)

    def f(z):
        return _scalar(xp.sum(Gd * act.forward(xp, be.asarray(z))))

    Zd = be.asarray(Z)
    analytic = to_numpy(act.backward(xp, Zd, act.forward(xp, Zd), Gd))
    assert rel_error(analytic, numeric_gradient(f, Z.copy())) < TOL


def test_sigmoid_is_stable_for_large_inputs(device):
    be = get_backend(device)
    xp = be.xp
    Z = be.asarray(np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]]))
    A = to_numpy(ACTIVATIONS["sigmoid"].forward(xp, Z))
    assert np.all(np.isfinite(A))
    np.testing.assert_allclose(A[0, [0, 2, 4]], [0.0, 0.5, 1.0])


def test_softmax_is_stable_for_large_logits(device):
    be = get_backend(device)
    A = to_numpy(ACTIVATIONS["softmax"].forward(be.xp, be.asarray(np.array([[1000.0, 0.0]]))))
    np.testing.assert_allclose(A, [[1.0, 0.0]])


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_gradient(device, name):
    be = get_backend(device)
    xp = be.xp
    loss = LOSSES[name]
    rng = np.random.default_rng(2)
    P = rng.uniform(0.05, 0.95, (6, 4))
    Y = np.eye(4)[rng.integers(0, 4, 6)]
    Yd = be.asarray(Y)

    def f(p):
        return _scalar(loss.total(xp, be.asarray(p), Yd)) / 6

    analytic = to_numpy(loss.gradient(xp, be.asarray(P), Yd))
    assert rel_error(analytic, numeric_gradient(f, P.copy())) < TOL


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_loss_of_labels_equals_loss_of_one_hot_rows(device, name, dtype):
    """The epoch loop's label path gives exactly per_sample's values, an
    underflowed true-class probability (+inf) included."""
    be = get_backend(device)
    xp = be.xp
    loss = LOSSES[name]
    rng = np.random.default_rng(5)
    P = rng.dirichlet(np.ones(4), size=7)
    y = rng.integers(0, 4, 7)
    P[3, y[3]] = 0.0  # a diverged network's output
    Pd = be.asarray(P, dtype=getattr(xp, dtype))
    Yd = be.asarray(np.eye(4)[y], dtype=getattr(xp, dtype))
    ours = to_numpy(loss.per_sample_of_labels(xp, Pd, be.asarray(y), Yd))
    np.testing.assert_array_equal(ours, to_numpy(loss.per_sample(xp, Pd, Yd)))
    if name == "cross-entropy":
        assert ours[3] == np.inf and np.isfinite(np.delete(ours, 3)).all()


def test_fused_softmax_cross_entropy_gradient(device):
    """(P - Y) / B is the gradient of mean cross-entropy of softmax(Z) w.r.t. Z."""
    be = get_backend(device)
    xp = be.xp
    loss, softmax = LOSSES["cross-entropy"], ACTIVATIONS["softmax"]
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((5, 4)) * 3
    Yd = be.asarray(np.eye(4)[rng.integers(0, 4, 5)])

    def f(z):
        return _scalar(loss.total(xp, softmax.forward(xp, be.asarray(z)), Yd)) / 5

    analytic = to_numpy(loss.fused_gradient(xp, softmax.forward(xp, be.asarray(Z)), Yd))
    assert rel_error(analytic, numeric_gradient(f, Z.copy())) < TOL


@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "leaky_relu", "softmax"])
def test_dense_backward(device, name, batch):
    be = get_backend(device)
    xp = be.xp
    rng = np.random.default_rng(4)
    X, W, b = rng.standard_normal((batch, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    G = be.asarray(rng.standard_normal((batch, 4)))

    def objective(x, w, bias):
        layer = make_dense(be, w, bias, name, 0.2)
        return _scalar(xp.sum(G * layer.forward(be.asarray(x), training(be))))

    layer = make_dense(be, W, b, name, 0.2)
    layer.forward(be.asarray(X), training(be))
    dX = to_numpy(layer.backward(G))
    assert (
        rel_error(to_numpy(layer.dW), numeric_gradient(lambda w: objective(X, w, b), W.copy()))
        < TOL
    )
    assert (
        rel_error(to_numpy(layer.db), numeric_gradient(lambda v: objective(X, W, v), b.copy()))
        < TOL
    )
    assert rel_error(dX, numeric_gradient(lambda x: objective(x, W, b), X.copy())) < TOL


@pytest.mark.parametrize("batch", [1, 5])
def test_dense_backward_with_dropconnect_mask(device, batch):
    """Z = X (W * M) + b: central differences for dW, db and dX."""
    be = get_backend(device)
    xp = be.xp
    rng = np.random.default_rng(6)
    X, W, b = rng.standard_normal((batch, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    M = be.asarray((rng.random((3, 4)) >= 0.5) / 0.5)
    G = be.asarray(rng.standard_normal((batch, 4)))

    def objective(x, w, bias):
        layer = make_dense(be, w, bias, "tanh")
        layer.dropconnect, layer.fixed_mask = 0.5, M
        return _scalar(xp.sum(G * layer.forward(be.asarray(x), training(be))))

    layer = make_dense(be, W, b, "tanh")
    layer.dropconnect, layer.fixed_mask = 0.5, M
    layer.forward(be.asarray(X), training(be))
    dX = to_numpy(layer.backward(G))
    dW = to_numpy(layer.dW)
    assert rel_error(dW, numeric_gradient(lambda w: objective(X, w, b), W.copy())) < TOL
    assert (dW[to_numpy(M) == 0] == 0).all()  # a dropped weight gets no gradient
    assert (
        rel_error(to_numpy(layer.db), numeric_gradient(lambda v: objective(X, W, v), b.copy()))
        < TOL
    )
    assert rel_error(dX, numeric_gradient(lambda x: objective(x, W, b), X.copy())) < TOL


def test_dropconnect_masks_are_inverted_and_keep_the_expected_fraction(device):
    net = Network(
        [300, 200, 3], ["relu", "softmax"], device=device, dtype="float64", dropconnect=0.25
    )
    layer = net.layers[0]
    layer.forward(net.as_input(np.zeros((1, 300))), training(net.backend))
    M = to_numpy(layer._M)
    assert M.shape == (300, 200)
    assert set(np.unique(M)) <= {0.0, 1.0 / 0.75}
    assert abs((M > 0).mean() - 0.75) < 0.01


def test_dropout_with_fixed_mask(device):
    be = get_backend(device)
    xp = be.xp
    rng = np.random.default_rng(5)
    A = rng.standard_normal((3, 6))
    mask = be.asarray((rng.random((3, 6)) >= 0.5) / 0.5)
    G = be.asarray(rng.standard_normal((3, 6)))
    drop = Dropout(0.5)
    drop.fixed_mask = mask

    def f(a):
        return _scalar(xp.sum(G * drop.forward(be.asarray(a), training(be))))

    drop.forward(be.asarray(A), training(be))
    assert rel_error(to_numpy(drop.backward(G)), numeric_gradient(f, A.copy())) < TOL


def test_dropout_is_inverted_and_keeps_the_expected_fraction(device):
    be = get_backend(device)
    xp = be.xp
    drop = Dropout(0.25)
    A = xp.ones((400, 100), dtype=xp.float64, device=be.device)
    out = to_numpy(drop.forward(A, training(be)))
    assert set(np.unique(out)) <= {0.0, 1.0 / 0.75}
    assert abs((out > 0).mean() - 0.75) < 0.01
    assert abs(out.mean() - 1.0) < 0.02  # inverted scaling keeps the expectation


NETWORKS = [
    ([6, 5, 3], ["relu", "softmax"], "cross-entropy"),
    ([6, 5, 4, 3], ["tanh", "sigmoid", "softmax"], "cross-entropy"),
    ([6, 5, 4, 4, 3], ["leaky_relu", "relu", "tanh", "sigmoid"], "mse"),
    ([6, 4, 3], ["sigmoid", "identity"], "mse"),
    ([6, 4, 3], ["tanh", "softmax"], "mse"),
]


@pytest.mark.parametrize("sizes,acts,loss", NETWORKS)
def test_whole_network_gradients(device, sizes, acts, loss):
    net = Network(sizes, acts, loss=loss, device=device, dtype="float64", seed=7, init="glorot")
    rng = np.random.default_rng(8)
    X = rng.standard_normal((4, sizes[0]))
    y = rng.integers(0, sizes[-1], 4)
    grads = net.gradients(X, y)
    params = [to_numpy(p).copy() for p in net.parameters()]
    for k, analytic in enumerate(g for layer in grads for g in layer.values()):

        def f(p, k=k):
            trial = list(params)
            trial[k] = p
            net.set_parameters(trial)
            return net.loss_value(X, y)

        numeric = numeric_gradient(f, params[k].copy())
        net.set_parameters(params)
        assert rel_error(to_numpy(analytic), numeric) < TOL, f"parameter {k}"


def test_network_gradients_with_dropout_masks(device):
    be = get_backend(device)
    net = Network(
        [5, 4, 4, 3],
        ["relu", "tanh", "softmax"],
        device=device,
        dtype="float64",
        seed=3,
        dropout=0.5,
    )
    rng = np.random.default_rng(9)
    X, y = rng.standard_normal((3, 5)), rng.integers(0, 3, 3)
    masks = [be.asarray((rng.random((3, 4)) >= 0.5) * 2.0) for _ in range(2)]
    grads = net.gradients(X, y, masks=masks)
    params = [to_numpy(p).copy() for p in net.parameters()]
    Xd = net.as_input(X)
    _, Y = net.as_labels(y, 3)
    for k, analytic in enumerate(g for layer in grads for g in layer.values()):

        def f(p, k=k):
            trial = list(params)
            trial[k] = p
            net.set_parameters(trial)
            A = net.forward(Xd, training=True, masks=masks)
            return _scalar(net.loss.total(net.xp, A, Y)) / 3

        numeric = numeric_gradient(f, params[k].copy())
        net.set_parameters(params)
        assert rel_error(to_numpy(analytic), numeric) < TOL, f"parameter {k}"
