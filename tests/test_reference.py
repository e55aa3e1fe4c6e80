"""The hand-computed 3-2-3 network (DESIGN "Tests"), forward and backward.

Leaky ReLU (slope 0.2) hidden layer, sigmoid output, loss sum((a - y)^2)
with gradient 2 (a - y); values checked by hand and with Wolfram Alpha.
The reference writes W as (out, in); gnet stores (in, out), so transpose.
"""

import numpy as np

from gnet.backend import to_numpy
from gnet.network import Network

W1 = np.array([[-0.75, 0.5, -0.25], [0.25, -0.5, 0.75]])
B1 = np.array([0.0, 1.0])
W2 = np.array([[-0.75, 0.75], [0.5, -0.5], [-0.25, 0.25]])
B2 = np.array([0.75, 0.5, 0.25])
X = np.array([[0.25, 0.5, 0.75]])
Y = np.array([[0.0, 1.0, 0.0]])


def reference_network(device):
    net = Network(
        [3, 2, 3],
        ["leaky_relu", "sigmoid"],
        loss="mse",
        device=device,
        dtype="float64",
        leaky_relu_alpha=0.2,
    )
    net.set_parameters([W1.T, B1, W2.T, B2])
    return net


def test_forward(device):
    net = reference_network(device)
    hidden, output = net.layers
    net.forward(net.as_input(X), training=True)
    np.testing.assert_allclose(to_numpy(hidden._Z), [[-0.125, 1.375]], atol=1e-12)
    np.testing.assert_allclose(to_numpy(hidden._A), [[-0.025, 1.375]], atol=1e-12)
    np.testing.assert_allclose(to_numpy(output._Z), [[1.8, -0.2, 0.6]], atol=1e-12)


def test_backward(device):
    net = reference_network(device)
    (dW1, db1), (dW2, db2) = [(g["weight"], g["bias"]) for g in net.gradients(X, Y)]  # one-hot ok
    delta2 = [0.208924, -0.272186, 0.295432]
    delta1 = [-0.0733288, 0.366644]
    dW2_ref = [[-0.0052231, 0.287271], [0.00680465, -0.374256], [-0.0073858, 0.406219]]
    dW1_ref = [[-0.0183322, -0.0366644, -0.0549966], [0.091661, 0.183322, 0.274983]]
    np.testing.assert_allclose(to_numpy(db2), delta2, rtol=2e-5)
    np.testing.assert_allclose(to_numpy(db1), delta1, rtol=2e-5)
    np.testing.assert_allclose(to_numpy(dW2).T, dW2_ref, rtol=2e-5)
    np.testing.assert_allclose(to_numpy(dW1).T, dW1_ref, rtol=2e-5)
