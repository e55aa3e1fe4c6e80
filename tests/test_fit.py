"""The training loop (gnet.train.fit): modes, batches, shuffling, seeds,
History, early stopping, stopping from a callback, divergence and resuming.

Small synthetic data so every backend runs in milliseconds; the maths of one
full-batch epoch is checked against a hand-written NumPy gradient-descent loop.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gnet import optim
from gnet.backend import to_numpy
from gnet.errors import ConfigError, TrainingDiverged
from gnet.network import Network
from gnet.train import Callback, History


def host(params):
    """Host copies (to_numpy may return a view of a NumPy or torch array)."""
    return [np.array(to_numpy(p), copy=True) for p in params]


def blobs(n=30, features=4, classes=3, seed=0):
    """Gaussian blobs: a learnable, mildly noisy classification problem."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 2.0, size=(classes, features))
    y = rng.integers(0, classes, size=n)
    X = centres[y] + rng.normal(0.0, 1.0, size=(n, features))
    return X, y


def small_net(device, dtype="float64", seed=0, **kwargs):
    return Network([4, 5, 3], ["tanh", "softmax"], device=device, dtype=dtype, seed=seed, **kwargs)


class Recorder(Callback):
    """Counts batches per epoch and keeps each epoch's record and final weights."""

    def __init__(self, net=None):
        self.net = net
        self.batches: dict[int, list[int]] = {}
        self.epoch = None
        self.logs: list[dict] = []
        self.weights: list[list[np.ndarray]] = []
        self.running_loss: list[float] = []

    def on_epoch_begin(self, epoch, info):
        self.epoch = epoch
        self.batches[epoch] = []

    def on_batch_end(self, batch, info):
        self.batches[self.epoch].append(info["samples"])
        if info["batch"] == info["batches"] - 1:
            self.running_loss.append(info["running_loss"]())

    def on_epoch_end(self, epoch, logs):
        self.logs.append(dict(logs))
        if self.net is not None:
            self.weights.append(host(self.net.copy_parameters()))


class StopAfter(Callback):
    """Sets ``net.stop_training`` at the end of epoch ``epoch`` (an interrupted run)."""

    def __init__(self, net, epoch):
        self.net, self.epoch = net, epoch

    def on_epoch_end(self, epoch, logs):
        self.net.stop_training = epoch == self.epoch


# ---------------------------------------------------------------- modes


@pytest.mark.parametrize(
    "mode, batch_size, samples",
    [
        ("per-sample", None, list(range(1, 11))),
        ("mini-batch", 4, [4, 8, 10]),  # ceil(10 / 4) = 3, the last short batch kept
        ("mini-batch", 5, [5, 10]),
        ("mini-batch", 64, [10]),  # a batch larger than the set is the whole set
        ("full-batch", None, [10]),
    ],
)
def test_steps_per_epoch(device, mode, batch_size, samples):
    X, y = blobs(n=10)
    net = small_net(device)
    opt = optim.SGD(0.1)
    rec = Recorder()
    history = net.fit(
        X, y, epochs=2, mode=mode, batch_size=batch_size, optimizer=opt, callbacks=[rec]
    )
    assert rec.batches == {1: samples, 2: samples}
    assert opt.steps == 2 * len(samples)
    assert [e["samples"] for e in history.epochs] == [10, 10]
    # The running loss after the last batch is the epoch's loss.
    np.testing.assert_allclose(rec.running_loss, history.loss, rtol=1e-12)


def test_same_seed_gives_the_same_weights(device):
    X, y = blobs()

    def train():
        net = small_net(device, seed=3, dropout=0.2)
        net.fit(
            X, y, epochs=3, mode="mini-batch", batch_size=7, optimizer=optim.SGD(0.1, momentum=0.9)
        )
        return host(net.parameters())

    first, second = train(), train()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    other = small_net(device, seed=4, dropout=0.2)
    other.fit(
        X, y, epochs=3, mode="mini-batch", batch_size=7, optimizer=optim.SGD(0.1, momentum=0.9)
    )
    assert not np.array_equal(host(other.parameters())[0], first[0])


@pytest.mark.parametrize("mode, batch_size", [("mini-batch", 4), ("per-sample", None)])
def test_shuffling(device, mode, batch_size):
    """Each epoch visits every sample once, in an order that changes from
    epoch to epoch; shuffle=False keeps the data's order."""
    n = 12
    X, y = blobs(n=n)
    X[:, 0] = np.arange(n)  # column 0 identifies the row

    def orders(shuffle):
        seen: dict[int, list[int]] = {}

        def augment(xp, Xb, epoch, batch):
            seen.setdefault(epoch, []).extend(int(v) for v in to_numpy(Xb)[:, 0])
            return Xb

        net = small_net(device)
        net.fit(
            X,
            y,
            epochs=3,
            mode=mode,
            batch_size=batch_size,
            shuffle=shuffle,
            augment=augment,
            optimizer=optim.SGD(0.01),
        )
        return seen

    shuffled = orders(True)
    assert sorted(shuffled) == [1, 2, 3]
    for order in shuffled.values():
        assert sorted(order) == list(range(n))
    assert shuffled[1] != shuffled[2] and shuffled[2] != shuffled[3]
    assert shuffled[1] != list(range(n))
    assert orders(False) == {e: list(range(n)) for e in (1, 2, 3)}


# ---------------------------------------------------------------- maths of an epoch


def numpy_full_batch_gd(params, X, y, lr, epochs):
    """Plain gradient descent for a tanh / softmax network with mean
    cross-entropy, written out by hand; returns (weights per epoch, losses)."""
    W1, b1, W2, b2 = (np.array(p, copy=True) for p in params)
    Y = np.eye(W2.shape[1])[y]
    n = X.shape[0]
    weights, losses = [], []
    for _ in range(epochs):
        A1 = np.tanh(X @ W1 + b1)
        Z2 = A1 @ W2 + b2
        E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
        P = E / E.sum(axis=1, keepdims=True)
        losses.append(-np.sum(Y * np.log(P)) / n)
        dZ2 = (P - Y) / n
        dW2, db2 = A1.T @ dZ2, dZ2.sum(axis=0)
        dZ1 = (dZ2 @ W2.T) * (1 - A1**2)
        dW1, db1 = X.T @ dZ1, dZ1.sum(axis=0)
        W1, b1, W2, b2 = W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2
        weights.append([W1, b1, W2, b2])
    return weights, losses


def test_full_batch_equals_hand_gradient_descent(device):
    X, y = blobs(n=20)
    net = small_net(device)
    start = host(net.parameters())
    rec = Recorder(net)
    history = net.fit(X, y, epochs=5, mode="full-batch", optimizer=optim.SGD(0.5), callbacks=[rec])
    weights, losses = numpy_full_batch_gd(start, X, y, 0.5, 5)
    # The epoch loss is the loss of the outputs the epoch computed, i.e. before
    # its single update.
    np.testing.assert_allclose(history.loss, losses, rtol=1e-10)
    for epoch, (got, want) in enumerate(zip(rec.weights, weights, strict=True), start=1):
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            np.testing.assert_allclose(
                g, w, rtol=1e-10, atol=1e-12, err_msg=f"parameter {k} after epoch {epoch}"
            )
    assert losses[-1] < losses[0]


def test_history_records(device):
    X, y = blobs(n=33)
    X, y, Xv, yv = X[:24], y[:24], X[24:], y[24:]
    net = small_net(device)
    seen = []

    class Check(Callback):
        def on_epoch_end(self, epoch, logs):
            # Validation is measured with the weights at the end of the epoch.
            seen.append((net.loss_value(Xv, yv), net.evaluate(Xv, yv)["accuracy"]))

    history = net.fit(
        X,
        y,
        epochs=3,
        mode="mini-batch",
        batch_size=8,
        optimizer=optim.SGD(0.2),
        validation_data=(Xv, yv),
        callbacks=[Check()],
    )
    assert isinstance(history, History)
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3]
    for record, (v_loss, v_acc) in zip(history.epochs, seen, strict=True):
        assert {
            "epoch",
            "loss",
            "accuracy",
            "seconds",
            "learning_rate",
            "val_loss",
            "val_accuracy",
        } <= set(record)
        assert math.isfinite(record["loss"]) and record["loss"] > 0
        assert 0.0 <= record["accuracy"] <= 1.0
        assert record["accuracy"] * 24 == pytest.approx(round(record["accuracy"] * 24))
        assert record["seconds"] > 0
        assert record["learning_rate"] == 0.2
        np.testing.assert_allclose(record["val_loss"], v_loss, rtol=1e-10)
        assert record["val_accuracy"] == pytest.approx(v_acc)
    assert history.loss == history["loss"]
    assert history.seconds == pytest.approx(sum(history["seconds"]))
    assert history.best_epoch is None and not history.stopped_early
    assert net.epochs_trained == 3


def test_history_without_validation_has_no_val_keys():
    X, y = blobs(n=10)
    history = small_net("cpu").fit(X, y, epochs=1, mode="full-batch")
    assert "val_loss" not in history.epochs[0] and "val_accuracy" not in history.epochs[0]
    assert history["val_loss"] == [None]


# ---------------------------------------------------------------- stopping


def test_early_stopping_restores_best_weights(device):
    X, y = blobs(n=60)
    X, y, Xv, yv = X[:40], y[:40], X[40:], y[40:]
    net = small_net(device)
    rec = Recorder(net)

    def schedule(epoch, base_lr, epochs):
        # Learn for four epochs, then a rate far too large makes validation worse.
        return base_lr if epoch < 4 else 60.0

    history = net.fit(
        X,
        y,
        epochs=20,
        mode="full-batch",
        optimizer=optim.SGD(0.5),
        lr_schedule=schedule,
        validation_data=(Xv, yv),
        early_stopping=3,
        callbacks=[rec],
    )
    val = history["val_loss"]
    assert history.stopped_early
    assert history.best_epoch == 1 + int(np.argmin(val))
    assert 2 <= history.best_epoch <= 5
    assert len(val) == history.best_epoch + 3
    assert min(val[history.best_epoch :]) > val[history.best_epoch - 1]
    for got, want in zip(host(net.parameters()), rec.weights[history.best_epoch - 1], strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(net.loss_value(Xv, yv), min(val), rtol=1e-10)


def test_early_stopping_without_improvement_stop_keeps_best(device):
    """Patience never runs out: training runs every epoch, best_epoch is still
    set and the best weights are restored."""
    X, y = blobs(n=20)
    net = small_net(device)
    rec = Recorder(net)
    history = net.fit(
        X,
        y,
        epochs=4,
        mode="full-batch",
        optimizer=optim.SGD(0.3),
        early_stopping=10,
        callbacks=[rec],
    )
    assert not history.stopped_early and len(history.epochs) == 4
    best = history.best_epoch
    assert best == 1 + int(np.argmin(history.loss))
    for got, want in zip(host(net.parameters()), rec.weights[best - 1], strict=True):
        np.testing.assert_array_equal(got, want)


def test_stop_training_from_a_callback(device):
    X, y = blobs(n=10)
    net = small_net(device)

    history = net.fit(X, y, epochs=5, mode="full-batch", callbacks=[StopAfter(net, 2)])
    assert [e["epoch"] for e in history.epochs] == [1, 2]
    assert net.epochs_trained == 2
    # The flag does not carry over into the next fit.
    assert len(net.fit(X, y, epochs=2, mode="full-batch").epochs) == 2
    assert net.epochs_trained == 4


# ---------------------------------------------------------------- divergence


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_raises_and_keeps_last_finite_weights(device):
    """ReLU / identity with squared error and learning rate 50 blows up over a
    few epochs; fit raises, naming the epoch and the rate, and the network
    keeps the weights it had at the end of the last finite epoch."""
    rng = np.random.default_rng(0)
    X = rng.random((64, 16))
    y = rng.integers(0, 4, size=64)
    net = Network(
        [16, 8, 4], ["relu", "identity"], loss="mse", device=device, dtype="float64", seed=0
    )
    rec = Recorder(net)
    with pytest.raises(TrainingDiverged) as caught:
        net.fit(
            X,
            y,
            epochs=100,
            mode="mini-batch",
            batch_size=16,
            optimizer=optim.SGD(50.0),
            callbacks=[rec],
        )
    message = str(caught.value)
    finished = len(rec.weights)
    assert finished >= 2, "the test needs a run that diverges after some finite epochs"
    assert net.epochs_trained == finished
    assert f"epoch {finished + 1}" in message
    assert "learning rate 50" in message
    assert all(math.isfinite(e["loss"]) for e in rec.logs)
    for got, want in zip(host(net.parameters()), rec.weights[-1], strict=True):
        np.testing.assert_array_equal(got, want)
        assert np.isfinite(got).all()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_in_the_first_epoch_keeps_the_initial_weights():
    rng = np.random.default_rng(0)
    X = rng.random((64, 16))
    y = rng.integers(0, 4, size=64)
    net = Network([16, 8, 4], ["relu", "identity"], loss="mse", dtype="float64", seed=0)
    start = host(net.parameters())
    with pytest.raises(TrainingDiverged, match="epoch 1"):
        net.fit(X, y, epochs=3, mode="per-sample", optimizer=optim.SGD(50.0))
    assert net.epochs_trained == 0
    for got, want in zip(host(net.parameters()), start, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_restores_finite_weights_even_when_the_last_update_overflowed():
    rng = np.random.default_rng(0)
    X = rng.random((8, 3))
    y = np.array([0, 1] * 4)
    net = Network([3, 2], ["softmax"], loss="cross-entropy", dtype="float64", seed=0)
    with pytest.raises(TrainingDiverged):
        net.fit(X, y, epochs=20, mode="per-sample", optimizer=optim.SGD(5e307))
    for p in host(net.parameters()):
        assert np.isfinite(p).all()


# ---------------------------------------------------------------- resuming


def test_fit_twice_continues(device):
    """Epoch numbers continue across fits, and 3 + 2 epochs with the same
    optimiser equal one run of 5 (per-epoch shuffles are seeded by epoch)."""
    X, y = blobs(n=15)

    def make():
        return small_net(device, seed=5), optim.SGD(0.1, momentum=0.9)

    net, opt = make()
    first = net.fit(X, y, epochs=3, mode="mini-batch", batch_size=4, optimizer=opt)
    second = net.fit(X, y, epochs=2, mode="mini-batch", batch_size=4, optimizer=opt)
    assert [e["epoch"] for e in first.epochs] == [1, 2, 3]
    assert [e["epoch"] for e in second.epochs] == [4, 5]
    assert net.epochs_trained == 5

    whole, whole_opt = make()
    history = whole.fit(X, y, epochs=5, mode="mini-batch", batch_size=4, optimizer=whole_opt)
    np.testing.assert_allclose(first.loss + second.loss, history.loss, rtol=1e-12)
    for a, b in zip(host(net.parameters()), host(whole.parameters()), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- batch-size schedule


def test_linear_batch_schedule_sets_each_epochs_batch_size(device):
    """linear:1 from batch 9 over 5 epochs: 9, 7, 5, 3, 1 rows per batch, and
    each epoch takes ceil(n / size) steps."""
    X, y = blobs(n=10)
    net = small_net(device)
    opt = optim.SGD(0.05)
    rec = Recorder()
    history = net.fit(
        X, y, epochs=5, batch_size=9, batch_schedule="linear:1", optimizer=opt, callbacks=[rec]
    )
    assert history["batch_size"] == [9, 7, 5, 3, 1]
    assert [len(rec.batches[e]) for e in range(1, 6)] == [2, 2, 2, 4, 10]
    assert rec.batches[4] == [3, 6, 9, 10]
    assert opt.steps == 20


def test_batch_schedule_forms_and_callables():
    from gnet.train import LinearBatchSize, make_batch_schedule

    assert make_batch_schedule(None) is None
    assert make_batch_schedule("linear:8") == LinearBatchSize(8)
    assert make_batch_schedule(" Linear:8 ") == LinearBatchSize(8)
    assert make_batch_schedule({"type": "linear", "final": 8}) == LinearBatchSize(8)
    assert make_batch_schedule({"type": " Linear", "final": 8}) == LinearBatchSize(8)
    assert [LinearBatchSize(8)(e, 128, 5) for e in range(5)] == [128, 98, 68, 38, 8]
    assert LinearBatchSize(4)(0, 4, 1) == 4  # one epoch: the starting size

    def halve(epoch, base, epochs):
        return max(1, base >> epoch)

    assert make_batch_schedule(halve) is halve
    X, y = blobs(n=16)
    history = small_net("cpu").fit(X, y, epochs=3, batch_size=8, batch_schedule=halve)
    assert history["batch_size"] == [8, 4, 2]


@pytest.mark.parametrize(
    "spec", ["linear", "linear:0", "linear:x", "linear:\u00b2", "step:2", 8, {"final": 8}]
)
def test_bad_batch_schedule(spec):
    X, y = blobs(n=10)
    with pytest.raises(ConfigError, match="batch_schedule"):
        small_net("cpu").fit(X, y, epochs=1, batch_size=4, batch_schedule=spec)


def test_batch_schedule_callables_are_checked_and_seen_from_the_start():
    X, y = blobs(n=16)

    class Begin(Callback):
        def on_train_begin(self, net, info):
            self.info = dict(info)

    begin = Begin()
    history = small_net("cpu").fit(
        X,
        y,
        epochs=2,
        batch_size=8,
        callbacks=[begin],
        batch_schedule=lambda epoch, base, epochs: np.int64(base // (epoch + 2)),
    )
    assert history["batch_size"] == [4, 2]
    assert (begin.info["batch_size"], begin.info["batches"]) == (4, 4)
    for bad in (0, 2.5, True, "4"):
        with pytest.raises(ConfigError, match=f"batch_schedule: gave {bad!r} for epoch 1"):
            small_net("cpu").fit(X, y, epochs=1, batch_schedule=lambda e, b, n, v=bad: v)


def test_sgd_subclass_with_its_own_update_gets_unscaled_gradients():
    class Plain(optim.SGD):
        def update(self, key, p, g):
            p -= self.learning_rate * g
            return p

    assert optim.SGD(0.1).gradient_scale == 0.1
    assert Plain(0.1).gradient_scale == 1.0
    X, y = blobs(n=12)
    a, b = small_net("cpu"), small_net("cpu")
    a.fit(X, y, epochs=2, batch_size=4, optimizer=Plain(0.1), shuffle=False)
    b.fit(X, y, epochs=2, batch_size=4, optimizer=optim.SGD(0.1), shuffle=False)
    for p, q in zip(host(a.parameters()), host(b.parameters()), strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-12)


@pytest.mark.parametrize("mode", ["per-sample", "full-batch"])
def test_batch_schedule_needs_mini_batch(mode):
    X, y = blobs(n=10)
    with pytest.raises(ConfigError, match="batch_schedule: only for mode mini-batch"):
        small_net("cpu").fit(X, y, epochs=1, mode=mode, batch_schedule="linear:2")


def test_batch_and_lr_schedules_resume_bit_identically(device):
    """Stopped after 3 of 5 epochs and continued (what --resume does), a run
    with both schedules ends with the weights of an uninterrupted one."""
    X, y = blobs(n=21)
    kwargs = dict(batch_size=8, batch_schedule="linear:2", lr_schedule="linear:0.01")

    whole = small_net(device, seed=3)
    full = whole.fit(X, y, epochs=5, optimizer=optim.SGD(0.2, momentum=0.9), **kwargs)
    net, opt = small_net(device, seed=3), optim.SGD(0.2, momentum=0.9)
    first = net.fit(X, y, epochs=5, optimizer=opt, callbacks=[StopAfter(net, 3)], **kwargs)
    second = net.fit(X, y, epochs=2, optimizer=opt, **kwargs)
    assert first["batch_size"] + second["batch_size"] == full["batch_size"] == [8, 6, 5, 4, 2]
    lrs = first["learning_rate"] + second["learning_rate"]
    np.testing.assert_allclose(lrs, full["learning_rate"], rtol=1e-15)
    for a, b in zip(host(net.parameters()), host(whole.parameters()), strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- input checks


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's matmul meeting the inf
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_an_array_spoiled_between_fits_is_still_caught(device, bad):
    """A second fit on the same array skips the full scan for NaN/inf (it was
    checked by the first); if the values went bad in place since, the epoch's
    loss does too, and fit then names X and keeps the earlier weights."""
    X, y = blobs(n=12)
    net = small_net(device)
    Xd = net.backend.asarray(X)  # one device array, passed to both fits
    net.fit(Xd, y, epochs=1, batch_size=4)
    before = host(net.parameters())
    Xd[5, 1] = bad  # in place: the same object
    with pytest.raises(ValueError, match="X: contains NaN or infinite values"):
        net.fit(Xd, y, epochs=1, batch_size=4)
    for a, b in zip(before, host(net.parameters()), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="X: contains NaN"):  # and checked again next time
        net.fit(Xd, y, epochs=1, batch_size=4)


# ---------------------------------------------------------------- DropConnect


def test_dropconnect_trains_reproducibly_and_resumes_bit_identically(device):
    """Weight masks come from (seed, epoch): the same seed gives the same
    weights, a run stopped after 2 of 4 epochs and continued ends where an
    uninterrupted one does, and inference uses the whole weights."""
    X, y = blobs(n=20)

    def train(stop=None):
        net = small_net(device, seed=6, dropconnect=0.5)
        opt = optim.SGD(0.2, momentum=0.9)
        callbacks = [StopAfter(net, stop)] if stop else []
        net.fit(X, y, epochs=4, batch_size=6, optimizer=opt, callbacks=callbacks)
        if stop:
            net.fit(X, y, epochs=4 - stop, batch_size=6, optimizer=opt)
        return net

    a, b, resumed = train(), train(), train(stop=2)
    plain = small_net(device, seed=6)
    plain.fit(X, y, epochs=4, batch_size=6, optimizer=optim.SGD(0.2, momentum=0.9))
    for p, q, r, s in zip(
        host(a.parameters()),
        host(b.parameters()),
        host(resumed.parameters()),
        host(plain.parameters()),
        strict=True,
    ):
        np.testing.assert_array_equal(p, q)
        np.testing.assert_array_equal(p, r)
        assert not np.array_equal(p, s)  # the masks changed the training
    Xd = a.as_input(X)
    np.testing.assert_array_equal(to_numpy(a.predict_proba(Xd)), to_numpy(a.predict_proba(Xd)))
