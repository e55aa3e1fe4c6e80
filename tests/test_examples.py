"""The scripts in examples/ run, as a user would run them, on a small MNIST subset."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def data_dir() -> Path:
    """As in conftest: $GNET_DATA_DIR (relative to the repo root), else ../shared/data."""
    env = os.environ.get("GNET_DATA_DIR")
    if env:
        return Path(env) if Path(env).is_absolute() else (REPO / env).resolve()
    return (REPO.parent / "shared" / "data").resolve()


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    root = data_dir()
    if not (root / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST files not found in {root / 'mnist'} (set GNET_DATA_DIR)")
    return {**os.environ, "GNET_DATA_DIR": str(root), "GNET_DEVICE": "cpu"}


def run(script: str, *args: str, env: dict[str, str], cwd: Path) -> str:
    """Run an example in a fresh interpreter; return its output."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_train_save_then_use_in_another_program(env, tmp_path, mnist):
    model = tmp_path / "small.safetensors"
    out = run(
        "train_and_save.py",
        *("--train-samples", "3000", "--test-samples", "1000", "--epochs", "2"),
        *("--out", str(model)),
        env=env,
        cwd=tmp_path,
    )
    assert "epoch  2" in out and f"saved {model}" in out
    assert model.is_file()
    accuracy = float(out.split("test accuracy ")[1].split()[0])
    assert accuracy > 0.8

    out = run("use_saved_model.py", str(model), "--count", "500", env=env, cwd=tmp_path)
    assert "trained 2 epochs" in out and "on 500 images" in out
    assert float(out.split("test accuracy ")[1].split(",")[0]) > 0.8

    # Own image files: MNIST test digits written as PNGs.
    from gnet.images import to_png

    _, (X_test, y_test) = mnist
    paths = [str(to_png(X_test[k], tmp_path / f"digit{k}.png", scale=3)) for k in range(3)]
    out = run("use_saved_model.py", str(model), *paths, env=env, cwd=tmp_path)
    lines = [line for line in out.splitlines() if line.startswith(str(tmp_path))]
    assert len(lines) == 3
    predicted = [int(line.split(": ")[1].split()[0]) for line in lines]
    assert sum(p == int(t) for p, t in zip(predicted, y_test[:3], strict=True)) >= 2


def test_grid_search(env, tmp_path):
    pytest.importorskip("sklearn")
    out = run(
        "grid_search.py",
        *("--samples", "600", "--test-samples", "300", "--epochs", "1", "--cv", "2"),
        env=env,
        cwd=tmp_path,
    )
    assert out.count("'hidden_layer_sizes'") >= 4
    assert "best: {'hidden_layer_sizes'" in out
    assert float(out.split("refitted best model: ")[1]) > 0.5
