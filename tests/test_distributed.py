"""Data-parallel training over MPI (gnet.distributed), run for real with
``mpiexec -n 2`` subprocesses on this machine.

Two ranks must compute what one process computes (float32 within 1e-5,
float64 within 1e-12): mini-batch and full-batch, uneven shards and a short
last batch, a validation split, batches where a rank holds no rows, chunked
batches, a conv network. Networks with dropout are left out on purpose: the
masks are drawn per rank, so those runs differ from one process by design.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from datapaths import REPO, data_dir

pytest.importorskip("mpi4py")

MPIEXEC = Path(sys.executable).parent / "mpiexec"
pytestmark = pytest.mark.skipif(
    not MPIEXEC.exists() or not (data_dir() / "mnist").is_dir(),
    reason="needs the mpich wheel's mpiexec next to the interpreter and MNIST",
)


def _env() -> dict[str, str]:
    env = dict(os.environ, GNET_DATA_DIR=str(data_dir()), OMP_NUM_THREADS="1")
    env.pop("GNET_DEVICE", None)
    return env


def _mpi(n: int, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MPIEXEC), "-n", str(n), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
        cwd=REPO,
    )


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "worker.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


# Each case: a config and the training limit; rank 0 also trains one process
# on the same config and reports the largest weight difference.
EQUALITY = """
import json, sys
import numpy as np
import gnet
from gnet.network import Network
from mpi4py import MPI

cases = json.loads(sys.argv[1])
rank = MPI.COMM_WORLD.Get_rank()
results = []
for case in cases:
    if case.get("max_rows"):
        Network.max_rows = lambda self, budget=0, _r=case["max_rows"]: _r
    kwargs = dict(device=case.get("device", "cpu"), limit=(case["n"], 250))
    two = gnet.run(dict(case["config"]), distributed=True, **kwargs)
    if rank == 0:
        one = gnet.run(dict(case["config"]), **kwargs)
        diff = max(
            float(np.max(np.abs(gnet.to_numpy(a) - gnet.to_numpy(b))))
            for a, b in zip(one.network.parameters(), two.network.parameters())
        )
        results.append({
            "diff": diff,
            "loss": [one.history.loss, two.history.loss],
            "accuracy": [one.history.accuracy, two.history.accuracy],
            "val_loss": [one.history["val_loss"], two.history["val_loss"]],
            "test": [one.report["confusion_matrix"], two.report["confusion_matrix"]],
            "test_loss": [one.report["loss"], two.report["loss"]],
        })
if rank == 0:
    print("RESULTS " + json.dumps(results))
"""

MLP = {"layers": [784, 24, 10], "activations": ["relu", "softmax"], "epochs": 1}


def _run_cases(tmp_path: Path, cases: list[dict]) -> list[dict]:
    proc = _mpi(2, sys.executable, _script(tmp_path, EQUALITY), json.dumps(cases))
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULTS "))
    return json.loads(line[len("RESULTS ") :])


def _check(result: dict, tol: float) -> None:
    assert result["diff"] <= tol
    for key in ("loss", "accuracy", "val_loss"):
        one, two = result[key]
        if one is not None and one[0] is not None:
            np.testing.assert_allclose(two, one, rtol=tol * 10, atol=tol)
    assert result["test"][0] == result["test"][1]
    np.testing.assert_allclose(result["test_loss"][1], result["test_loss"][0], rtol=1e-5)


def test_two_ranks_compute_what_one_process_computes(tmp_path):
    """Uneven shards (1001 and 333 rows over 2 ranks), a short last batch
    (1001 = 15 x 64 + 41), a validation split, normalised inputs, momentum +
    L2 + a schedule, Adam, full-batch, float32 and float64, a conv network."""
    f32, f64 = {"dtype": "float32"}, {"dtype": "float64"}
    sgd = {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "l2": 1e-4}
    cases = [
        # mini-batch, float32, validation split, schedule
        {"n": 1001, "config": {**MLP, **f32, **sgd, "batch_size": 64, "epochs": 2,
                               "validation_split": 0.1, "lr_schedule": "cosine"}},
        # full-batch, float64, Adam
        {"n": 1001, "config": {**MLP, **f64, "mode": "full-batch", "optimizer": "adam",
                               "learning_rate": 0.01, "epochs": 3}},
        # mini-batch, float64, batches of 3: ranks often hold none of a batch's rows
        {"n": 101, "config": {**MLP, **f64, **sgd, "batch_size": 3}},
        # full-batch over the memory budget: chunks of 37 rows on each rank
        {"n": 333, "max_rows": 37, "config": {**MLP, **f64, **sgd, "mode": "full-batch",
                                              "epochs": 2}},
        # a conv network, Adam, float64
        {"n": 150, "config": {
            "input_shape": [28, 28, 1], "dtype": "float64", "epochs": 1, "batch_size": 32,
            "optimizer": "adam", "learning_rate": 0.001, "normalize": False,
            "layers": [{"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"},
                       {"type": "maxpool2d", "pool_size": 2},
                       {"type": "flatten"},
                       {"type": "dense", "units": 10, "activation": "softmax"}]}},
    ]  # fmt: skip
    # the fused buffer is host NumPy; the other CPU namespaces get their gradients from it
    adam = {**MLP, **f64, "optimizer": "adam", "learning_rate": 0.01, "batch_size": 50}
    cases.append({"n": 301, "device": "strict", "config": adam})
    if importlib.util.find_spec("torch") is not None:
        cases.append({"n": 301, "device": "torch", "config": adam})
    results = _run_cases(tmp_path, cases)
    assert len(results) == len(cases)
    for case, result in zip(cases, results, strict=True):
        _check(result, 1e-5 if case["config"]["dtype"] == "float32" else 1e-12)


def test_cli_rank_zero_prints_and_writes_and_resumes(tmp_path):
    """mpiexec -n 2 gnet train --distributed: one final line (rank 0), the
    files written once, the test results of one process; --resume continues
    to the result of an uninterrupted two-epoch run."""
    common = ["--limit", "600", "--layers", "784,16,10", "--batch-size", "50", "--quiet"]
    ckpt = tmp_path / "ckpt"
    gnet = [sys.executable, "-m", "gnet", "train"]
    proc = _mpi(
        2, *gnet, "--distributed", *common, "--epochs", "1", "--checkpoint-dir", str(ckpt),
        "--metrics-json", str(tmp_path / "two.json"), "--out", str(tmp_path / "two.safetensors"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    finals = [line for line in proc.stdout.splitlines() if line.startswith("test accuracy")]
    assert len(finals) == 1, proc.stdout
    assert (tmp_path / "two.safetensors").is_file()
    assert len(list(ckpt.glob("*.safetensors"))) == 1
    resumed = _mpi(
        2, *gnet, "--distributed", "--resume", str(ckpt), "--epochs", "2", "--quiet", "--limit",
        "600", "--metrics-json", str(tmp_path / "resumed.json"),
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    single = subprocess.run(
        [*gnet, *common, "--epochs", "2", "--metrics-json", str(tmp_path / "one.json")],
        capture_output=True, text=True, timeout=120, env=_env(), cwd=REPO,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    one = json.loads((tmp_path / "one.json").read_text())
    again = json.loads((tmp_path / "resumed.json").read_text())
    assert again["test"]["confusion_matrix"] == one["test"]["confusion_matrix"]
    np.testing.assert_allclose(again["test"]["loss"], one["test"]["loss"], rtol=1e-4)
    losses = [[e["loss"] for e in m["train"]["epochs"]] for m in (again, one)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)


FAILURE = """
import sys
import numpy as np
import gnet
from gnet import distributed
from mpi4py import MPI

how = sys.argv[1]
rank = MPI.COMM_WORLD.Get_rank()
if how == "kill" and rank == 1:
    import os, signal
    class Kill:
        def on_epoch_end(self, epoch, logs):
            os.kill(os.getpid(), signal.SIGKILL)
    callbacks = [Kill()]
elif how == "raise" and rank == 1:
    class Boom:
        def on_epoch_end(self, epoch, logs):
            raise RuntimeError("disk full on rank 1")
    callbacks = [Boom()]
else:
    callbacks = []
if how == "nan" and rank == 1:  # rank 1's gradients turn NaN at its 3rd step
    pack, steps = distributed.FusedGradients.pack, [0]
    def poisoned(self, add=False):
        pack(self, add)
        steps[0] += 1
        if steps[0] == 3:
            self.buffer[0] = np.nan
    distributed.FusedGradients.pack = poisoned
config = {"layers": [784, 16, 10], "activations": ["relu", "softmax"], "epochs": 50,
          "batch_size": 20}
gnet.run(config, device="cpu", limit=(400, 100), distributed=True, callbacks=callbacks)
"""


@pytest.mark.parametrize("how", ["nan", "raise", "kill"])
def test_a_failing_rank_stops_every_rank(tmp_path, how):
    """NaN gradients on rank 1 make the reduced loss NaN: both ranks raise
    TrainingDiverged. An exception on rank 1 alone: its one line, MPI_Abort.
    Rank 1 killed (SIGKILL): mpiexec stops rank 0."""
    start = time.perf_counter()
    proc = _mpi(2, sys.executable, _script(tmp_path, FAILURE), how, timeout=30)
    assert time.perf_counter() - start < 30
    assert proc.returncode != 0
    if how == "nan":
        assert "training diverged in epoch 1" in proc.stderr
    elif how == "raise":
        assert "gnet: error: rank 1 of 2: RuntimeError: disk full on rank 1" in proc.stderr


def test_per_sample_mode_is_one_line_error():
    proc = _mpi(
        2, sys.executable, "-m", "gnet", "train", "--distributed", "--mode", "per-sample",
        "--limit", "100", "--layers", "784,8,10", timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "per-sample" in errors[0], proc.stderr


def test_without_mpi4py_the_flag_says_what_to_install():
    code = (
        "import sys; sys.modules['mpi4py'] = None\n"
        "from gnet.cli import main\n"
        "sys.exit(main(['train', '--distributed', '--limit', '50', '--epochs', '1']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=_env()
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "gnet: error: --distributed needs MPI for Python (mpi4py and an MPI): "
        "pip install 'gnet[mpi]'"
    ]


def test_one_rank_simply_trains(tmp_path):
    argv = ["train", "--limit", "200", "--epochs", "1", "--layers", "784,8,10", "--quiet"]
    proc = subprocess.run(
        [sys.executable, "-m", "gnet", *argv, "--distributed"],
        capture_output=True, text=True, timeout=60, env=_env(), cwd=REPO,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    plain = subprocess.run(
        [sys.executable, "-m", "gnet", *argv],
        capture_output=True, text=True, timeout=60, env=_env(), cwd=REPO,
    )  # fmt: skip
    assert proc.stdout.split("; training")[0] == plain.stdout.split("; training")[0]


def test_shards_read_from_raw_and_gzip_idx_files(tmp_path):
    """Rows lo:hi of an IDX file, memory-mapped (raw) or streamed (gzip), equal
    the same rows of the whole file; a truncated raw file is a DataError."""
    from gnet.data import read_idx
    from gnet.distributed_data import _IdxRows
    from gnet.errors import DataError

    images = np.random.default_rng(0).integers(0, 256, (9, 4, 3), dtype=np.uint8)
    raw = b"\x00\x00\x08\x03" + b"".join(int(d).to_bytes(4, "big") for d in images.shape)
    raw += images.tobytes()
    (tmp_path / "x.idx").write_bytes(raw)
    (tmp_path / "x.idx.gz").write_bytes(gzip.compress(raw))
    for name in ("x.idx", "x.idx.gz"):
        rows = _IdxRows(tmp_path / name)
        assert rows.shape == (9, 4, 3)
        np.testing.assert_array_equal(rows.read(2, 7), read_idx(tmp_path / name)[2:7])
        assert rows.read(5, 5).shape == (0, 4, 3)
    (tmp_path / "short.idx").write_bytes(raw[:-1])
    with pytest.raises(DataError, match="truncated"):
        _IdxRows(tmp_path / "short.idx")


@pytest.mark.slow
def test_default_recipe_two_ranks_reach_the_accuracy_band(tmp_path):
    """The default recipe (784-256-10, 20 epochs) on 2 ranks: >= 98.3 %."""
    proc = _mpi(
        2, sys.executable, "-m", "gnet", "train", "--distributed", "--quiet",
        "--metrics-json", str(tmp_path / "m.json"), timeout=1800,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "m.json").read_text())["test"]["accuracy"] >= 0.983
