"""The compact layer grammar of --model / --layers (gnet.config.compact)."""

from __future__ import annotations

import pytest

from gnet.config import resolve
from gnet.config.compact import parse_compact
from gnet.errors import ConfigError


def test_the_keras_net_in_one_line():
    config = resolve(
        None,
        {"layers": "conv2d:32:3,maxpool2d:2,conv2d:64:3,maxpool2d:2,flatten,dropout:0.5,dense:10"},
    )
    assert config["input_shape"] == [28, 28, 1]
    assert config["layers"] == [
        {"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
        {"type": "maxpool2d", "pool_size": 2},
        {"type": "conv2d", "filters": 64, "kernel_size": 3, "activation": "relu"},
        {"type": "maxpool2d", "pool_size": 2},
        {"type": "flatten"},
        {"type": "dropout", "rate": 0.5},
        {"type": "dense", "units": 10, "activation": "softmax"},
    ]
    assert config["activations"] is None


def test_named_fields_and_dense_defaults():
    layers = parse_compact("conv2d:8:5:padding=same:strides=2,flatten,dense:64,dense:10:identity")
    assert layers[0] == {
        "type": "conv2d",
        "filters": 8,
        "kernel_size": 5,
        "padding": "same",
        "strides": 2,
        "activation": "relu",
    }
    assert layers[2]["activation"] == "relu" and layers[3]["activation"] == "identity"


def test_a_dense_only_model_takes_flat_rows():
    config = resolve(None, {"layers": "dense:128,dropout:0.2,dense:10"})
    assert config["input_shape"] == [784]


def test_sizes_are_not_the_compact_grammar():
    assert parse_compact("784,128,10") is None
    assert resolve(None, {"layers": "784,128,10"})["layers"] == [784, 128, 10]


@pytest.mark.parametrize(
    "text,message",
    [
        ("conv2d:32:3,dense:10", r"layers\[1\].*flatten"),
        ("conv2d:32:3:9:9,flatten,dense:10", r"layers\[0\]\.argument 4: unknown field"),
        ("conv3d:32,flatten,dense:10", r"layers\[0\]\.type: unknown layer type"),
        ("conv2d:x:3,flatten,dense:10", r"layers\[0\]\.filters"),
    ],
)
def test_mistakes_name_the_layer(text, message):
    with pytest.raises(ConfigError, match=message):
        resolve(None, {"layers": text})
