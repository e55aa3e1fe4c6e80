"""Convolution, pooling, flatten and batch norm: central differences (float64)
on every backend, the documented max-pool tie rule, shapes and spec errors.

The oracle is the definition of the derivative (see test_gradients): each
layer's backward must match (f(x + h) - f(x - h)) / 2h of
f = sum(G * layer.forward(x)) for a random G, for the input and every param.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_gradients import numeric_gradient, rel_error

from gnet.backend import get_backend, to_numpy
from gnet.errors import ConfigError
from gnet.layers import (
    LAYERS,
    AvgPool2D,
    BatchNorm,
    Context,
    Conv2D,
    Flatten,
    GlobalAvgPool2D,
    MaxPool2D,
    array_shapes,
    check_specs,
)
from gnet.network import Network

TOL = 1e-6


def built(be, layer, input_shape, seed=0):
    layer.build(tuple(input_shape), np.random.default_rng(seed), be, be.xp.float64)
    return layer


def check_layer(be, layer, X, training=True, params=None):
    """Backward of a built layer against central differences, for X and every
    param (set first from ``params``, host arrays by name)."""
    ctx = Context(be, training=training)
    host = {name: to_numpy(p).astype(np.float64) for name, p in layer.params.items()}
    host.update(params or {})
    for name, p in host.items():
        layer.params[name] = be.asarray(p)
    out = layer.forward(be.asarray(X), ctx)
    G = np.random.default_rng(7).standard_normal(tuple(out.shape))
    Gd = be.asarray(G)
    dX = to_numpy(layer.backward(Gd, True))
    grads = {name: to_numpy(g) for name, g in layer.grads.items()}
    assert set(grads) == set(layer.params)

    def f_of_x(x):
        return float(to_numpy(be.xp.sum(Gd * layer.forward(be.asarray(x), ctx))))

    assert dX.shape == X.shape
    assert rel_error(dX, numeric_gradient(f_of_x, X.copy())) < TOL, "dX"
    for name, p in host.items():

        def f_of_p(value, name=name):
            layer.params[name] = be.asarray(value)
            return f_of_x(X)

        numeric = numeric_gradient(f_of_p, p.copy())
        layer.params[name] = be.asarray(p)
        assert grads[name].shape == p.shape
        assert rel_error(grads[name], numeric) < TOL, name


def image(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


# ------------------------------------------------------------ conv2d


@pytest.mark.parametrize("kernel", [1, 3, 5])
@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("channels", [1, 3])
def test_conv2d_gradients(device, kernel, strides, padding, channels):
    be = get_backend(device)
    layer = built(be, Conv2D(2, kernel, strides, padding, activation="tanh"), (7, 9, channels))
    bias = np.random.default_rng(3).standard_normal(2)
    check_layer(be, layer, image((2, 7, 9, channels)), params={"bias": bias})


def test_conv2d_rectangular_kernel_and_strides(device):
    be = get_backend(device)
    layer = built(be, Conv2D(3, [2, 3], [2, 1], "same"), (5, 6, 2))
    assert layer.output_shape == (3, 6, 3)
    check_layer(be, layer, image((2, 5, 6, 2)))


@pytest.mark.parametrize(
    ("size", "kernel", "strides", "padding", "out"),
    [
        (28, 3, 1, "valid", 26),
        (28, 3, 1, "same", 28),
        (7, 3, 2, "same", 4),  # ceil(7 / 2)
        (8, 3, 2, "same", 4),
        (7, 3, 2, "valid", 3),
        (9, 5, 2, "valid", 3),
        (4, 5, 1, "same", 4),
    ],
)
def test_conv2d_output_shape(size, kernel, strides, padding, out):
    spec = {"filters": 4, "kernel_size": kernel, "strides": strides, "padding": padding}
    assert Conv2D.output_shape_for((size, size, 1), spec) == (out, out, 4)


def test_conv2d_same_padding_puts_the_odd_pixel_bottom_right():
    # 4x4 input, kernel 2, stride 1, same: total pad 1, all of it after (TensorFlow).
    be = get_backend("cpu")
    layer = built(be, Conv2D(1, 2, padding="same"), (4, 4, 1))
    assert layer.pads == ((0, 1), (0, 1))
    layer.params["weight"] = be.asarray(np.ones((2, 2, 1, 1)))
    X = np.arange(16.0).reshape(1, 4, 4, 1)
    Y = to_numpy(layer.forward(be.asarray(X), Context(be)))[0, :, :, 0]
    # The last row and column see zeros below / to the right.
    assert Y[3, 3] == 15.0 and Y[0, 0] == 0 + 1 + 4 + 5 and Y[3, 0] == 12 + 13


def test_conv2d_weights_start_he_and_keep_the_spec():
    be = get_backend("cpu")
    layer = built(be, Conv2D(32, 3, activation="relu"), (28, 28, 1))
    W = to_numpy(layer.params["weight"])
    assert W.shape == (3, 3, 1, 32) and abs(W.std() - np.sqrt(2 / 9)) < 0.05
    assert not to_numpy(layer.params["bias"]).any()
    assert layer.spec() == {
        "type": "conv2d",
        "filters": 32,
        "kernel_size": [3, 3],
        "strides": [1, 1],
        "padding": "valid",
        "activation": "relu",
        "init": "he",
    }


# ------------------------------------------------------------ pooling


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize(("pool", "strides"), [(2, None), (3, 2), (2, 1), ([2, 3], [1, 2])])
def test_pool_gradients(device, cls, pool, strides):
    be = get_backend(device)
    layer = built(be, cls(pool, strides), (7, 9, 3))
    check_layer(be, layer, image((2, 7, 9, 3)))


def test_maxpool_tie_of_two_matches_central_differences(device):
    # Each 2x2 window holds its maximum exactly twice: the documented rule
    # (1/k of the gradient to each of k tied positions) equals the central
    # difference for k = 2 (+h raises the max by h, -h leaves it unchanged).
    be = get_backend(device)
    window = np.array([[3.0, 3.0], [1.0, -2.0]])
    X = np.block([[window, window.T], [-window, window[::-1]]])[None, :, :, None]
    layer = built(be, MaxPool2D(2), (4, 4, 1))
    check_layer(be, layer, X)


def test_maxpool_ties_share_the_gradient(device):
    be = get_backend(device)
    X = np.zeros((1, 2, 4, 1))
    X[0, :, 2:, 0] = [[5.0, 1.0], [5.0, 5.0]]  # left window: 4-way tie; right: 3-way
    layer = built(be, MaxPool2D(2), (2, 4, 1))
    layer.forward(be.asarray(X), Context(be, training=True))
    dX = to_numpy(layer.backward(be.asarray(np.full((1, 1, 2, 1), 12.0))))[0, :, :, 0]
    assert np.array_equal(dX, [[3.0, 3.0, 4.0, 0.0], [3.0, 3.0, 4.0, 4.0]])


def test_pools_drop_what_no_window_reaches(device):
    be = get_backend(device)
    X = image((1, 5, 5, 2))
    for cls, reduce in ((MaxPool2D, np.max), (AvgPool2D, np.mean)):
        layer = built(be, cls(2), (5, 5, 2))
        Y = to_numpy(layer.forward(be.asarray(X), Context(be)))
        expected = reduce(X[:, :4, :4, :].reshape(1, 2, 2, 2, 2, 2), axis=(2, 4))
        assert Y.shape == (1, 2, 2, 2) and np.allclose(Y, expected)
        assert layer.spec() == {
            "type": cls.type,
            "pool_size": [2, 2],
            "strides": [2, 2],
            "padding": "valid",
        }


# ------------------------------------------------------------ flatten, global pool


def test_flatten_gradient_and_nhwc_order(device):
    be = get_backend(device)
    layer = built(be, Flatten(), (3, 2, 4))
    assert layer.output_shape == (24,)
    X = image((2, 3, 2, 4))
    Y = to_numpy(layer.forward(be.asarray(X), Context(be)))
    assert np.array_equal(Y[:, (1 * 2 + 1) * 4 + 2], X[:, 1, 1, 2])
    check_layer(be, layer, X)


def test_global_avgpool_gradient(device):
    be = get_backend(device)
    layer = built(be, GlobalAvgPool2D(), (3, 5, 4))
    assert layer.output_shape == (4,)
    check_layer(be, layer, image((2, 3, 5, 4)))


# ------------------------------------------------------------ batch norm


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5, 2)])
def test_batchnorm_training_gradients(device, shape):
    be = get_backend(device)
    rng = np.random.default_rng(5)
    layer = built(be, BatchNorm(), shape[1:])
    gamma, beta = rng.uniform(0.5, 2.0, shape[-1]), rng.standard_normal(shape[-1])
    X = image(shape) * 3 + 1
    check_layer(be, layer, X, params={"gamma": gamma, "beta": beta})


def test_batchnorm_inference_gradients(device):
    be = get_backend(device)
    rng = np.random.default_rng(6)
    layer = built(be, BatchNorm(epsilon=1e-5), (3, 3, 2))
    layer.state["running_mean"] = be.asarray(rng.standard_normal(2))
    layer.state["running_var"] = be.asarray(rng.uniform(0.5, 2, 2))
    check_layer(be, layer, image((2, 3, 3, 2)), training=False)


def test_batchnorm_statistics(device):
    be = get_backend(device)
    layer = built(be, BatchNorm(momentum=0.9, epsilon=1e-3), (3,))
    X = image((50, 3)) * np.array([1.0, 2.0, 3.0]) + np.array([0.0, -1.0, 5.0])
    Y = to_numpy(layer.forward(be.asarray(X), Context(be, training=True)))
    assert np.allclose(Y, (X - X.mean(0)) / np.sqrt(X.var(0) + 1e-3))
    mean, var = to_numpy(layer.state["running_mean"]), to_numpy(layer.state["running_var"])
    # Keras convention: running = momentum * running + (1 - momentum) * batch (biased var).
    assert np.allclose(mean, 0.1 * X.mean(0)) and np.allclose(var, 0.9 + 0.1 * X.var(0))
    Yi = to_numpy(layer.forward(be.asarray(X), Context(be)))
    assert np.allclose(Yi, (X - mean) / np.sqrt(var + 1e-3))


# ------------------------------------------------------------ specs


KERAS_NET = [
    {"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
    {"type": "maxpool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"},
    {"type": "maxpool2d", "pool_size": 2},
    {"type": "flatten"},
    {"type": "dropout", "rate": 0.5},
    {"type": "dense", "units": 10, "activation": "softmax"},
]


def test_keras_net_shapes_and_arrays():
    assert check_specs([28, 28, 1], KERAS_NET) == []
    shapes = array_shapes([28, 28, 1], KERAS_NET)
    assert shapes[0] == {"weight": (3, 3, 1, 32), "bias": (32,)}
    assert shapes[2] == {"weight": (3, 3, 32, 64), "bias": (64,)}
    assert shapes[6] == {"weight": (1600, 10), "bias": (10,)}
    net = Network(KERAS_NET, input_shape=(28, 28, 1), device="cpu")
    assert [layer.output_shape for layer in net.layers][:5] == [
        (26, 26, 32),
        (13, 13, 32),
        (11, 11, 64),
        (5, 5, 64),
        (1600,),
    ]
    assert net.n_parameters == 34826  # as Keras's summary of mnist_convnet


def test_batchnorm_arrays_include_its_state():
    specs = [{"type": "batchnorm"}, {"type": "flatten"}, {"type": "dense", "units": 2}]
    assert array_shapes([4, 4, 3], specs)[0] == {
        "gamma": (3,),
        "beta": (3,),
        "running_mean": (3,),
        "running_var": (3,),
    }
    net = Network(specs, input_shape=(4, 4, 3), device="cpu")
    assert set(net.layers[0].state) == {"running_mean", "running_var"}


@pytest.mark.parametrize(
    ("input_shape", "layers", "expected"),
    [
        ([28, 28, 1], [{"type": "dense", "units": 10}], "layers[0] (dense): needs flat inputs"),
        (
            [3, 3, 1],
            [{"type": "conv2d", "filters": 2, "kernel_size": 5}, {"type": "flatten"}],
            "layers[0] (conv2d): kernel_size [5, 5] is larger than its input [3, 3]",
        ),
        (
            [28, 28, 1],
            [{"type": "maxpool2d", "pool_size": 30}, {"type": "flatten"}],
            "layers[0] (maxpool2d): pool_size [30, 30] is larger than its input [28, 28]",
        ),
        (
            [784],
            [{"type": "conv2d", "filters": 2, "kernel_size": 3}],
            "layers[0] (conv2d): needs image inputs",
        ),
        (
            [8, 8, 1],
            [{"type": "conv2d", "filters": 2, "kernel_size": 3, "strides": 3}],
            "layers[0].strides: expected values in [1, 2]",
        ),
        (
            [8, 8, 1],
            [{"type": "conv2d", "filters": 2, "kernel_size": 3, "padding": "full"}],
            "layers[0].padding: expected one of valid, same",
        ),
        ([8, 8, 1], [{"type": "conv2d", "kernel_size": 3}], "layers[0].filters: missing"),
        (
            [8, 8, 1],
            [{"type": "avgpool2d", "padding": "same"}],
            "layers[0].padding: expected one of valid",
        ),
        (
            [8, 8, 1],
            [{"type": "global_avgpool2d"}, {"type": "global_avgpool2d"}],
            "layers[1] (global_avgpool2d): needs image inputs",
        ),
        ([8, 8, 1], [{"type": "conv2d", "filters": 2, "kernel_size": 3}], "end with flatten"),
        ([8, 8, 1], [{"type": "batchnorm", "momentum": 1.5}], "layers[0].momentum"),
    ],
)
def test_check_specs_errors(input_shape, layers, expected):
    problems = check_specs(input_shape, layers)
    assert any(expected in p for p in problems), problems
    with pytest.raises(ConfigError, match=r"layers\["):
        Network(layers, input_shape=input_shape, device="cpu")


def test_every_layer_kind_is_registered():
    assert set(LAYERS) >= {
        "conv2d",
        "maxpool2d",
        "avgpool2d",
        "global_avgpool2d",
        "flatten",
        "batchnorm",
    }


def test_specs_round_trip():
    specs = [
        {"type": "conv2d", "filters": 4, "kernel_size": [3, 2], "strides": 2, "padding": "same"},
        {"type": "batchnorm", "momentum": 0.9},
        {"type": "avgpool2d", "pool_size": 2, "strides": 1},
        {"type": "maxpool2d"},
        {"type": "global_avgpool2d"},
        {"type": "dense", "units": 3, "activation": "softmax"},
    ]
    net = Network(specs, input_shape=(9, 9, 2), device="cpu")
    again = Network(net.spec()["layers"], input_shape=(9, 9, 2), device="cpu")
    assert again.spec() == net.spec()


@pytest.mark.parametrize(
    "kernel,strides", [((1, 1), (1, 1)), ((1, 3), (1, 2)), ((3, 1), (2, 1)), ((2, 2), (2, 2)),
                       ((3, 3), (1, 1)), ((3, 2), (2, 2))],
)  # fmt: skip
def test_separable_window_max_equals_the_max_of_every_window(kernel, strides):
    from gnet.layers.windows import out_size, window_max

    rng = np.random.default_rng(7)
    X = rng.integers(-3, 4, (2, 7, 8, 3)).astype(np.float64)  # small integers: many ties
    (kh, kw), (sh, sw) = kernel, strides
    Ho, Wo = out_size(7, kh, sh, "valid"), out_size(8, kw, sw, "valid")
    expected = np.empty((2, Ho, Wo, 3))
    for a in range(Ho):
        for b in range(Wo):
            window = X[:, a * sh : a * sh + kh, b * sw : b * sw + kw, :]
            expected[:, a, b, :] = window.max(axis=(1, 2))
    Y = window_max(np, X, kernel, strides, (Ho, Wo))
    np.testing.assert_array_equal(Y, expected)
    Y[...] = 99  # a fresh array, never a view of X
    assert X.max() < 99
