"""``gnet.run``: what ``gnet train`` does, as one library call.

Most runs use test_cli's small synthetic IDX set (fractions of a second); one
runs on real MNIST and checks that the library call and the command line
give the same test accuracy for the same config.
"""

from __future__ import annotations

import json
import re

import pytest
from datapaths import data_dir
from test_cli import make_dataset, run

import gnet
from gnet import cli
from gnet.errors import ConfigError
from gnet.train import Callback

SPECS = {
    "input_shape": [784],
    "layers": [
        {"type": "dense", "units": 32, "activation": "relu"},
        {"type": "dropout", "rate": 0.2},
        {"type": "dense", "units": 10, "activation": "softmax"},
    ],
    "loss": "cross-entropy",
}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("data"))


def quick(data_root, config=None, **options):
    """gnet.run on the synthetic set, 2 epochs of mini-batch 32 unless told otherwise."""
    overrides = {"epochs": 2, "batch_size": 32, **options}
    return gnet.run(config, device="cpu", data_dir=data_root, download=False, **overrides)


def test_mlp_config_returns_network_history_metrics_and_report(data_root):
    config = {"layers": [784, 64, 10], "activations": ["relu", "softmax"]}
    result = quick(data_root, config)
    assert isinstance(result, gnet.RunResult)
    assert isinstance(result.network, gnet.Network)
    assert [e["epoch"] for e in result.history.epochs] == [1, 2]
    assert result.metrics["test"]["accuracy"] == result.report["accuracy"]
    assert result.metrics["config"]["layers"] == [784, 64, 10]
    assert result.metrics["config"]["input_shape"] == [784]
    assert len(result.metrics["train"]["epochs"]) == 2
    assert result.report["accuracy"] > 0.5


def test_metrics_are_exactly_what_metrics_json_writes(data_root, tmp_path):
    path = tmp_path / "m.json"
    result = quick(data_root, None, metrics_json=path)
    assert json.loads(path.read_text()) == json.loads(json.dumps(result.metrics))


def test_layer_spec_config_runs_without_activations(data_root, tmp_path):
    model = tmp_path / "spec.safetensors"
    result = quick(data_root, SPECS, out=model)
    assert result.config["activations"] is None
    assert result.config["layers"][1] == {"type": "dropout", "rate": 0.2}
    assert result.network.n_inputs == 784 and result.network.n_classes == 10
    assert model.is_file() and result.out == model
    loaded = gnet.load(model)
    assert loaded.evaluate(*_test_split(data_root))["accuracy"] == result.report["accuracy"]


def _test_split(data_root):
    from gnet.run import load_data

    return load_data("mnist", data_root, download=False)[1]


def test_bad_layer_specs_list_every_problem(data_root):
    bad = {"input_shape": [784], "layers": [{"type": "dense"}, {"type": "conv9"}]}
    with pytest.raises(ConfigError) as info:
        quick(data_root, bad)
    assert len(info.value.problems) >= 2
    assert "layers[0]" in str(info.value) and "layers[1]" in str(info.value)


def test_bad_layer_specs_exit_2_from_the_cli(capsys, data_root, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"layers": [{"type": "dense", "units": 0}]}))
    code, _, err = run(capsys, "train", "--config", path, "--data-dir", data_root)
    assert code == 2 and "layers[0]" in err and "Traceback" not in err


def test_callbacks_see_the_run_and_every_epoch(data_root):
    seen = []

    class Watch(Callback):
        def on_run_begin(self, info):
            seen.append(("run", info["n_train"], info["n_test"], info["config"]["epochs"]))

        def on_epoch_end(self, epoch, logs):
            seen.append(("epoch", epoch))

    quick(data_root, None, callbacks=[Watch()], epochs=3)
    assert seen == [("run", 400, 100, 3), ("epoch", 1), ("epoch", 2), ("epoch", 3)]


def test_the_library_prints_nothing(data_root, capsys):
    quick(data_root, None)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_limit_takes_one_count_or_a_train_test_pair(data_root):
    seen = []

    class Sizes:
        def on_run_begin(self, info):
            seen.append((info["n_train"], info["n_test"]))

    quick(data_root, None, limit=50, callbacks=[Sizes()], epochs=1)
    quick(data_root, None, limit=(80, None), callbacks=[Sizes()], epochs=1)
    assert seen == [(50, 50), (80, 100)]


def test_config_path_and_overrides(data_root, tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"layers": [784, 16, 10], "activations": ["Sigmoid", "Softmax"]}')
    result = quick(data_root, path, learning_rate=0.5, validation_split=0.25)
    assert result.config["learning_rate"] == 0.5 and result.config["layers"] == [784, 16, 10]
    assert "val_accuracy" in result.history.epochs[-1]


def test_resume_returns_the_whole_history(data_root, tmp_path):
    ckpt = tmp_path / "ckpt"
    first = quick(data_root, None, checkpoint_dir=ckpt, epochs=2)
    again = gnet.run(resume=ckpt, epochs=3, device="cpu", data_dir=data_root, download=False)
    assert again.epochs_before == 2
    assert [e["epoch"] for e in again.history.epochs] == [1, 2, 3]
    assert again.history.epochs[:2] == first.history.epochs
    with pytest.raises(ConfigError, match="only epochs may change"):
        gnet.run(resume=ckpt, epochs=4, learning_rate=0.5, data_dir=data_root, download=False)


def test_bad_options_fail_before_the_data_loads(tmp_path):
    with pytest.raises(ConfigError, match="out"):
        gnet.run(None, out=tmp_path / "missing" / "m.safetensors", data_dir=tmp_path / "none")
    with pytest.raises(ConfigError, match="epochs"):
        gnet.run(None, epochs=0, data_dir=tmp_path / "none")


def test_run_equals_gnet_train_on_real_mnist(capsys, tmp_path):
    """The acceptance check: same config, same test accuracy, library and command line."""
    root = data_dir()
    if not (root / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST files not found in {root / 'mnist'} (set GNET_DATA_DIR)")
    config = {"layers": [784, 64, 10], "activations": ["relu", "softmax"], "epochs": 2}
    limit = 12_000  # per-sample updates (a config file's default): about 1 s an epoch
    result = gnet.run(config, device="cpu", data_dir=root, download=False, limit=limit)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    code = cli.main(
        ["train", "--config", str(path), "--data-dir", str(root), "--limit", str(limit), "-q"]
    )
    out = capsys.readouterr().out
    assert code == 0
    printed = re.search(r"test accuracy ([\d.]+)% \((\d+)/(\d+)\)", out)
    assert printed, out
    accuracy = result.metrics["test"]["accuracy"]
    assert printed.group(1) == f"{100 * accuracy:.2f}"
    n = result.report["n_samples"]
    assert (int(printed.group(2)), int(printed.group(3))) == (round(accuracy * n), n)
    assert accuracy > 0.5  # per-sample SGD at lr 0.1 on raw pixels: learns, noisily
