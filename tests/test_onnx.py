"""ONNX export (gnet.onnx, Network.to_onnx, gnet export), checked against ONNX Runtime.

Every exported network runs in a real ONNX Runtime session (one thread) on
2,000 MNIST test images: its labels must equal gnet's and its probabilities
agree within 1e-5 (float32) or 1e-9 (float64: ONNX Runtime's float64
Sigmoid differs from an exact one by ~2e-10); onnx.checker (full check)
passes on every file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datapaths import REPO, data_dir
from near_ties import assert_same_predictions

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import gnet  # noqa: E402
from gnet import cli  # noqa: E402
from gnet.layers import Layer  # noqa: E402
from gnet.network import Network  # noqa: E402
from gnet.onnx import OPSET, ExportError  # noqa: E402
from gnet.optim import SGD, Adam  # noqa: E402
from gnet.optional import MissingModule  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures"
N_TEST = 2000
ACTIVATIONS = ["sigmoid", "relu", "leaky_relu", "tanh", "softmax", "identity"]

# The README's example (DESIGN "Model file": gnet export), run as written.
README_EXAMPLE = """\
import json
import numpy as np
import onnxruntime as ort
from PIL import Image

session = ort.InferenceSession("model.onnx")
names = json.loads(session.get_modelmeta().custom_metadata_map["class_names"])
shape = [1, *session.get_inputs()[0].shape[1:]]   # (1, 784), or (1, 28, 28, 1) for a CNN
pixels = np.asarray(Image.open("digit.png").convert("L"), np.float32) / 255
proba, label = session.run(None, {"image": pixels.reshape(shape)})
print(names[label[0]], f"{proba[0, label[0]]:.1%}")
"""


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def data(mnist):
    """(train X, train y), (2,000 test X, their y)."""
    (Xtr, ytr), (Xte, yte) = mnist
    return (Xtr, ytr), (Xte[:N_TEST], yte[:N_TEST])


def session(path: Path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(path: Path, net: Network, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ONNX Runtime's (probabilities, label) for host rows X, fed as gnet is fed."""
    dtype = np.float64 if net.dtype_name == "float64" else np.float32
    image = X.astype(dtype).reshape(-1, *net.input_shape)
    proba, label = session(path).run(["probabilities", "label"], {"image": image})
    return proba, label


def assert_matches(net: Network, path: Path, X: np.ndarray) -> None:
    """The file passes the checker and ONNX Runtime agrees with ``net`` on X."""
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    proba, label = run_onnx(path, net, X)
    expected = gnet.to_numpy(net.predict_proba(X))
    assert label.dtype == np.int64
    assert proba.dtype == expected.dtype
    np.testing.assert_array_equal(label, expected.argmax(axis=1))  # what net.predict returns
    tolerance = 1e-9 if net.dtype_name == "float64" else 1e-5
    np.testing.assert_allclose(proba, expected, rtol=0, atol=tolerance)


def export_cli(capsys, model: Path, out: Path) -> tuple[int, str, str]:
    code = cli.main(["export", str(model), str(out)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, status: int = 2) -> str:
    assert code == status
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gnet: error: "), err
    return lines[0]


def no_leftovers(folder: Path) -> list[str]:
    """Files an export may have left in ``folder`` (temporary or .onnx)."""
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".onnx", ".tmp"))


def train(net: Network, data, n: int = 3000, optimizer=None, batch_size: int = 64) -> Network:
    (Xtr, ytr), _ = data
    net.fit(
        Xtr[:n],
        ytr[:n],
        epochs=1,
        batch_size=batch_size,
        optimizer=optimizer or SGD(learning_rate=0.05, momentum=0.9),
    )
    return net


# ---------------------------------------------------------------- multilayer perceptrons


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_of_every_activation(activation, data, tmp_path):
    (Xtr, _), (Xte, _) = data
    mean, std = float(Xtr.mean()), float(Xtr.std())
    net = Network(
        [784, 48, 10],
        [activation, "softmax"],
        seed=1,
        input_mean=mean,
        input_std=std,
        leaky_relu_alpha=0.2,
    )
    train(net, data)
    net.to_onnx(tmp_path / "m.onnx")
    assert_matches(net, tmp_path / "m.onnx", Xte)


def test_mlp_with_every_output_activation_and_mse(data, tmp_path):
    _, (Xte, _) = data
    for out in ["sigmoid", "tanh", "leaky_relu", "identity", "relu"]:
        net = Network([784, 32, 24, 10], ["tanh", "leaky_relu", out], loss="mse", seed=2)
        train(net, data, n=1000, optimizer=SGD(learning_rate=0.01))
        net.to_onnx(tmp_path / f"{out}.onnx")
        assert_matches(net, tmp_path / f"{out}.onnx", Xte)


def test_default_recipe_through_the_command_line(data, tmp_path, capsys):
    """configs/default.json (784-256-10 relu/softmax, normalised inputs), one
    epoch on 6,000 images, saved by gnet.run and exported by gnet export."""
    _, (Xte, _) = data
    model = tmp_path / "default.safetensors"
    result = gnet.run(
        REPO / "configs" / "default.json",
        device="cpu",
        data_dir=data_dir(),
        download=False,
        limit=(6000, N_TEST),
        epochs=1,
        out=model,
    )
    assert result.network.input_std != 1.0  # the normalisation is part of the graph
    code, out, err = export_cli(capsys, model, tmp_path / "default.onnx")
    assert code == 0, err
    assert out.startswith(f"wrote {tmp_path / 'default.onnx'} (") and f"opset {OPSET}" in out
    net = gnet.load(model, device="cpu")
    assert_matches(net, tmp_path / "default.onnx", Xte)
    assert no_leftovers(tmp_path) == ["default.onnx"]


def test_dropconnect_and_dropout_are_identities(data, tmp_path):
    _, (Xte, _) = data
    net = Network([784, 64, 32, 10], ["relu", "relu", "softmax"], dropout=0.3, dropconnect=0.5)
    train(net, data)
    assert any(getattr(layer, "dropconnect", 0) for layer in net.layers)
    net.to_onnx(tmp_path / "dc.onnx")
    model = onnx.load(str(tmp_path / "dc.onnx"))
    assert "Dropout" not in {node.op_type for node in model.graph.node}
    assert_matches(net, tmp_path / "dc.onnx", Xte)


def test_float64_model(data, tmp_path):
    (Xtr, _), (Xte, _) = data
    net = Network(
        [784, 64, 32, 10],
        ["leaky_relu", "sigmoid", "softmax"],
        dtype="float64",
        input_mean=float(Xtr.mean()),
        input_std=float(Xtr.std()),
    )
    train(net, data)
    net.to_onnx(tmp_path / "f64.onnx")
    model = onnx.load(str(tmp_path / "f64.onnx"))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert_matches(net, tmp_path / "f64.onnx", Xte)


# ---------------------------------------------------------------- convolutional networks

CNNS = {
    # Keras's mnist_convnet in small, with batch norm after a conv and both poolings.
    "conv-batchnorm-max-avg": [
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "activation": "relu"},
        {"type": "batchnorm"},
        {"type": "maxpool2d", "pool_size": 2},
        {"type": "conv2d", "filters": 12, "kernel_size": 3, "activation": "relu"},
        {"type": "avgpool2d", "pool_size": 2},
        {"type": "flatten"},
        {"type": "dropout", "rate": 0.5},
        {"type": "dense", "units": 10, "activation": "softmax"},
    ],
    # 'same' padding with the odd pixel at the bottom / right, stride 2, a
    # non-square kernel, overlapping pools, global pooling, batch norm on flat rows.
    "same-stride2-global": [
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "strides": 2, "padding": "same",
         "activation": "leaky_relu", "alpha": 0.1},
        {"type": "conv2d", "filters": 8, "kernel_size": [2, 3], "padding": "same",
         "activation": "tanh"},
        {"type": "batchnorm"},
        {"type": "maxpool2d", "pool_size": 3, "strides": 1},
        {"type": "conv2d", "filters": 12, "kernel_size": 4, "strides": 2, "padding": "same",
         "activation": "sigmoid"},
        {"type": "avgpool2d", "pool_size": 2, "strides": 1},
        {"type": "global_avgpool2d"},
        {"type": "dense", "units": 16, "activation": "relu"},
        {"type": "batchnorm"},
        {"type": "dense", "units": 10, "activation": "softmax"},
    ],
    # Images flattened straight away (NHWC order, no convolution at all).
    "flatten-first": [
        {"type": "flatten"},
        {"type": "dense", "units": 32, "activation": "relu"},
        {"type": "dense", "units": 10, "activation": "softmax"},
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", list(CNNS))
def test_convolutional_models(name, data, tmp_path):
    (Xtr, _), (Xte, _) = data
    net = Network(
        CNNS[name],
        input_shape=(28, 28, 1),
        init="glorot",
        seed=3,
        input_mean=float(Xtr.mean()),
        input_std=float(Xtr.std()),
    )
    train(net, data, n=1200, optimizer=Adam(learning_rate=2e-3), batch_size=100)
    rng = np.random.default_rng(0)
    for layer in net.layers:  # batch norm statistics far from their start
        if layer.type == "batchnorm":
            C = tuple(layer.state["running_mean"].shape)
            layer.state["running_mean"] = layer.state["running_mean"] + rng.normal(0, 0.3, C)
            layer.state["running_var"] = layer.state["running_var"] * rng.uniform(0.5, 2.0, C)
            layer.params["gamma"] = layer.params["gamma"] * rng.uniform(0.5, 1.5, C)
            for key in ("running_mean", "running_var"):
                layer.state[key] = layer.state[key].astype(np.float32)
            layer.params["gamma"] = layer.params["gamma"].astype(np.float32)
    net.to_onnx(tmp_path / "cnn.onnx")
    graph = onnx.load(str(tmp_path / "cnn.onnx")).graph
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [28, 28, 1]
    assert_matches(net, tmp_path / "cnn.onnx", Xte)


def test_same_padding_puts_the_odd_pixel_bottom_right(tmp_path):
    net = Network(
        [{"type": "conv2d", "filters": 2, "kernel_size": 4, "strides": 2, "padding": "same"},
         {"type": "flatten"}, {"type": "dense", "units": 3}],
        input_shape=(7, 7, 1),
    )  # fmt: skip
    model = net.to_onnx(tmp_path / "pads.onnx")
    conv = next(node for node in model.graph.node if node.op_type == "Conv")
    pads = next(a for a in conv.attribute if a.name == "pads").ints
    assert list(pads) == [1, 1, 2, 2]  # top, left, bottom, right: total (4 - 1) * 2 + 4 - 7 = 3


def test_softmax_of_a_conv_layer_acts_over_its_filters(data, tmp_path):
    _, (Xte, _) = data
    net = Network(
        [{"type": "batchnorm"},
         {"type": "conv2d", "filters": 5, "kernel_size": 5, "strides": 2, "activation": "softmax"},
         {"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}],
        input_shape=(28, 28, 1), seed=4,
    )  # fmt: skip
    net.layers[0].state["running_var"] = net.layers[0].state["running_var"] * np.float32(0.1)
    net.to_onnx(tmp_path / "sm.onnx")
    assert_matches(net, tmp_path / "sm.onnx", Xte)


def test_float64_convolutional_model(data, tmp_path):
    """ONNX Runtime's CPU provider has no float64 Conv or AveragePool kernel; a
    float64 model with max pooling, batch norm and global pooling runs there,
    a float64 conv model is still a valid ONNX file, and exported as float32
    it runs in ONNX Runtime too."""
    _, (Xte, _) = data
    net = Network(
        [{"type": "batchnorm"}, {"type": "maxpool2d", "pool_size": 2},
         {"type": "global_avgpool2d"}, {"type": "dense", "units": 10, "activation": "softmax"}],
        input_shape=(28, 28, 1), dtype="float64",
    )  # fmt: skip
    net.layers[0].state["running_mean"] = net.layers[0].state["running_mean"] + 0.2
    net.to_onnx(tmp_path / "pool64.onnx")
    assert_matches(net, tmp_path / "pool64.onnx", Xte)
    conv = Network(CNNS["conv-batchnorm-max-avg"], input_shape=(28, 28, 1), dtype="float64")
    model = conv.to_onnx(tmp_path / "conv64.onnx")
    onnx.checker.check_model(onnx.load(str(tmp_path / "conv64.onnx")), full_check=True)
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    conv.to_onnx(tmp_path / "conv32.onnx", dtype="float32")
    proba, label = session(tmp_path / "conv32.onnx").run(
        None, {"image": Xte.reshape(-1, 28, 28, 1)}
    )
    expected = gnet.to_numpy(conv.predict_proba(Xte))
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-5)
    assert_same_predictions(expected, label, near_tie=1e-5)  # float32 rounding may flip a tie
    with pytest.raises(ExportError, match="dtype 'float16'"):
        conv.to_onnx(tmp_path / "conv16.onnx", dtype="float16")


# ---------------------------------------------------------------- the file itself


def test_inputs_outputs_metadata_and_dynamic_batch(tmp_path):
    names = ["zero", "one", "two"]
    net = Network([12, 5, 3], ["relu", "softmax"], class_names=names, input_mean=0.5, input_std=2)
    model = net.to_onnx(tmp_path / "m.onnx")
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [OPSET]
    assert model.ir_version == 8 and model.producer_name == "gnet"
    assert [i.name for i in model.graph.input] == ["image"]
    assert [o.name for o in model.graph.output] == ["probabilities", "label"]
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["class_names"]) == names
    meta = json.loads(props["gnet"])
    assert meta["spec"] == net.spec() and meta["normalization"] == {"mean": 0.5, "std": 2.0}
    assert session(tmp_path / "m.onnx").get_modelmeta().custom_metadata_map["class_names"]
    X = np.random.default_rng(0).random((7, 12), dtype=np.float32)
    for rows in (1, 7):  # any batch size
        proba, label = run_onnx(tmp_path / "m.onnx", net, X[:rows])
        assert proba.shape == (rows, 3) and label.shape == (rows,)
        np.testing.assert_allclose(proba, gnet.to_numpy(net.predict_proba(X[:rows])), atol=1e-6)


@pytest.mark.parametrize(
    "fixture",
    [
        "format1-mlp-relu-softmax.safetensors",
        "format1-mlp-dropout-dropconnect.safetensors",
        "format1-mlp-sigmoid-mse-f64.safetensors",
    ],
)
def test_format1_model_files_export(fixture, data, tmp_path, capsys):
    _, (Xte, _) = data
    code, _, err = export_cli(capsys, FIXTURES / fixture, tmp_path / "f1.onnx")
    assert code == 0, err
    net = gnet.load(FIXTURES / fixture, device="cpu")
    assert_matches(net, tmp_path / "f1.onnx", Xte)
    inputs = np.load(FIXTURES / "format1-inputs.npy")
    assert_matches(net, tmp_path / "f1.onnx", inputs.reshape(len(inputs), -1))


def test_readme_example_runs_without_gnet(data, tmp_path, capsys):
    """The README's ten lines classify a PNG written by gnet images, with gnet unimportable."""
    model = FIXTURES / "format1-mlp-relu-softmax.safetensors"
    assert export_cli(capsys, model, tmp_path / "model.onnx")[0] == 0
    code = cli.main(
        ["images", str(model), "--count", "1", "--out", str(tmp_path / "png"),
         "--data-dir", str(data_dir()), "--no-download", "--device", "cpu"]
    )  # fmt: skip
    assert code == 0
    png = next((tmp_path / "png").glob("*.png"))
    (tmp_path / "digit.png").write_bytes(png.read_bytes())
    predicted = png.stem.split("-pred-")[1]
    done = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['gnet'] = None\n" + README_EXAMPLE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == predicted


# ---------------------------------------------------------------- errors


def test_corrupt_model_file_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    code, _, err = export_cli(capsys, bad, tmp_path / "out.onnx")
    assert str(bad) in assert_one_line_error(code, err)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes((FIXTURES / "format1-mlp-relu-softmax.safetensors").read_bytes()[:5000])
    code, _, err = export_cli(capsys, truncated, tmp_path / "out.onnx")
    assert str(truncated) in assert_one_line_error(code, err)
    assert no_leftovers(tmp_path) == []


def test_unwritable_output_path_is_one_line_exit_2(tmp_path, capsys):
    model = FIXTURES / "format1-mlp-relu-softmax.safetensors"
    missing = tmp_path / "no" / "such" / "folder" / "m.onnx"
    code, _, err = export_cli(capsys, model, missing)
    assert "cannot write the ONNX file" in assert_one_line_error(code, err)
    folder = tmp_path / "taken.onnx"  # a directory where the file should go
    folder.mkdir()
    code, _, err = export_cli(capsys, model, folder)
    assert str(folder) in assert_one_line_error(code, err)
    assert folder.is_dir() and list(folder.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name != "taken.onnx"] == []
    if os.geteuid() != 0:  # root writes into read-only folders
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, _, err = export_cli(capsys, model, locked / "m.onnx")
        assert_one_line_error(code, err)
        assert list(locked.iterdir()) == []


class Custom(Layer):
    type = "custom"

    def forward(self, X, ctx):
        return X


def test_a_layer_onnx_cannot_express_is_named(tmp_path, capsys, monkeypatch):
    net = Network([784, 16, 10], ["relu", "softmax"])
    net.layers.insert(1, Custom())
    with pytest.raises(ExportError, match=r"layers\[1\] \(custom\)"):
        net.to_onnx(tmp_path / "x.onnx")
    (tmp_path / "old.onnx").write_bytes(b"previous export")
    monkeypatch.setattr("gnet.io.load_model", lambda path, device=None: net)
    code, _, err = export_cli(capsys, tmp_path / "model.safetensors", tmp_path / "old.onnx")
    assert "layers[1] (custom)" in assert_one_line_error(code, err)
    assert (tmp_path / "old.onnx").read_bytes() == b"previous export"  # left as it was
    assert no_leftovers(tmp_path) == ["old.onnx"]


def test_without_onnx_export_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    model = FIXTURES / "format1-mlp-relu-softmax.safetensors"
    code, _, err = export_cli(capsys, model, tmp_path / "m.onnx")
    assert "pip install 'gnet[onnx]'" in assert_one_line_error(code, err, status=1)
    with pytest.raises(MissingModule, match=r"gnet\[onnx\]"):
        gnet.load(model, device="cpu").to_onnx(tmp_path / "m.onnx")
    assert no_leftovers(tmp_path) == []
