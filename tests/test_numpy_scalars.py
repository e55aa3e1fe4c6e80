"""Hyperparameters given as NumPy scalars (a grid from np.arange, a value read
from an array) are accepted wherever a Python int or float is, and stored as
Python numbers, so specs and model files stay plain JSON."""

from __future__ import annotations

import json

import numpy as np

import gnet


def test_network_and_optimiser_take_numpy_scalars(tmp_path):
    net = gnet.Network(
        [np.int64(784), np.int32(16), 10],
        ["relu", "softmax"],
        seed=np.int64(3),
        dropout=np.float32(0.25),
    )
    assert net.sizes == [784, 16, 10] and type(net.seed) is int
    json.dumps(net.spec())
    opt = gnet.optim.SGD(learning_rate=np.float32(0.1), momentum=np.float32(0.9))
    assert type(opt.learning_rate) is float
    adam = gnet.optim.Adam(learning_rate=np.float16(0.01), beta1=np.float64(0.8))
    assert adam.beta1 == 0.8
    rng = np.random.default_rng(0)
    net.fit(rng.random((32, 784)), rng.integers(0, 10, 32), epochs=1, optimizer=opt)
    net.save(tmp_path / "m.safetensors")
    assert gnet.load(tmp_path / "m.safetensors").sizes == [784, 16, 10]


def test_layer_specs_take_numpy_scalars():
    spec = [
        {"type": "dense", "units": np.int64(8), "activation": "relu"},
        {"type": "dropout", "rate": np.float32(0.5)},
        {"type": "dense", "units": np.uint8(3), "activation": "softmax"},
    ]
    net = gnet.Network(spec, input_shape=(np.int64(5),))
    text = json.dumps(net.spec())
    assert '"units": 8' in text and '"input_shape": [5]' in text
