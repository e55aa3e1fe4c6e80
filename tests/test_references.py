"""gnet.references (published MLP and convolutional results) and where the
CLI shows them: the "compared with published MLPs" (or "convolutional
networks") block of ``gnet train`` / ``gnet evaluate`` and the
``test.references`` list of the metrics JSON. Also early stopping on a
validation split, end to end through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_cli import make_dataset, run, write_idx

import gnet
from gnet import data
from gnet.references import CONV_REFERENCES, REFERENCES, compare, comparison_text

HEADER = "compared with published MLPs"
CONV_HEADER = "compared with published convolutional networks"


# ----------------------------------------------------------------- the table


def test_the_table_holds_the_issue_references():
    mnist = {name: acc for name, acc, _ in REFERENCES["mnist"]}
    fashion = {name: acc for name, acc, _ in REFERENCES["fashion-mnist"]}
    assert sorted(mnist.values()) == [0.9875, 0.9905, 0.9965]
    assert sorted(fashion.values()) == [0.870, 0.900]
    for rows in REFERENCES.values():
        for name, accuracy, note in rows:
            assert name and note and 0 < accuracy < 1


def test_the_convolutional_table():
    mnist = {name: acc for name, acc, _ in CONV_REFERENCES["mnist"]}
    fashion = {name: acc for name, acc, _ in CONV_REFERENCES["fashion-mnist"]}
    assert sorted(mnist.values()) == [0.9905, 0.9922, 0.9977]
    assert sorted(fashion.values()) == [0.916, 0.925, 0.949]
    rows = compare("fashion-mnist", 0.9264, "cnn")
    assert [r["beats"] for r in rows] == [True, True, False]
    text = comparison_text("mnist", 0.9956, "cnn")
    assert text.startswith(CONV_HEADER) and "+0.34 pts  above  Keras mnist_convnet" in text
    with pytest.raises(KeyError):
        compare("mnist", 0.99, "rnn")


def test_compare_gives_one_row_per_reference_with_the_difference():
    rows = compare("mnist", 0.99)
    assert [r["name"] for r in rows] == [name for name, _, _ in REFERENCES["mnist"]]
    assert set(rows[0]) == {"name", "accuracy", "note", "difference", "beats"}
    by_accuracy = {r["accuracy"]: r for r in rows}
    assert by_accuracy[0.9875]["beats"] and by_accuracy[0.9875]["difference"] == pytest.approx(
        0.0025
    )
    assert not by_accuracy[0.9905]["beats"]
    assert by_accuracy[0.9965]["difference"] == pytest.approx(-0.0065)
    assert all(r["beats"] for r in compare("fashion-mnist", 0.900))  # a tie counts
    assert json.loads(json.dumps(rows)) == rows  # JSON as it is


def test_compare_without_references_and_bad_accuracies():
    assert compare("kmnist", 0.9) == [] and compare(None, 0.9) == []
    assert compare("MNIST", 0.5) == compare("mnist", 0.5)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="fraction"):
            compare("mnist", bad)


def test_comparison_text():
    text = comparison_text("fashion-mnist", 0.8912)
    lines = text.splitlines()
    assert lines[0].startswith(HEADER) and "89.12%" in lines[0]
    assert len(lines) == 1 + len(REFERENCES["fashion-mnist"])
    assert any("+2.12 pts" in line and "above" in line for line in lines)
    assert any("-0.88 pts" in line and "below" in line for line in lines)
    assert comparison_text("kmnist", 0.9) == ""


# ----------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("data"), n_train=300, n_test=100)


def _check_references(out: str, payload: dict, dataset: str = "mnist", kind: str = "mlp") -> None:
    accuracy = payload["test"]["accuracy"]
    assert payload["test"]["references"] == compare(dataset, accuracy, kind)
    assert comparison_text(dataset, accuracy, kind) in out
    lines = out.strip().splitlines()
    assert lines[-1].startswith("test accuracy")  # the block comes before the final line
    header = CONV_HEADER if kind == "cnn" else HEADER
    assert out.index("Overall Accuracy:") < out.index(header)  # and after the tables


def test_train_and_evaluate_print_and_store_the_comparison(capsys, tmp_path, data_root):
    model, metrics = tmp_path / "m.safetensors", tmp_path / "train.json"
    common = ["--data-dir", data_root, "--no-download"]
    code, out, err = run(
        capsys,
        "train",
        *common,
        "--layers",
        "784,16,10",
        "--epochs",
        "1",
        "--threads",
        "1",
        "--limit",
        "200",
        "--out",
        model,
        "--metrics-json",
        metrics,
    )
    assert code == 0, err
    _check_references(out, json.loads(metrics.read_text()))

    metrics = tmp_path / "evaluate.json"
    code, out, err = run(capsys, "evaluate", model, *common, "--metrics-json", metrics)
    assert code == 0, err
    _check_references(out, json.loads(metrics.read_text()))

    code, out, err = run(capsys, "evaluate", model, *common, "--quiet")
    assert code == 0, err
    assert HEADER not in out and len(out.strip().splitlines()) == 1


def test_a_convolutional_model_is_compared_with_convolutional_networks(
    capsys, tmp_path, data_root
):
    model, metrics = tmp_path / "c.safetensors", tmp_path / "train.json"
    common = ["--data-dir", data_root, "--no-download"]
    code, out, err = run(
        capsys, "train", *common, "--model", "conv2d:4:3,maxpool2d:2,flatten,dense:10",
        "--epochs", "1", "--threads", "1", "--limit", "200", "--out", model,
        "--metrics-json", metrics,
    )  # fmt: skip
    assert code == 0, err
    assert HEADER not in out
    _check_references(out, json.loads(metrics.read_text()), kind="cnn")
    metrics = tmp_path / "evaluate.json"
    code, out, err = run(capsys, "evaluate", model, *common, "--metrics-json", metrics)
    assert code == 0, err
    _check_references(out, json.loads(metrics.read_text()), kind="cnn")


# ----------------------------------------------- early stopping through the CLI


def test_early_stopping_on_a_validation_split_restores_the_best_weights(capsys, tmp_path):
    """Random labels: the network memorises the training images, so the
    validation loss rises after the first epochs and early stopping must end
    the run and hand back the weights of the best validation epoch."""
    root = tmp_path / "data"
    folder = root / "mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 400), ("t10k", 50)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))
    model, metrics = tmp_path / "m.safetensors", tmp_path / "m.json"
    code, out, err = run(
        capsys,
        "train",
        "--data-dir",
        root,
        "--no-download",
        "--layers",
        "784,128,10",
        "--lr",
        "0.05",
        "--lr-schedule",
        "none",
        "--l2",
        "0",
        "--epochs",
        "40",
        "--validation-split",
        "0.25",
        "--early-stopping",
        "2",
        "--threads",
        "1",
        "--out",
        model,
        "--metrics-json",
        metrics,
    )
    assert code == 0, err
    epochs = json.loads(metrics.read_text())["train"]["epochs"]
    val_losses = [e["val_loss"] for e in epochs]
    best = 1 + int(np.argmin(val_losses))
    assert len(epochs) < 40 and len(epochs) == best + 2  # patience 2 after the best epoch
    assert f"early stopping after epoch {len(epochs)}: restored the weights of epoch {best}" in out

    # the saved model is the best epoch's: its loss on the same split is the best val_loss
    X, y = data.load("mnist", data_dir=root, download=False)[0]
    _, (X_val, y_val) = data.train_validation_split(X, y, 0.25, seed=0)
    restored = gnet.load(model).evaluate(X_val, y_val)
    assert restored["loss"] == pytest.approx(min(val_losses), rel=1e-4)
    assert restored["loss"] < val_losses[-1]
