"""The convolutional recipes in configs/: each resolves to what it says (the
Keras mnist_convnet, batch-normalised CNNs for MNIST and Fashion-MNIST) and
runs through `gnet train` and `gnet.run` (one epoch on a small synthetic set:
the full runs are measured, not tested; README "Convolutional networks")."""

from __future__ import annotations

import json

import pytest
from datapaths import REPO
from test_cli import make_dataset, run

import gnet
from gnet.config import load_config, resolve

RECIPES = {
    "mnist-cnn.json": "mnist",
    "best-mnist-cnn.json": "mnist",
    "fashion-cnn.json": "fashion-mnist",
}


def resolved(name: str) -> dict:
    return resolve(load_config(REPO / "configs" / name), None)


def test_mnist_cnn_is_the_keras_example():
    config = resolved("mnist-cnn.json")
    kinds = [
        (s["type"], s.get("filters") or s.get("units") or s.get("rate") or s.get("pool_size"))
        for s in config["layers"]
    ]
    assert kinds == [
        ("conv2d", 32),
        ("maxpool2d", 2),
        ("conv2d", 64),
        ("maxpool2d", 2),
        ("flatten", None),
        ("dropout", 0.5),
        ("dense", 10),
    ]
    assert config["input_shape"] == [28, 28, 1]
    assert (config["optimizer"], config["learning_rate"], config["batch_size"]) == (
        "adam",
        0.001,
        128,
    )
    assert config["epochs"] == 15 and config["validation_split"] == 0.1
    net = gnet.Network.from_architecture(config)
    assert net.n_parameters == 34_826  # Keras' model.summary() for the example


@pytest.mark.parametrize("name", ["best-mnist-cnn.json", "fashion-cnn.json"])
def test_best_recipes_use_batch_norm_and_a_schedule(name):
    config = resolved(name)
    assert config["dataset"] == RECIPES[name]
    kinds = [s["type"] for s in config["layers"]]
    assert kinds.count("conv2d") == 2 and kinds.count("batchnorm") == 3
    assert config["lr_schedule"] == {"type": "cosine", "min_lr": 0.0}
    assert config["augment"] == (2 if RECIPES[name] == "mnist" else False)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    for name in ("mnist", "fashion-mnist"):
        make_dataset(root, name, n_train=160, n_test=40)
    return root


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_runs_through_the_cli_and_gnet_run(capsys, tmp_path, data_root, name):
    metrics = tmp_path / "m.json"
    code, out, err = run(
        capsys, "train", "--config", REPO / "configs" / name, "--data-dir", data_root,
        "--no-download", "--epochs", "1", "--threads", "1", "--metrics-json", metrics,
    )  # fmt: skip
    assert code == 0, err
    payload = json.loads(metrics.read_text())
    assert payload["config"]["layers"] == resolved(name)["layers"]
    assert "conv2d" in out  # the model summary at the start
    result = gnet.run(
        REPO / "configs" / name, epochs=1, device="cpu", data_dir=data_root, download=False
    )
    assert result.config == dict(resolved(name), epochs=1)
    assert result.report["n_samples"] == 40
