"""The measured recipes in configs/ (docs/recipes.md): each resolves and
validates, is what docs/recipes.md says it is (an MLP, the data set, the
regularisers), and runs through ``gnet train`` and ``gnet.run`` (one epoch on a
small synthetic set: the full runs take minutes and are measured, not tested)."""

from __future__ import annotations

import json

import pytest
from datapaths import REPO
from test_cli import make_dataset, run

from gnet.config import KEYS, load_config, resolve

RECIPES = {
    "best-mnist.json": "mnist",
    "mnist-fast.json": "mnist",
    "best-fashion.json": "fashion-mnist",
    "fashion-early-stopping.json": "fashion-mnist",
}


def resolved(name: str) -> dict:
    return resolve(load_config(REPO / "configs" / name), None)


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_resolves_to_a_full_valid_config(name):
    raw = json.loads((REPO / "configs" / name).read_text())
    config = resolved(name)
    assert set(config) == set(KEYS)
    assert config["dataset"] == RECIPES[name]
    # a multilayer perceptron: 784 inputs, ReLU hidden layers, 10-way softmax
    assert config["layers"][0] == 784 and config["layers"][-1] == 10
    assert len(config["layers"]) >= 4  # at least two hidden layers
    assert config["activations"] == ["relu"] * (len(config["layers"]) - 2) + ["softmax"]
    assert config["mode"] == "mini-batch" and config["normalize"]
    # what the file says is what runs: no training key left to a default that differs
    for key, value in raw.items():
        if key != "lr_schedule":
            assert config[key] == value, key


def test_best_mnist_uses_dropout_shifts_and_a_schedule():
    config = resolved("best-mnist.json")
    assert config["dropout"] > 0 and config["augment"] == 2
    assert config["lr_schedule"] == {"type": "cosine", "min_lr": 0.0}
    assert (config["optimizer"], config["momentum"]) == ("sgd", 0.9)


def test_mnist_fast_is_the_plain_recipe_without_shifts():
    config = resolved("mnist-fast.json")
    assert config["augment"] is False and config["dropout"] > 0
    assert config["epochs"] < resolved("best-mnist.json")["epochs"]


def test_best_fashion_uses_dropout_without_shifts():
    config = resolved("best-fashion.json")
    # ±1-pixel shifts measured worse on Fashion-MNIST (docs/recipes.md)
    assert config["dropout"] > 0 and config["augment"] is False
    assert config["lr_schedule"] == {"type": "cosine", "min_lr": 0.0}


def test_fashion_early_stopping_holds_out_a_validation_split():
    config = resolved("fashion-early-stopping.json")
    assert config["validation_split"] == 0.1 and config["early_stopping"] == 5
    assert config["lr_schedule"] is None  # a constant rate: the validation loss turns up
    assert config["epochs"] == 100  # an upper bound; early stopping ends the run


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    for name in ("mnist", "fashion-mnist"):
        make_dataset(root, name, n_train=200, n_test=50)
    return root


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_runs_through_the_cli(capsys, tmp_path, data_root, name):
    metrics = tmp_path / "m.json"
    code, out, err = run(
        capsys,
        "train",
        "--config",
        REPO / "configs" / name,
        "--data-dir",
        data_root,
        "--no-download",
        "--epochs",
        "1",
        "--threads",
        "1",
        "--metrics-json",
        metrics,
    )
    assert code == 0, err
    payload = json.loads(metrics.read_text())
    assert payload["config"]["layers"] == resolved(name)["layers"]
    assert payload["config"]["dataset"] == RECIPES[name]
    assert "compared with published MLPs" in out
    assert [r["name"] for r in payload["test"]["references"]]


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_runs_through_gnet_run(data_root, name):
    import gnet

    result = gnet.run(
        REPO / "configs" / name, epochs=1, device="cpu", data_dir=data_root, download=False
    )
    assert result.config == dict(resolved(name), epochs=1)
    assert result.metrics["config"] == result.config
    assert [e["epoch"] for e in result.history.epochs] == [1]
    assert result.metrics["test"]["accuracy"] == result.report["accuracy"]
    assert result.report["n_samples"] == 50
