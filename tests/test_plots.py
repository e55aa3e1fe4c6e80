"""Plots rendered from a real short training run on MNIST, checked as PNG files.

No display is needed or used: a subprocess without $DISPLAY renders every
plot and must never import pyplot.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import gnet
from gnet import plots
from gnet.plots import DPI

N_TRAIN, BATCH, EPOCHS = 5000, 64, 2


@pytest.fixture(scope="module")
def run(mnist):
    """784-32-10 trained 2 epochs on 5,000 MNIST digits with batch losses and validation."""
    (X, y), (Xt, yt) = mnist
    net = gnet.Network([784, 32, 10], ["relu", "softmax"], seed=0)
    history = net.fit(
        X[:N_TRAIN],
        y[:N_TRAIN],
        epochs=EPOCHS,
        batch_size=BATCH,
        optimizer=gnet.optim.SGD(learning_rate=0.1, momentum=0.9),
        lr_schedule="step:1:0.5",
        validation_data=(X[-1000:], y[-1000:]),
        record_batches=True,
    )
    Xt, yt = Xt[:2000], yt[:2000]
    return net, history, Xt, yt, net.evaluate(Xt, yt)


def check_png(path, size):
    """A real PNG of the expected pixel size that is not blank."""
    assert path.exists() and path.suffix == ".png"
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size == size
        grey = np.asarray(im.convert("L"), dtype=np.float64)
    assert grey.std() > 10, f"{path.name} looks blank (std {grey.std():.2f})"
    # Ink covers a fair share of the image, not just a title on white.
    assert (grey < 200).mean() > 0.02


def fig_size(fig):
    w, h = fig.get_size_inches()
    return round(w * DPI), round(h * DPI)


def no_temp_files(folder):
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert leftovers == [], f"temporary files left behind: {leftovers}"


def test_training_plots(run, tmp_path):
    net, history, *_ = run
    assert len(history.batch_losses) == EPOCHS
    paths = plots.save_training_plots(history, tmp_path / "plots")
    assert [p.name for p in paths] == ["training.png"]
    fig = plots.training_figure(history)
    check_png(paths[0], fig_size(fig))
    no_temp_files(tmp_path / "plots")

    loss, acc, lr = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "Accuracy (%)", "Learning rate"]
    labels = [line.get_label() for line in loss.get_lines()]
    assert labels == ["batch", "batch (smoothed)", "epoch (train)", "validation"]
    raw, smoothed = loss.get_lines()[:2]
    batches = EPOCHS * -(-N_TRAIN // BATCH)
    assert len(raw.get_xdata()) == len(smoothed.get_xdata()) == batches
    np.testing.assert_allclose(raw.get_ydata(), np.concatenate(history.batch_losses))
    # Smoothing keeps the level but removes most of the batch-to-batch noise.
    assert np.std(np.diff(smoothed.get_ydata())) < 0.5 * np.std(np.diff(raw.get_ydata()))
    assert [line.get_label() for line in acc.get_lines()] == ["train", "validation"]
    np.testing.assert_allclose(acc.get_lines()[0].get_ydata(), [100 * a for a in history.accuracy])
    np.testing.assert_allclose(lr.get_lines()[0].get_ydata(), [0.1, 0.05])


def test_training_plots_without_batches_or_from_metrics_json(run, tmp_path):
    _, history, *_ = run
    epochs_only = {"epochs": [dict(e) for e in history.epochs]}  # the metrics JSON "train"
    fig = plots.training_figure(epochs_only)
    assert len(fig.axes) == 3
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["epoch (train)", "validation"]
    (path,) = plots.save_training_plots(epochs_only, tmp_path)
    check_png(path, fig_size(fig))
    with pytest.raises(ValueError, match="no epochs"):
        plots.training_figure({"epochs": []})


def test_training_plots_of_a_resumed_run(run):
    """Epochs 1-2 from a checkpoint (no batch losses), then epochs 3-4 with them."""
    _, history, *_ = run
    epochs = [dict(e, epoch=e["epoch"] + k) for k in (0, 2) for e in history.epochs]
    resumed = gnet.History(epochs=epochs, batch_losses=[[], [], *history.batch_losses])
    fig = plots.training_figure(resumed)
    raw = fig.axes[0].get_lines()[0]
    x = np.asarray(raw.get_xdata())
    per_epoch = len(history.batch_losses[0])
    assert x[0] == pytest.approx(2 + 1 / per_epoch) and x[-1] == pytest.approx(4.0)
    assert fig.axes[0].get_xlim()[0] == 0


def test_evaluation_plots(run, tmp_path):
    net, _, Xt, yt, report = run
    paths = plots.save_evaluation_plots(net, Xt, yt, report, tmp_path)
    assert [p.name for p in paths] == ["confusion_matrix.png", "mistakes.png", "weights.png"]
    no_temp_files(tmp_path)

    cm = np.asarray(report["confusion_matrix"])
    fig = plots.confusion_figure(cm, net.class_names)
    check_png(paths[0], fig_size(fig))
    heat, bar = fig.axes  # the heatmap and its colour bar
    counts = sorted(int(t.get_text()) for t in heat.texts)
    assert counts == sorted(cm[cm > 0].tolist())
    assert [t.get_text() for t in heat.get_xticklabels()] == [str(k) for k in range(10)]

    proba = gnet.to_numpy(net.predict_proba(Xt))
    mistakes = plots.most_confident_mistakes(proba, yt)
    assert len(mistakes) == plots.MISTAKES
    probs = [m[3] for m in mistakes]
    assert probs == sorted(probs, reverse=True)
    for i, t, p, prob in mistakes:
        assert t == yt[i] != p == proba[i].argmax() and prob == pytest.approx(proba[i].max())
    wrong = proba.argmax(axis=1) != yt
    assert probs[0] == pytest.approx(proba[wrong].max(axis=1).max())
    fig = plots.mistakes_figure(Xt, mistakes, net.class_names)
    check_png(paths[1], fig_size(fig))
    assert len(fig.axes) == plots.MISTAKES
    i, t, p, prob = mistakes[0]
    first = fig.axes[0]
    assert first.get_title() == f"true {t}\npred {p} {100 * prob:.0f}%"
    np.testing.assert_array_equal(first.get_images()[0].get_array(), Xt[i].reshape(28, 28))

    fig = plots.weights_figure(net)
    check_png(paths[2], fig_size(fig))
    assert len(fig.axes) == 32  # one 28x28 tile per hidden unit
    tile = fig.axes[5].get_images()[0].get_array()
    np.testing.assert_allclose(tile, gnet.to_numpy(net.layers[0].weight)[:, 5].reshape(28, 28))


def test_gallery_without_mistakes(run):
    net, _, Xt, _, _ = run
    pred = gnet.to_numpy(net.predict(Xt[:50]))
    assert plots.most_confident_mistakes(net.predict_proba(Xt[:50]), pred) == []
    fig = plots.mistakes_figure(Xt[:50], [])
    assert [t.get_text() for t in fig.axes[0].texts] == ["no mistakes"]


def test_writing_again_replaces_the_file(run, tmp_path):
    _, history, *_ = run
    (first,) = plots.save_training_plots(history, tmp_path)
    inode = first.stat().st_ino
    (again,) = plots.save_training_plots(history, tmp_path)
    assert again == first and again.stat().st_ino != inode  # a new file renamed over it
    no_temp_files(tmp_path)


def test_non_image_inputs_get_the_confusion_matrix_only(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 12)).astype(np.float32), rng.integers(0, 3, 60)
    net = gnet.Network([12, 8, 3], ["relu", "softmax"], seed=0)
    net.fit(X, y, epochs=1, batch_size=16)
    paths = plots.save_evaluation_plots(net, X, y, net.evaluate(X, y), tmp_path)
    assert [p.name for p in paths] == ["confusion_matrix.png"]
    with pytest.raises(ValueError, match="square"):
        plots.weights_figure(net)


def test_smooth():
    np.testing.assert_allclose(plots.smooth([2.0] * 10), [2.0] * 10)  # bias-corrected
    assert plots.smooth([]).size == 0
    s = plots.smooth([0.0] * 50 + [1.0] * 50, weight=0.9)
    assert s[49] == 0 and 0 < s[60] < 1 and s[-1] > 0.99


def test_renders_without_a_display_or_pyplot(tmp_path):
    code = (
        "import sys, numpy as np, gnet\n"
        "from gnet import plots\n"
        "net = gnet.Network([784, 4, 10], ['relu', 'softmax'], seed=0)\n"
        "X = np.random.default_rng(0).random((40, 784), dtype=np.float32)\n"
        "y = np.arange(40) % 10\n"
        "h = net.fit(X, y, epochs=2, batch_size=8, record_batches=True)\n"
        "plots.save_training_plots(h, sys.argv[1])\n"
        "plots.save_evaluation_plots(net, X, y, net.evaluate(X, y), sys.argv[1])\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MPLBACKEND"] = "TkAgg"  # an interactive backend would fail without a display
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""  # the library prints nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "confusion_matrix.png",
        "mistakes.png",
        "training.png",
        "weights.png",
    ]


# ---------------------------------------------------------------- layer stacks

needs_conv = pytest.mark.skipif(
    "conv2d" not in gnet.layers.LAYERS, reason="conv2d layers are not registered yet"
)
CONV_SPEC = [
    {"type": "conv2d", "filters": 6, "kernel_size": 3, "activation": "relu"},
    {"type": "maxpool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 20, "kernel_size": 3, "activation": "relu"},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]


@pytest.fixture(scope="module")
def conv_run(mnist):
    if "conv2d" not in gnet.layers.LAYERS:
        pytest.skip("conv2d layers are not registered yet")
    (X, y), (Xt, yt) = mnist
    net = gnet.Network(CONV_SPEC, input_shape=(28, 28, 1), seed=0)
    net.fit(X[:1000], y[:1000], epochs=1, batch_size=50, optimizer=gnet.optim.Adam(1e-3))
    Xt, yt = Xt[:300], yt[:300]
    return net, Xt, yt, net.evaluate(Xt, yt)


@needs_conv
def test_conv_network_plots(conv_run, tmp_path):
    net, Xt, yt, report = conv_run
    paths = plots.save_evaluation_plots(net, Xt, yt, report, tmp_path)
    assert [p.name for p in paths] == [
        "confusion_matrix.png",
        "mistakes.png",
        "conv_filters.png",
        "feature_maps.png",
    ]  # no weights.png: the dense layer reads feature maps, not the image
    no_temp_files(tmp_path)
    W = gnet.to_numpy(net.layers[0].params["weight"])  # (3, 3, 1, 6)
    fig = plots.conv_filters_figure(net)
    check_png(paths[2], fig_size(fig))
    assert len(fig.axes) == 6
    np.testing.assert_allclose(fig.axes[4].get_images()[0].get_array(), W[:, :, 0, 4])
    fig = plots.feature_maps_figure(net, Xt[0])
    check_png(paths[3], fig_size(fig))
    assert len(fig.axes) == 1 + 6 + 20  # the input, then every map of both conv layers
    # The first block is relu(cross-correlation + bias) of the image, computed here directly.
    image = Xt[0].reshape(28, 28).astype(np.float64)
    image = (image - net.input_mean) / net.input_std
    b = gnet.to_numpy(net.layers[0].params["bias"])
    expected = np.zeros((26, 26, 6))
    for i in range(3):
        for j in range(3):
            expected += image[i : i + 26, j : j + 26, None] * W[i, j, 0, :]
    expected = np.maximum(expected + b, 0.0)
    (i0, _, first), (i2, _, second) = plots.feature_maps(net, Xt[0])
    assert (i0, i2) == (0, 2) and second.shape == (11, 11, 20)
    np.testing.assert_allclose(first, expected, atol=1e-5)
    np.testing.assert_array_equal(fig.axes[1].get_images()[0].get_array(), first[:, :, 0])
    # Images given as (N, 28, 28, 1) plot the same files.
    again = plots.save_evaluation_plots(
        net, Xt.reshape(-1, 28, 28, 1), yt, report, tmp_path / "images"
    )
    assert [p.name for p in again] == [p.name for p in paths]


def test_dense_layer_after_flatten_of_an_image_gets_weight_tiles(mnist, tmp_path):
    if "flatten" not in gnet.layers.LAYERS:
        pytest.skip("flatten layers are not registered yet")
    (X, y), _ = mnist
    spec = [{"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}]
    net = gnet.Network(spec, input_shape=(28, 28, 1), seed=0)
    paths = plots.save_evaluation_plots(
        net, X[:100], y[:100], net.evaluate(X[:100], y[:100]), tmp_path
    )
    assert [p.name for p in paths] == ["confusion_matrix.png", "mistakes.png", "weights.png"]
    fig = plots.weights_figure(net)
    assert len(fig.axes) == 10
    tile = fig.axes[3].get_images()[0].get_array()
    np.testing.assert_allclose(
        tile, gnet.to_numpy(net.layers[1].params["weight"])[:, 3].reshape(28, 28)
    )
    with pytest.raises(ValueError, match="conv2d"):
        plots.conv_filters_figure(net)
