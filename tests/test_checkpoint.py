"""Checkpoints: round trips of weights and optimiser state, and resumed runs
that end bit-identical to uninterrupted ones (CPU, same seed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_cli import make_dataset, run

import gnet
from gnet.checkpoint import (
    CheckpointCallback,
    build_optimizer,
    find_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from gnet.config import resolve
from gnet.errors import ModelFileError
from gnet.train import History


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data"), n_train=300, n_test=60)


def small_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 20), dtype=np.float32)
    y = (X[:, :10].argmax(axis=1)).astype(np.int64)
    return X, y


def host(net):
    return [gnet.to_numpy(p) for p in net.parameters()]


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_round_trip_keeps_weights_and_optimizer_state(tmp_path, optimizer):
    config = resolve(
        None,
        {"layers": [20, 8, 10], "optimizer": optimizer, "learning_rate": 0.01, "epochs": 3},
    )
    X, y = small_data()
    net = gnet.Network([20, 8, 10], ["relu", "softmax"], seed=1)
    opt = build_optimizer(config)
    history = net.fit(X, y, epochs=2, batch_size=16, optimizer=opt)
    path = save_checkpoint(tmp_path / "c.safetensors", net, opt, config, history, dataset="x")

    ckpt = load_checkpoint(path)
    assert ckpt.epochs_trained == 2 and ckpt.dataset == "x"
    assert ckpt.config == config
    assert [e["epoch"] for e in ckpt.history.epochs] == [1, 2]
    assert type(ckpt.optimizer) is type(opt)
    assert ckpt.optimizer.steps == opt.steps > 0
    assert ckpt.optimizer.config() == opt.config()
    for a, b in zip(host(net), host(ckpt.net), strict=True):
        assert np.array_equal(a, b) and a.dtype == b.dtype
    assert set(ckpt.optimizer.state) == set(opt.state) and opt.state
    for key, value in opt.state.items():
        restored = ckpt.optimizer.state[key]
        parts = value if isinstance(value, tuple) else (value,)
        again = restored if isinstance(restored, tuple) else (restored,)
        assert len(parts) == len(again)
        for a, b in zip(parts, again, strict=True):
            assert np.array_equal(gnet.to_numpy(a), gnet.to_numpy(b))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_library_resume_is_bit_identical(tmp_path, optimizer):
    """fit 2 epochs + checkpoint + fit 2 more == fit 4 epochs, with dropout and a schedule."""
    config = resolve(
        None,
        {
            "layers": [20, 16, 10],
            "optimizer": optimizer,
            "learning_rate": 0.05 if optimizer == "sgd" else 0.005,
            "epochs": 4,
            "dropout": 0.2,
            "lr_schedule": "cosine",
        },
    )
    X, y = small_data()

    def fresh():
        return gnet.Network([20, 16, 10], ["relu", "softmax"], seed=5, dropout=0.2)

    whole = fresh()
    whole.fit(
        X, y, epochs=4, batch_size=16, optimizer=build_optimizer(config), lr_schedule="cosine"
    )

    first = fresh()
    opt = build_optimizer(config)
    callback = CheckpointCallback(tmp_path, opt, config)
    first.fit(
        X, y, epochs=4, batch_size=16, optimizer=opt, lr_schedule="cosine", callbacks=[callback]
    )
    assert [p.name for p in callback.written] == [f"epoch-000{k}.safetensors" for k in range(1, 5)]

    ckpt = load_checkpoint(tmp_path / "epoch-0002.safetensors")
    ckpt.net.fit(X, y, epochs=2, batch_size=16, optimizer=ckpt.optimizer, lr_schedule="cosine")
    assert ckpt.net.epochs_trained == 4
    for a, b in zip(host(whole), host(ckpt.net), strict=True):
        assert np.array_equal(a, b)


def test_a_checkpoint_is_also_a_model_file(tmp_path):
    config = resolve(None, {"layers": [20, 8, 10]})
    net = gnet.Network([20, 8, 10], ["relu", "softmax"])
    opt = build_optimizer(config)
    net.fit(*small_data(), epochs=1, optimizer=opt)
    path = save_checkpoint(tmp_path / "c.safetensors", net, opt, config)
    model = gnet.load(path)
    for a, b in zip(host(net), host(model), strict=True):
        assert np.array_equal(a, b)


def test_find_checkpoint_takes_the_latest_epoch(tmp_path):
    for epoch in (1, 2, 10):
        (tmp_path / f"epoch-{epoch:04d}.safetensors").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert find_checkpoint(tmp_path) == tmp_path / "epoch-0010.safetensors"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelFileError, match="no checkpoint files"):
        find_checkpoint(empty)


def test_a_model_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "m.safetensors"
    gnet.Network([20, 10], ["softmax"]).save(path)
    with pytest.raises(ModelFileError, match="a model file, not a checkpoint"):
        load_checkpoint(path)


def test_checkpoint_of_a_newer_version_is_refused(tmp_path):
    from safetensors.numpy import load_file, save_file

    from gnet.io import read_model_file

    config = resolve(None, {"layers": [20, 10], "activations": ["softmax"]})
    net = gnet.Network([20, 10], ["softmax"])
    path = save_checkpoint(tmp_path / "c.safetensors", net, build_optimizer(config), config)
    _, meta = read_model_file(path)
    meta["checkpoint"]["format_version"] = 7
    save_file(load_file(str(path)), str(path), metadata={"gnet": json.dumps(meta)})
    with pytest.raises(ModelFileError, match="checkpoint format version 7"):
        load_checkpoint(path)


def test_checkpoint_from_before_batch_schedules_loads(tmp_path):
    """A checkpoint written before the batch_schedule and dropconnect keys
    existed resumes as a run without them."""
    from safetensors.numpy import load_file, save_file

    from gnet.io import read_model_file

    config = resolve(None, {"layers": [20, 10], "activations": ["softmax"]})
    net = gnet.Network([20, 10], ["softmax"])
    path = save_checkpoint(tmp_path / "c.safetensors", net, build_optimizer(config), config)
    _, meta = read_model_file(path)
    del meta["checkpoint"]["train_config"]["batch_schedule"]
    del meta["checkpoint"]["train_config"]["dropconnect"]
    save_file(load_file(str(path)), str(path), metadata={"gnet": json.dumps(meta)})
    assert load_checkpoint(path).config == config


# ------------------------------------------------------------- command line


def _train(data_root, *more):
    return [
        "train",
        "--data-dir",
        str(data_root),
        "--no-download",
        "--layers",
        "784,24,10",
        "--batch-size",
        "32",
        "--epochs",
        "3",
        "--dropout",
        "0.1",
        "--lr-schedule",
        "cosine",
        "--batch-schedule",
        "linear:8",
        "--learning-rate",
        "0.05",
        "--seed",
        "3",
        "-q",
        *[str(m) for m in more],
    ]


def test_cli_resume_after_interruption_is_bit_identical(tmp_path, capsys, monkeypatch, data_root):
    whole = tmp_path / "whole.safetensors"
    assert run(capsys, *_train(data_root, "--out", whole))[0] == 0

    # interrupted (Ctrl-C) after the checkpoint of epoch 2 was written
    ckpt_dir = tmp_path / "ckpt"
    original = CheckpointCallback.on_epoch_end

    def interrupt_after_two(self, epoch, logs):
        original(self, epoch, logs)
        if epoch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(CheckpointCallback, "on_epoch_end", interrupt_after_two)
    part = tmp_path / "part.safetensors"
    code, _, err = run(capsys, *_train(data_root, "--out", part, "--checkpoint-dir", ckpt_dir))
    assert code == 130
    assert f"--resume {ckpt_dir}" in err and "interrupted" in err
    assert not part.exists()
    assert sorted(p.name for p in ckpt_dir.iterdir()) == [
        "epoch-0001.safetensors",
        "epoch-0002.safetensors",
    ]
    monkeypatch.undo()

    resumed = tmp_path / "resumed.safetensors"
    metrics = tmp_path / "m.json"
    code, out, err = run(
        capsys,
        "train",
        "--resume",
        ckpt_dir,
        "--data-dir",
        data_root,
        "--no-download",
        "--out",
        resumed,
        "--metrics-json",
        metrics,
        "--checkpoint-dir",
        ckpt_dir,
    )
    assert code == 0, err
    assert "resuming" in out and "epoch 3/3" in out and "epoch 2/3" not in out
    for a, b in zip(host(gnet.load(whole)), host(gnet.load(resumed)), strict=True):
        assert np.array_equal(a, b)
    payload = json.loads(metrics.read_text())
    assert [e["epoch"] for e in payload["train"]["epochs"]] == [1, 2, 3]
    assert (ckpt_dir / "epoch-0003.safetensors").exists()


def test_cli_resume_from_a_file_can_extend_the_run(tmp_path, capsys, data_root):
    ckpt_dir = tmp_path / "c"
    assert run(capsys, *_train(data_root, "--checkpoint-dir", ckpt_dir))[0] == 0
    code, out, err = run(
        capsys,
        "train",
        "--resume",
        ckpt_dir / "epoch-0003.safetensors",
        "--epochs",
        "4",
        "--data-dir",
        data_root,
        "--no-download",
    )
    assert code == 0, err
    assert "epoch 4/4" in out


def test_cli_resume_errors(tmp_path, capsys, data_root):
    ckpt_dir = tmp_path / "c"
    assert run(capsys, *_train(data_root, "--checkpoint-dir", ckpt_dir))[0] == 0
    base = ["train", "--resume", ckpt_dir, "--data-dir", data_root, "--no-download"]

    code, _, err = run(capsys, *base)
    assert code == 2 and "has 3 of 3 epochs already" in err

    code, _, err = run(capsys, *base, "--learning-rate", "0.5")
    assert code == 2 and "only --epochs may change" in err and "--learning-rate" in err

    model = tmp_path / "m.safetensors"
    gnet.Network([784, 10], ["softmax"]).save(model)
    code, _, err = run(capsys, "train", "--resume", model, "--data-dir", data_root)
    assert code == 2 and "not a checkpoint" in err

    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, "train", "--resume", empty)
    assert code == 2 and "no checkpoint files" in err
    assert "Traceback" not in err


def test_checkpoint_history_feeds_the_metrics(tmp_path, capsys, data_root):
    ckpt_dir = tmp_path / "c"
    assert run(capsys, *_train(data_root, "--checkpoint-dir", ckpt_dir))[0] == 0
    ckpt = load_checkpoint(ckpt_dir)
    assert ckpt.epochs_trained == 3
    assert [e["epoch"] for e in ckpt.history.epochs] == [1, 2, 3]
    assert ckpt.config["dropout"] == 0.1 and ckpt.dataset == "mnist"
    assert isinstance(ckpt.history, History)
