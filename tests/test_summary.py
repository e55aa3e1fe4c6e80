"""The model summary (layer, output shape, parameters) in `gnet info MODEL`
and at the start of `gnet train`."""

from __future__ import annotations

import subprocess
import sys

import gnet
from gnet.summary import summary_rows, summary_text

KERAS = "conv2d:32:3,maxpool2d:2,conv2d:64:3,maxpool2d:2,flatten,dropout:0.5,dense:10"


def keras_net():
    from gnet.config import resolve

    return gnet.Network.from_architecture(resolve(None, {"layers": KERAS}))


def test_rows_count_what_keras_counts():
    rows = summary_rows(keras_net())
    # Keras' mnist_convnet summary: 320, 18,496 and 16,010 parameters, 34,826 in all
    assert [n for _, _, n in rows] == [320, 0, 18496, 0, 0, 0, 16010]
    assert [shape for _, shape, _ in rows] == [
        "(26, 26, 32)",
        "(13, 13, 32)",
        "(11, 11, 64)",
        "(5, 5, 64)",
        "(1600)",
        "(1600)",
        "(10)",
    ]
    assert rows[0][0] == "0: conv2d (filters=32, kernel_size=3, activation=relu)"
    assert rows[1][0] == "1: maxpool2d (pool_size=2, strides=2)"


def test_text_ends_with_the_total():
    text = summary_text(keras_net())
    assert text.splitlines()[-1] == "input (28, 28, 1), float32; 34,826 parameters in all"


def test_gnet_info_model(tmp_path):
    path = tmp_path / "cnn.safetensors"
    keras_net().save(path, dataset="mnist")
    done = subprocess.run(
        [sys.executable, "-m", "gnet", "info", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "gnet model format 2" in done.stdout and "34,826 parameters in all" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "gnet", "info", str(tmp_path / "none.safetensors")],
        capture_output=True,
        text=True,
    )
    assert (
        bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no such model file" in bad.stderr
    )
