"""A convolutional model reads real scans through `gnet predict` at least as
well as the MLP does: MNIST test digits printed as users' scans (enlarged,
black ink on a white page, off-centre), prepared the MNIST way by the same
code, classified by each model from the command line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from test_demo_browser import CNN

import gnet

SCANS = 60


def scan(digit: np.ndarray) -> np.ndarray:
    big = np.repeat(np.repeat(digit, 10, axis=0), 10, axis=1)
    page = np.full((520, 430), 255, dtype=np.uint8)
    page[25:305, 130:410] = 255 - big
    return page


@pytest.fixture(scope="module")
def scans(mnist, tmp_path_factory):
    _, (Xt, yt) = mnist
    folder = tmp_path_factory.mktemp("scans")
    paths = []
    for i in range(SCANS):
        digit = np.rint(Xt[i].reshape(28, 28) * 255).astype(np.uint8)
        path = folder / f"scan-{i:03d}.png"
        Image.fromarray(scan(digit)).save(path)
        paths.append(path)
    return paths, yt[:SCANS]


@pytest.fixture(scope="module")
def models(mnist, tmp_path_factory):
    (X, y), _ = mnist
    folder = tmp_path_factory.mktemp("models")
    mlp = gnet.Network([784, 128, 10], ["relu", "softmax"], seed=0)
    mlp.fit(X, y, epochs=2, batch_size=128, optimizer=gnet.optim.SGD(0.1, momentum=0.9))
    cnn = gnet.Network(CNN, input_shape=(28, 28, 1), seed=0)
    cnn.fit(X[:30_000], y[:30_000], epochs=1, batch_size=64, optimizer=gnet.optim.Adam(2e-3))
    paths = {"mlp": folder / "mlp.safetensors", "cnn": folder / "cnn.safetensors"}
    mlp.save(paths["mlp"], dataset="mnist")
    cnn.save(paths["cnn"], dataset="mnist")
    return paths


def predicted(model, paths) -> list[int]:
    done = subprocess.run(
        [sys.executable, "-m", "gnet", "predict", str(model), *map(str, paths), "--top", "1"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    # "PATH: LABEL" per image, then its top classes indented
    lines = [line for line in done.stdout.splitlines() if line.startswith(str(paths[0].parent))]
    assert len(lines) == len(paths), done.stdout
    return [int(line.rsplit(": ", 1)[1]) for line in lines]


def test_cnn_reads_scans_at_least_as_well_as_the_mlp(models, scans):
    paths, labels = scans
    right = {
        name: int(np.sum(np.array(predicted(model, paths)) == labels))
        for name, model in models.items()
    }
    print(f"scans classified right: {right} of {SCANS}")
    assert right["cnn"] >= right["mlp"] and right["cnn"] >= 0.95 * SCANS, right
