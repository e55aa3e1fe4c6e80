"""The key table (gnet.config.keys.TABLE) is the one declaration of every
config key: defaults, checks, flags, their help and docs/cli.md follow it;
layer-spec configs and the shared schedule parsers."""

from __future__ import annotations

import pytest
from datapaths import REPO

from gnet import cli
from gnet.config import (
    DEFAULTS,
    KEYS,
    TABLE,
    parse_batch_schedule,
    parse_lr_schedule,
    resolve,
    validate,
)
from gnet.errors import ConfigError

SPECS = [
    {"type": "dense", "units": 128, "activation": "relu"},
    {"type": "dropout", "rate": 0.2},
    {"type": "dense", "units": 10, "activation": "softmax"},
]


def test_defaults_and_keys_come_from_the_table():
    assert KEYS == tuple(key.name for key in TABLE)
    assert DEFAULTS == {key.name: key.default for key in TABLE}
    assert all(key.help for key in TABLE)


def test_every_key_is_a_train_flag_with_its_help(capsys):
    assert cli.CONFIG_FLAGS == tuple(key.name for key in TABLE if key.flag is not None)
    assert set(cli.CONFIG_FLAGS) == set(KEYS)
    assert cli.main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for key in TABLE:
        assert key.option in text, key.name
        assert " ".join(key.help.split())[:30] in text, key.name


def test_docs_list_every_key():
    text = (REPO / "docs" / "cli.md").read_text()
    for key in TABLE:
        assert f"| `{key.name}` | `{key.option}" in text, key.name


def test_layer_specs_need_no_activations():
    config = resolve({"input_shape": [784], "layers": SPECS, "loss": "cross-entropy"})
    assert config["layers"] == SPECS and config["activations"] is None
    assert config["input_shape"] == [784]
    assert validate(config) == config


def test_input_shape_follows_sizes_unless_given():
    assert resolve({"layers": [64, 10], "activations": ["softmax"]})["input_shape"] == [64]
    assert resolve(None, {"input_shape": "28,28,1"})["input_shape"] == [28, 28, 1]
    old = {k: v for k, v in DEFAULTS.items() if k != "input_shape"}  # an older checkpoint
    assert validate(old)["input_shape"] == [784]


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"input_shape": [28, 28], "layers": SPECS}, "input_shape: expected [features]"),
        ({"input_shape": [28, 28, 2]}, "is 1568 inputs, but layers"),
        ({"layers": SPECS, "activations": ["relu", "softmax"]}, "activations: not used"),
        ({"layers": [{"type": "dense"}, {"type": "conv9"}]}, "layers[1]"),
    ],
)
def test_bad_specs_and_shapes_are_listed(config, fragment):
    with pytest.raises(ConfigError) as info:
        resolve(config)
    assert fragment in str(info.value)


def test_layer_specs_as_a_flag():
    flag = '[{"type": "dense", "units": 10, "activation": "softmax"}]'
    assert resolve(None, {"layers": flag})["layers"] == [
        {"type": "dense", "units": 10, "activation": "softmax"}
    ]


def test_schedules_are_parsed_in_one_place():
    assert parse_lr_schedule("step:10:0.5") == {"type": "step", "step_size": 10, "gamma": 0.5}
    assert parse_lr_schedule({"Type": "Cosine"}) == {"type": "cosine", "min_lr": 0.0}
    assert parse_lr_schedule("none") is None
    assert parse_batch_schedule("linear:8") == {"type": "linear", "final": 8}
    with pytest.raises(ConfigError, match="lr_schedule: gamma must be in"):
        parse_lr_schedule("exponential:2")
    with pytest.raises(ConfigError, match='applies to mode "mini-batch" only'):
        parse_batch_schedule("linear:8", mode="per-sample")
    with pytest.raises(ConfigError, match="batch_schedule: expected"):
        parse_batch_schedule("linear:٣")  # not an ASCII digit
