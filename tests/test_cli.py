"""The command line, run in-process through ``gnet.cli.main(argv)`` (fast).

Most runs use a small synthetic data set written as IDX files (learnable:
each class lights its own band of rows), so training takes a fraction of a
second; the end-to-end runs on real MNIST live in test_cli_e2e.py.

Every bad input expects exit status 2 and one plain ``gnet: error:`` line on
stderr naming the file, key or value at fault, and no traceback.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import gnet
import gnet.optional
from gnet import cli
from gnet.backend import cuda_available
from gnet.config import DEFAULTS

SEED_001 = (
    '{"layers": [784, 200, 10], "activations": ["Sigmoid", "Softmax"], '
    '"learning_rate": 0.01, "epochs": 30}'
)


# ------------------------------------------------------------------ helpers


def write_idx(path: Path, array: np.ndarray, magic: bytes | None = None) -> Path:
    array = np.asarray(array, dtype=np.uint8)
    header = (magic or bytes([0, 0, 0x08, array.ndim])) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    path.write_bytes(header + array.tobytes())
    return path


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 28, 28) uint8 whose class k lights rows 2k+4..2k+6, plus noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    rng.shuffle(y)
    X = rng.integers(0, 60, size=(n, 28, 28))
    for i, k in enumerate(y):
        X[i, 2 * k + 4 : 2 * k + 7, 4:24] = rng.integers(180, 256, size=(3, 20))
    return X.astype(np.uint8), y.astype(np.uint8)


def make_dataset(root: Path, name: str = "mnist", n_train: int = 400, n_test: int = 100) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        X, y = synthetic(n, seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", X)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y)
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(err: str) -> str:
    """The one ``gnet: error:`` line of stderr (warnings may come before it)."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("gnet: error:")]
    assert len(lines) == 1, err
    return lines[0]


def expect_usage_error(capsys, *argv: str, fragments: tuple[str, ...] = ()) -> str:
    code, _, err = run(capsys, *argv)
    assert code == 2, err
    line = error_line(err)
    for fragment in fragments:
        assert fragment in line, line
    return line


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, data_root) -> Path:
    """A model trained by the CLI on the synthetic set (a few epochs)."""
    path = tmp_path_factory.mktemp("model") / "model.safetensors"
    code = cli.main(
        [
            "train",
            "--data-dir",
            str(data_root),
            "--no-download",
            "--layers",
            "784,32,10",
            "--epochs",
            "4",
            "--batch-size",
            "32",
            "--out",
            str(path),
            "--quiet",
        ]
    )
    assert code == 0
    return path


def train_args(data_root: Path, *more: str) -> list[str]:
    return [
        "train",
        "--data-dir",
        str(data_root),
        "--no-download",
        "--layers",
        "784,32,10",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        *more,
    ]


# ------------------------------------------------------------------ basics


def test_no_command_is_a_usage_error(capsys):
    code, _, err = run(capsys)
    assert code == 2
    assert "a command is required" in error_line(err)


def test_help_and_version(capsys):
    assert run(capsys, "--help")[0] == 0
    code, out, _ = run(capsys, "--version")
    assert code == 0 and gnet.__version__ in out
    code, out, _ = run(capsys, "train", "--help")
    assert code == 0 and "--checkpoint-dir" in out


def test_module_entry_point_exits_with_status():
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "gnet", "train", "--optimizer", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "invalid choice: 'nope'" in done.stderr
    assert "Traceback" not in done.stderr


def test_info(capsys):
    code, out, err = run(capsys, "info")
    assert code == 0, err
    assert f"gnet {gnet.__version__}" in out
    assert "numpy" in out and "backends:" in out and "GPUs:" in out


# ------------------------------------------------------------------ train


def test_train_prints_tables_and_writes_model_and_metrics(capsys, tmp_path, data_root):
    model = tmp_path / "m.safetensors"
    metrics = tmp_path / "metrics.json"
    code, out, err = run(
        capsys,
        *train_args(data_root, "--out", model, "--metrics-json", metrics),
        "--validation-split",
        "0.25",
    )
    assert code == 0, err
    assert "epoch 1/2" in out and "epoch 2/2" in out and "val_accuracy" in out
    assert "Confusion Matrix:" in out and "Per-digit Metrics:" in out
    assert "Overall Accuracy:" in out
    assert out.strip().splitlines()[-1].startswith("test accuracy ")

    payload = json.loads(metrics.read_text())
    assert set(payload) == {"gnet_version", "backend", "device", "dtype", "config", "train", "test"}
    assert (payload["backend"], payload["device"], payload["dtype"]) == ("numpy", "cpu", "float32")
    assert set(payload["config"]) == set(DEFAULTS)
    assert payload["config"]["layers"] == [784, 32, 10]
    train = payload["train"]
    assert set(train) == {"seconds", "samples_per_second", "epochs"}
    assert [e["epoch"] for e in train["epochs"]] == [1, 2]
    assert set(train["epochs"][0]) == {
        "epoch",
        "seconds",
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
    }
    test = payload["test"]
    assert set(test) == {
        "accuracy",
        "loss",
        "confusion_matrix",
        "per_class",
        "macro_f1",
        "references",
    }
    assert sum(map(sum, test["confusion_matrix"])) == 100
    assert set(test["per_class"][0]) == {
        "label",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "support",
    }
    assert test["accuracy"] > 0.9  # the synthetic classes are easy

    net = gnet.load(model)
    assert net.sizes == [784, 32, 10]
    assert net.metadata["dataset"] == "mnist"
    assert net.metadata["test"]["accuracy"] == test["accuracy"]
    assert net.metadata["test"]["confusion_matrix"] == test["confusion_matrix"]
    assert net.metadata["train_config"] == payload["config"]


def test_quiet_prints_only_the_final_line(capsys, data_root):
    code, out, err = run(capsys, *train_args(data_root, "--quiet"))
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("test accuracy ")


def test_output_that_is_not_a_terminal_gets_no_bars(capsys, data_root):
    code, out, _ = run(capsys, *train_args(data_root))
    assert code == 0
    assert "\x1b[" not in out and "━" not in out


def test_normalize_stores_the_training_statistics(tmp_path, capsys, data_root):
    model = tmp_path / "n.safetensors"
    code, _, err = run(capsys, *train_args(data_root, "--normalize", "--out", model, "-q"))
    assert code == 0, err
    net = gnet.load(model)
    X = np.fromfile(data_root / "mnist" / "train-images-idx3-ubyte", np.uint8)[16:] / 255.0
    assert net.input_mean == pytest.approx(X.mean(), rel=1e-6)
    assert net.input_std == pytest.approx(X.std(), rel=1e-6)


def test_seed_001_config_byte_for_byte(tmp_path, capsys, data_root):
    config = tmp_path / "seed001.json"
    config.write_text(SEED_001)
    assert config.read_bytes() == SEED_001.encode()
    metrics = tmp_path / "m.json"
    code, _, err = run(
        capsys,
        "train",
        "--config",
        config,
        "--data-dir",
        data_root,
        "--no-download",
        "--epochs",
        "1",
        "--limit",
        "200",
        "--metrics-json",
        metrics,
        "-q",
    )
    assert code == 0, err
    resolved = json.loads(metrics.read_text())["config"]
    assert resolved["layers"] == [784, 200, 10]
    assert resolved["activations"] == ["sigmoid", "softmax"]
    assert resolved["learning_rate"] == 0.01
    assert (resolved["mode"], resolved["batch_size"], resolved["momentum"]) == (
        "per-sample",
        1,
        0.0,
    )
    assert resolved["normalize"] is False


def test_flags_override_the_config_file(tmp_path, capsys, data_root):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"layers": [784, 16, 10], "activations": ["relu", "softmax"]}))
    metrics = tmp_path / "m.json"
    code, _, err = run(
        capsys,
        *train_args(data_root, "--config", config, "--metrics-json", metrics, "-q"),
        "--learning-rate",
        "0.05",
    )
    assert code == 0, err
    resolved = json.loads(metrics.read_text())["config"]
    assert resolved["layers"] == [784, 32, 10]  # the flag wins
    assert resolved["learning_rate"] == 0.05
    assert (resolved["mode"], resolved["batch_size"]) == ("mini-batch", 32)


def test_device_auto_says_what_it_took(capsys, data_root):
    code, out, err = run(capsys, *train_args(data_root, "--device", "auto", "--epochs", "1"))
    assert code == 0, err
    expected = "cuda" if cuda_available() else "cpu"
    assert f"device auto: using {expected}" in out


def test_gnet_device_environment_is_the_default(capsys, monkeypatch, data_root, tmp_path):
    monkeypatch.setenv("GNET_DEVICE", "strict")
    metrics = tmp_path / "m.json"
    code, _, err = run(capsys, *train_args(data_root, "--epochs", "1", "--metrics-json", metrics))
    assert code == 0, err
    assert json.loads(metrics.read_text())["backend"] == "strict"


def test_divergence_is_one_line_exit_1_and_no_model(tmp_path, capsys, data_root):
    model = tmp_path / "m.safetensors"
    code, _, err = run(capsys, *train_args(data_root, "--learning-rate", "1e30", "--out", model))
    assert code == 1
    assert "training diverged" in error_line(err)
    assert not model.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left either


def test_plot_without_the_plots_module_is_one_line_exit_1(tmp_path, capsys, monkeypatch, data_root):
    real = cli.importlib.util.find_spec
    monkeypatch.setattr(
        cli.importlib.util, "find_spec", lambda name: None if name == "gnet.plots" else real(name)
    )
    code, _, err = run(capsys, *train_args(data_root, "--plot", tmp_path / "plots"))
    assert code == 1
    assert "gnet.plots is missing" in error_line(err)


def test_plot_calls_the_plots_module(tmp_path, capsys, monkeypatch, data_root):
    calls = {}

    class FakePlots:
        @staticmethod
        def save_training_plots(history, out_dir):
            calls["training"] = (len(history.epochs), len(history.batch_losses), Path(out_dir))
            return [Path(out_dir) / "training.png"]

        @staticmethod
        def save_evaluation_plots(net, X_test, y_test, report, out_dir):
            calls["evaluation"] = (X_test.shape, report["accuracy"])
            return [Path(out_dir) / "confusion_matrix.png"]

    monkeypatch.setattr(gnet.optional, "require", lambda module, feature: FakePlots)
    code, out, err = run(capsys, *train_args(data_root, "--plot", tmp_path / "plots"))
    assert code == 0, err
    assert calls["training"] == (2, 2, tmp_path / "plots")
    assert calls["evaluation"][0] == (100, 784)
    assert "training.png" in out


# -------------------------------------------------------------- evaluate


def test_evaluate_prints_tables_and_metrics_without_train(tmp_path, capsys, model_path, data_root):
    metrics = tmp_path / "e.json"
    code, out, err = run(
        capsys,
        "evaluate",
        model_path,
        "--data-dir",
        data_root,
        "--no-download",
        "--metrics-json",
        metrics,
        "--misclassified",
        "2",
    )
    assert code == 0, err
    assert "Confusion Matrix:" in out and "Per-digit Metrics:" in out
    payload = json.loads(metrics.read_text())
    assert "train" not in payload
    assert set(payload) == {"gnet_version", "backend", "device", "dtype", "config", "test"}
    assert payload["test"]["accuracy"] == gnet.load(model_path).metadata["test"]["accuracy"]
    assert out.strip().splitlines()[-1].startswith("test accuracy")


def test_evaluate_misclassified_shows_ascii_digits(capsys, model_path, data_root, tmp_path):
    # a model that knows nothing makes plenty of mistakes
    untrained = tmp_path / "u.safetensors"
    gnet.Network([784, 8, 10], ["relu", "softmax"], seed=3).save(untrained, dataset="mnist")
    code, out, err = run(
        capsys,
        "evaluate",
        untrained,
        "--data-dir",
        data_root,
        "--no-download",
        "--misclassified",
        "3",
    )
    assert code == 0, err
    assert "The 3 most confident mistakes:" in out
    assert out.count(" true ") == 3 and "->" in out
    assert "@@" in out  # the bright band of a synthetic digit


def test_evaluate_sixel(capsys, data_root, tmp_path):
    untrained = tmp_path / "u.safetensors"
    gnet.Network([784, 8, 10], ["relu", "softmax"], seed=3).save(untrained)
    code, out, err = run(
        capsys,
        "evaluate",
        untrained,
        "--data-dir",
        data_root,
        "--no-download",
        "--misclassified",
        "1",
        "--sixel",
    )
    assert code == 0, err
    assert "\x1bPq" in out and "\x1b\\" in out


def test_evaluate_on_another_backend(capsys, model_path, data_root):
    code, out, err = run(
        capsys,
        "evaluate",
        model_path,
        "--device",
        "strict",
        "--data-dir",
        data_root,
        "--no-download",
    )
    assert code == 0, err
    accuracy = gnet.load(model_path).metadata["test"]["accuracy"]
    assert f"test accuracy {100 * accuracy:.2f}%" in out


def test_evaluate_plot_calls_the_plots_module(tmp_path, capsys, monkeypatch, model_path, data_root):
    calls = []

    class FakePlots:
        @staticmethod
        def save_evaluation_plots(net, X_test, y_test, report, out_dir):
            calls.append(Path(out_dir))
            return [Path(out_dir) / "confusion_matrix.png"]

    monkeypatch.setattr(gnet.optional, "require", lambda module, feature: FakePlots)
    code, _, err = run(
        capsys,
        "evaluate",
        model_path,
        "--data-dir",
        data_root,
        "--no-download",
        "--plot",
        tmp_path / "p",
    )
    assert code == 0, err
    assert calls == [tmp_path / "p"]


# ----------------------------------------------------------- predict, images


def test_predict_top_k_and_show(tmp_path, capsys, model_path, data_root):
    from PIL import Image

    X, y = synthetic(3, seed=2)
    paths = []
    for i in range(3):
        # dark ink on white paper, four times the size: predict inverts and centres it
        img = Image.fromarray(255 - X[i]).resize((112, 112))
        paths.append(tmp_path / f"digit{i}.png")
        img.save(paths[-1])
    code, out, err = run(capsys, "predict", model_path, *paths, "--top", "2", "--show")
    assert code == 0, err
    for path in paths:
        assert f"{path}: " in out
    assert len(re.findall(r"^  \S+ +\d+\.\d\d%$", out, flags=re.M)) == 6
    assert "@@" in out  # the ASCII picture


def test_images_writes_named_pngs(tmp_path, capsys, model_path, data_root):
    from PIL import Image

    folder = tmp_path / "png"
    code, out, err = run(
        capsys,
        "images",
        model_path,
        "--data-dir",
        data_root,
        "--no-download",
        "--count",
        "5",
        "--out",
        folder,
    )
    assert code == 0, err
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 5
    _, y = synthetic(100, seed=2)
    for i, name in enumerate(names):
        assert name.startswith(f"test-{i:05d}-true-{y[i]}-pred-")
        assert Image.open(folder / name).size == (28, 28)
    assert "wrote 5 PNGs" in out


# ------------------------------------------------------------------- demo


def test_demo_without_the_demo_module_is_one_line_exit_1(capsys, monkeypatch, model_path):
    real = cli.importlib.util.find_spec
    monkeypatch.setattr(
        cli.importlib.util, "find_spec", lambda name: None if name == "gnet.demo" else real(name)
    )
    code, _, err = run(capsys, "demo", model_path)
    assert code == 1
    assert "gnet.demo is missing" in error_line(err)


def test_demo_calls_serve(capsys, monkeypatch, model_path):
    calls = []

    class FakeDemo:
        @staticmethod
        def serve(path, host, port, open_browser):
            calls.append((path, host, port, open_browser))

    monkeypatch.setattr(gnet.optional, "require", lambda module, feature: FakeDemo)
    assert run(capsys, "demo", model_path, "--port", "9001", "--open")[0] == 0
    assert calls == [(str(model_path), "127.0.0.1", 9001, True)]


# ============================================================== bad input


def write_config(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ({"learning_rat": 0.1}, ('unknown key "learning_rat"', 'did you mean "learning_rate"')),
        ({"epochs": "ten"}, ('epochs: expected an integer >= 1, got "ten"',)),
        ({"learning_rate": -1}, ("learning_rate: must be > 0, got -1",)),
        ({"layers": [784, 64, 32, 10]}, ("activations: 2 entries for 3 layer transitions",)),
        (
            {"layers": [784, 64, 10], "activations": ["relu", "relu", "softmax"]},
            ("activations: 3 entries for 2 layer transitions",),
        ),
        ({"activations": ["relu", "sofmax"]}, ('activations[1]: unknown "sofmax"',)),
        ({"optimizer": "adamw"}, ('optimizer: unknown "adamw"',)),
        ('{"layers": [784, 10],}', ("invalid JSON at line 1",)),
        ("[1, 2]", ("expected a JSON object",)),
    ],
)
def test_bad_config_file(tmp_path, capsys, content, fragments):
    path = write_config(tmp_path, content)
    expect_usage_error(capsys, "train", "--config", path, fragments=(str(path), *fragments))


def test_missing_config_file(tmp_path, capsys):
    path = tmp_path / "nope.json"
    expect_usage_error(capsys, "train", "--config", path, fragments=(f"{path}: not found",))


def test_config_file_lists_every_problem_on_one_line(tmp_path, capsys):
    path = write_config(tmp_path, {"epochs": 0, "momentum": 2, "colour": "red"})
    line = expect_usage_error(capsys, "train", "--config", path)
    assert "epochs" in line and "momentum" in line and '"colour"' in line


def test_bad_flag_combination_names_the_command_line(tmp_path, capsys):
    path = write_config(tmp_path, {"layers": [784, 64, 10]})
    expect_usage_error(
        capsys,
        "train",
        "--config",
        path,
        "--activations",
        "relu,relu,softmax",
        fragments=("command line:", "activations: 3 entries for 2 layer transitions"),
    )


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--optimizer", "adamw"], "invalid choice: 'adamw'"),
        (["--mode", "batchy"], "invalid choice: 'batchy'"),
        (["--dataset", "cifar"], "invalid choice: 'cifar'"),
        (["--epochs", "0"], "--epochs: expected an integer >= 1, got '0'"),
        (["--learning-rate", "fast"], "invalid float value: 'fast'"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_unknown_flag_values_are_usage_errors(capsys, argv, fragment):
    code, _, err = run(capsys, "train", *argv)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        (["--activations", "relu,bogus"], ('activations[1]: unknown "bogus"',)),
        (["--layers", "784,abc,10"], ("layers: expected a list", '"784,abc,10"')),
        (["--lr-schedule", "warmup"], ("lr_schedule", '"warmup"')),
        (["--batch-schedule", "shrink"], ("batch_schedule", '"shrink"')),
        (["--momentum", "1.5"], ("momentum: must be in [0, 1), got 1.5",)),
        (["--device", "tpu"], ("--device tpu", "expected one of")),
    ],
)
def test_bad_flag_values_name_the_value(capsys, argv, fragments):
    expect_usage_error(capsys, "train", *argv, fragments=fragments)


@pytest.mark.skipif(cuda_available(), reason="a GPU with CuPy is present here")
def test_device_cuda_without_cupy_or_gpu(capsys, tmp_path):
    expect_usage_error(capsys, "train", "--device", "cuda", fragments=("--device cuda",))
    expect_usage_error(
        capsys,
        "evaluate",
        tmp_path / "m.safetensors",
        "--device",
        "cuda:1",
        fragments=("--device cuda:1",),
    )


def test_bad_gnet_device_environment(capsys, monkeypatch):
    monkeypatch.setenv("GNET_DEVICE", "quantum")
    expect_usage_error(capsys, "train", fragments=("$GNET_DEVICE quantum",))


# ------------------------------------------------------- unwritable outputs


def test_unwritable_out_fails_before_training(tmp_path, capsys, data_root):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    for out, fragment in (
        (blocker / "model.safetensors", "is not a folder"),
        (tmp_path / "missing" / "model.safetensors", "does not exist"),
        (tmp_path, "is a directory"),
    ):
        code, stdout, err = run(capsys, *train_args(data_root, "--out", out))
        assert code == 2
        line = error_line(err)
        assert f"--out {out}" in line and fragment in line
        assert "epoch" not in stdout  # failed fast, before training


@pytest.mark.skipif(
    sys.platform == "win32" or __import__("os").geteuid() == 0, reason="root writes anywhere"
)
def test_read_only_out_folder(tmp_path, capsys, data_root):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        expect_usage_error(
            capsys, *train_args(data_root, "--out", folder / "m.safetensors"), fragments=("--out",)
        )
    finally:
        folder.chmod(0o700)


def test_unwritable_metrics_json_and_checkpoint_dir(tmp_path, capsys, data_root):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    expect_usage_error(
        capsys,
        *train_args(data_root, "--metrics-json", blocker / "m.json"),
        fragments=("--metrics-json",),
    )
    expect_usage_error(
        capsys,
        *train_args(data_root, "--checkpoint-dir", blocker),
        fragments=(f"--checkpoint-dir {blocker}", "not a folder"),
    )


# -------------------------------------------------------- broken data sets


@pytest.fixture
def broken_root(tmp_path) -> Path:
    return make_dataset(tmp_path / "data", n_train=60, n_test=20)


def _evaluate_on(capsys, model_path, root, *fragments):
    return expect_usage_error(
        capsys,
        "evaluate",
        model_path,
        "--data-dir",
        root,
        "--no-download",
        fragments=fragments,
    )


def test_dataset_missing_file(capsys, model_path, broken_root):
    path = broken_root / "mnist" / "t10k-labels-idx1-ubyte"
    path.unlink()
    _evaluate_on(capsys, model_path, broken_root, "t10k-labels-idx1-ubyte", "not found")


def test_dataset_truncated_file(capsys, model_path, broken_root):
    path = broken_root / "mnist" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    _evaluate_on(capsys, model_path, broken_root, str(path), "truncated")


def test_dataset_wrong_magic(capsys, model_path, broken_root):
    path = broken_root / "mnist" / "t10k-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[0:4] = b"\x12\x34\x56\x78"
    path.write_bytes(bytes(data))
    _evaluate_on(capsys, model_path, broken_root, str(path), "not an IDX file", "0x12345678")


def test_dataset_mismatched_counts(capsys, model_path, broken_root):
    _, y = synthetic(19, seed=2)
    path = write_idx(broken_root / "mnist" / "t10k-labels-idx1-ubyte", y)
    _evaluate_on(capsys, model_path, broken_root, str(path), "19 labels", "20 images")


def test_dataset_corrupt_gzip(capsys, model_path, broken_root):
    folder = broken_root / "mnist"
    (folder / "train-images-idx3-ubyte").unlink()
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    expect_usage_error(
        capsys,
        *train_args(broken_root),
        fragments=(str(path), "corrupt gzip"),
    )


# ---------------------------------------------------------- broken models


def test_model_file_missing(capsys, tmp_path):
    path = tmp_path / "none.safetensors"
    expect_usage_error(capsys, "predict", path, tmp_path / "x.png", fragments=(str(path),))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "not a safetensors model file"),
        (b"this is a text file, not a model\n", "not a safetensors model file"),
        (bytes(range(256)) * 4, "not a safetensors model file"),
    ],
)
def test_model_file_not_safetensors(capsys, tmp_path, data_root, content, fragment):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    expect_usage_error(
        capsys,
        "evaluate",
        path,
        "--data-dir",
        data_root,
        "--no-download",
        fragments=(str(path), fragment),
    )


def test_model_file_truncated(capsys, tmp_path, model_path):
    path = tmp_path / "cut.safetensors"
    path.write_bytes(model_path.read_bytes()[:-1000])
    expect_usage_error(capsys, "predict", path, tmp_path / "x.png", fragments=(str(path),))


def test_model_without_gnet_metadata(capsys, tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"layers.0.weight": np.zeros((784, 10), np.float32)}, str(path))
    expect_usage_error(
        capsys, "predict", path, tmp_path / "x.png", fragments=(str(path), "without gnet metadata")
    )


def test_model_of_a_newer_format_version(capsys, tmp_path, model_path):
    from safetensors.numpy import load_file, save_file

    from gnet.io import read_model_file

    tensors, meta = read_model_file(model_path)
    meta["format_version"] = 99
    path = tmp_path / "future.safetensors"
    save_file(load_file(str(model_path)), str(path), metadata={"gnet": json.dumps(meta)})
    del tensors
    expect_usage_error(
        capsys,
        "evaluate",
        path,
        fragments=(str(path), "format version 99 is newer"),
    )


def test_model_that_does_not_fit_the_dataset(capsys, tmp_path, data_root):
    path = tmp_path / "small.safetensors"
    gnet.Network([100, 10], ["softmax"]).save(path)
    expect_usage_error(
        capsys,
        "evaluate",
        path,
        "--data-dir",
        data_root,
        "--no-download",
        fragments=(str(path), "100 inputs"),
    )


# ---------------------------------------------------------- broken images


def test_image_not_an_image(capsys, tmp_path, model_path):
    path = tmp_path / "notes.png"
    path.write_text("hello, I am text\n")
    expect_usage_error(capsys, "predict", model_path, path, fragments=(str(path),))


def test_image_empty_file(capsys, tmp_path, model_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    expect_usage_error(capsys, "predict", model_path, path, fragments=(str(path), "empty"))


def test_image_missing(capsys, tmp_path, model_path):
    path = tmp_path / "absent.png"
    expect_usage_error(capsys, "predict", model_path, path, fragments=(str(path), "no such file"))


# ------------------------------------------------------------------ debug


def test_debug_shows_the_traceback(capsys, tmp_path):
    path = write_config(tmp_path, {"epochs": "ten"})
    code, _, err = run(capsys, "train", "--config", path, "--debug")
    assert code == 2
    assert "Traceback" in err and "gnet: error:" in err


def test_unexpected_errors_are_one_line_exit_1(capsys, monkeypatch, model_path):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("gnet.io.load_model", boom)
    code, _, err = run(capsys, "predict", model_path, "x.png")
    assert code == 1
    line = error_line(err)
    assert "RuntimeError: disk on fire" in line


def test_augment_is_wired_to_the_augment_module(capsys, monkeypatch, data_root):
    calls = []

    class FakeAugment:
        @staticmethod
        def make_augment(spec, image_shape, seed):
            calls.append((spec, image_shape, seed))
            return lambda xp, X, epoch, batch: X

    monkeypatch.setattr(gnet.optional, "require", lambda module, feature: FakeAugment)
    code, _, err = run(capsys, *train_args(data_root, "--augment", "2", "--seed", "5", "-q"))
    assert code == 0, err
    assert calls == [(2, (28, 28), 5)]


def test_augment_without_the_augment_module_is_one_line_exit_1(capsys, monkeypatch, data_root):
    real = cli.importlib.util.find_spec
    monkeypatch.setattr(
        cli.importlib.util, "find_spec", lambda name: None if name == "gnet.augment" else real(name)
    )
    code, _, err = run(capsys, *train_args(data_root, "--augment", "2"))
    assert code == 1
    assert "gnet.augment is missing" in error_line(err)


def test_threads_limit_the_blas_pool_while_a_command_runs(capsys, monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return [
            i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
        ]

    before = blas_threads()
    seen = []
    monkeypatch.setattr(cli, "cmd_predict", lambda args, out: seen.append(blas_threads()) or 0)
    assert cli.main(["predict", "m.safetensors", "x.png", "--threads", "1"]) == 0
    assert seen and all(n == 1 for n in seen[0])
    assert blas_threads() == before  # restored afterwards

    monkeypatch.setenv("GNET_THREADS", "0")
    code, _, err = run(capsys, "predict", "m.safetensors", "x.png")
    assert code == 2 and "$GNET_THREADS '0'" in error_line(err)
