"""The ready-made configurations in configs/: valid, what they claim to be, and
runnable; configs/default.json is exactly the recipe ``gnet train`` uses with no flags."""

from __future__ import annotations

import json

import pytest
from datapaths import REPO
from test_cli import make_dataset, run

from gnet import cli
from gnet.config import DEFAULTS, KEYS, load_config, resolve

CONFIGS = sorted((REPO / "configs").glob("*.json"))
SEED_001 = (
    '{"layers": [784, 200, 10], "activations": ["Sigmoid", "Softmax"], '
    '"learning_rate": 0.01, "epochs": 30}'
)


def resolved(name: str) -> dict:
    return resolve(load_config(REPO / "configs" / name), None)


def test_the_configs_are_there():
    names = {p.name for p in CONFIGS}
    assert {
        "default.json",
        "neural-net-rs.json",
        "digit-recognizer.json",
        "ml-rust.json",
        "fashion.json",
    } <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_is_valid_json_and_resolves(path):
    json.loads(path.read_text())
    config = resolve(load_config(path), None)
    assert set(config) == set(KEYS)


def test_default_json_is_the_defaults():
    raw = json.loads((REPO / "configs" / "default.json").read_text())
    assert list(raw) == list(KEYS)  # every key, in order: the whole recipe in one place
    assert raw == DEFAULTS
    assert resolved("default.json") == DEFAULTS


def test_gnet_train_without_flags_uses_the_defaults():
    args = cli.build_parser().parse_args(["train"])
    assert cli._resolve_config(args) == DEFAULTS
    args = cli.build_parser().parse_args(["train", "--config", str(REPO / "configs/default.json")])
    assert cli._resolve_config(args) == DEFAULTS


def test_neural_net_rs_is_the_seed_001_run():
    assert (REPO / "configs" / "neural-net-rs.json").read_text().strip() == SEED_001
    config = resolved("neural-net-rs.json")
    assert config["layers"] == [784, 200, 10]
    assert config["activations"] == ["sigmoid", "softmax"]
    assert (config["learning_rate"], config["epochs"]) == (0.01, 30)
    assert (config["mode"], config["momentum"], config["normalize"]) == ("per-sample", 0.0, False)
    assert (config["l2"], config["lr_schedule"]) == (0.0, None)


def test_a_config_file_starts_from_the_seeds_plain_sgd():
    """Keys a file leaves out take the seeds' values, not the default recipe's."""
    from gnet.config import SEED_TRAINING

    config = resolve(load_config({"layers": [784, 10], "activations": ["softmax"]}), None)
    for key, value in SEED_TRAINING.items():
        assert config[key] == value
    assert (config["momentum"], config["l2"], config["lr_schedule"]) == (0.0, 0.0, None)
    assert config["normalize"] is False
    # every key where the default recipe differs from plain SGD on raw pixels is covered
    plain = {
        "momentum": 0.0,
        "nesterov": False,
        "l1": 0.0,
        "l2": 0.0,
        "dropout": 0.0,
        "lr_schedule": None,
        "normalize": False,
        "augment": False,
    }
    differs = {k for k, v in plain.items() if DEFAULTS[k] != v}
    assert differs <= set(SEED_TRAINING)


def test_digit_recognizer():
    config = resolved("digit-recognizer.json")
    assert config["layers"] == [784, 64, 10]
    assert config["activations"] == ["relu", "softmax"]
    assert (config["init"], config["learning_rate"], config["epochs"]) == ("he", 0.01, 32)
    assert (config["mode"], config["momentum"]) == ("per-sample", 0.0)


def test_ml_rust():
    config = resolved("ml-rust.json")
    assert config["layers"] == [784, 30, 10]
    assert config["activations"] == ["relu", "softmax"]
    # The seed's "drop_out" 0.5 drops weights, not units: DropConnect.
    assert (config["dropconnect"], config["dropout"]) == (0.5, 0.0)
    # the seed's annealing: learning rate and batch size both shrink as training goes on
    assert config["lr_schedule"] == {"type": "linear", "min_lr": 0.0001}
    assert (config["mode"], config["batch_size"]) == ("mini-batch", 128)
    assert config["batch_schedule"] == {"type": "linear", "final": 8}


def test_fashion():
    config = resolved("fashion.json")
    assert config["dataset"] == "fashion-mnist"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_runs(path, tmp_path, capsys):
    """One short epoch of each recipe on a tiny synthetic set (MNIST and Fashion-MNIST)."""
    root = make_dataset(tmp_path, "mnist", n_train=60, n_test=20)
    make_dataset(tmp_path, "fashion-mnist", n_train=60, n_test=20)
    code, out, err = run(
        capsys,
        "train",
        "--config",
        path,
        "--data-dir",
        root,
        "--no-download",
        "--epochs",
        "1",
        "-q",
    )
    assert code == 0, err
    assert out.startswith("test accuracy")
