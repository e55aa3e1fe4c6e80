"""The epoch loop: training modes, shuffling, callbacks, early stopping.

One code path serves the three modes; only the batch size differs:

* ``per-sample``: batches of one, an update after every sample;
* ``mini-batch``: ``batch_size`` rows from a fresh permutation each epoch
  (the last short batch is kept); a ``batch_schedule`` may change the size
  from one epoch to the next;
* ``full-batch``: the whole training set is one batch, one update per epoch.

Speed rules kept here: the namespace is resolved once per call; the loss
and correct counts are summed on the device and read once per epoch (no
host synchronisation in the batch loop); permutations come from a host
generator seeded by (seed, epoch), so a seed gives the same batches on
every backend and a resumed run repeats an uninterrupted one.

With ``distributed`` (a :class:`gnet.distributed.Plan`) the epoch runs in
:mod:`gnet.distributed` instead: the same batches, split across MPI ranks,
one fused gradient allreduce per step and one reduction per epoch; the
single-process loop below is untouched by it.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from array_api_compat import device as device_of

from . import backend as B
from .backend import Array
from .batching import (
    MODES,
    LinearBatchSize,
    batch_size_for,
    make_batch_schedule,
    scheduled_size,
)
from .callbacks import Callback, History
from .errors import ConfigError, TrainingDiverged
from .inputs import require_finite
from .optim import SGD, Optimizer, make_schedule
from .steps import chunked_batch, warm_up

if TYPE_CHECKING:
    from .network import Network

__all__ = [
    "MODES",
    "Callback",
    "History",
    "LinearBatchSize",
    "batch_means",
    "batch_size_for",
    "fit",
    "make_batch_schedule",
]

# Below this batch size the whole training set is permuted once per epoch and
# batches are slices (cheap views); above it, each batch gathers its rows with
# xp.take, which avoids copying the whole set every epoch.
_PERMUTE_ONCE_BELOW = 16


def fit(
    net: Network,
    X: Any,
    y: Any,
    *,
    epochs: int = 10,
    mode: str = "mini-batch",
    batch_size: int | None = 128,
    optimizer: Optimizer | None = None,
    lr_schedule: Any = None,
    batch_schedule: Any = None,
    validation_data: tuple[Any, Any] | None = None,
    callbacks: Sequence[Any] = (),
    early_stopping: int | None = None,
    shuffle: bool = True,
    augment: Any = None,
    record_batches: bool = False,
    distributed: Any = None,
) -> History:
    """Train ``net`` on (X, y) and return a :class:`History`.

    Parameters
    ----------
    epochs : number of passes over (X, y)
    mode : "per-sample", "mini-batch" or "full-batch" (sets the batch size)
    batch_size : rows per batch in mini-batch mode
    optimizer : an optimiser from :mod:`gnet.optim` (default SGD lr 0.01)
    lr_schedule : a schedule or spec (``"step:10:0.5"``, ``"cosine"``, ...)
    batch_schedule : mini-batch mode only: the batch size per epoch, as
        ``"linear:FINAL"`` or a callable ``(epoch0, batch_size, epochs) -> size``
    validation_data : (X_val, y_val), evaluated after each epoch
    callbacks : objects with any of the :class:`Callback` hooks
    early_stopping : patience in epochs on validation loss (training loss
        without validation data); the best weights are restored at the end
    augment : ``augment(xp, X_batch, epoch, batch) -> X_batch`` applied to
        each training batch on the device (data augmentation)
    record_batches : keep each batch's mean loss in ``history.batch_losses``
        (computed once per epoch from the epoch's outputs, no extra syncs)
    distributed : a :class:`gnet.distributed.Plan`: (X, y) are this MPI
        rank's rows of the training set, each global batch is split across the
        ranks and the gradients are allreduced (see :mod:`gnet.distributed`);
        validation_data is then this rank's share of the validation set

    Raises :class:`~gnet.errors.TrainingDiverged` when an epoch's loss is not
    finite; the network then keeps the weights of the last finite epoch.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs: expected an integer >= 1, got {epochs!r}")
    if early_stopping is not None and (not isinstance(early_stopping, int) or early_stopping < 1):
        raise ConfigError(f"early_stopping: expected an integer >= 1, got {early_stopping!r}")
    optimizer = optimizer if optimizer is not None else SGD(learning_rate=0.01)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected a gnet.optim optimiser, got {optimizer!r}")
    schedule = make_schedule(lr_schedule)
    sizes = make_batch_schedule(batch_schedule)
    if sizes is not None and mode != "mini-batch":
        raise ConfigError(f"batch_schedule: only for mode mini-batch, not {mode!r}")
    xp, backend = net.xp, net.backend
    # The same array again (the next fit of a loop of short fits, partial_fit)
    # is not scanned again: a full pass over the data per fit. Should its values
    # have turned non-finite since, the epoch's loss does too, and the check
    # below runs then.
    dist = distributed
    if dist is None:
        checked = _checked_before(net, X)
        X_given, X = X, net.as_input(X, check_finite=not checked)
        _remember_checked(net, X_given)
        n = X.shape[0]
        y, Y = net.as_labels(y, n)
    else:  # this rank's rows (maybe none) of n in all
        checked, n = False, dist.n
        X, y, Y = dist.prepare(net, X, y)
    size = batch_size_for(mode, batch_size, n)
    val = None
    if validation_data is not None and dist is not None:
        val = dist.prepare(net, *validation_data, name="validation X")[::2]
    elif validation_data is not None:
        Xv = net.as_input(validation_data[0], "validation X")
        val = (Xv, net.as_labels(validation_data[1], Xv.shape[0], "validation y")[1])

    history = History()
    base_lr = optimizer.learning_rate
    # (monitored loss, epoch, parameters); the epoch starts as the last one before this fit.
    best: tuple[float, int, Any] = (math.inf, net.epochs_trained, None)
    info = {"samples_total": n, "batch_size": size, "batches": -(-n // size), "epochs": epochs}
    batch_hooks = [
        cb
        for cb in callbacks
        if getattr(type(cb), "on_batch_end", None) not in (None, Callback.on_batch_end)
    ]
    total_epochs = net.epochs_trained + epochs
    base_size = size
    if sizes is not None:  # the first epoch's size, so on_train_begin sees it
        size = scheduled_size(sizes, net.epochs_trained, base_size, total_epochs, n)
        info.update(batch_size=size, batches=-(-n // size))
    if dist is not None:
        dist.begin(net, mode)  # per-sample cannot split; the ranks hold the same weights
    _call(callbacks, "on_train_begin", net, info)
    net.stop_training = False
    if backend.is_gpu and X.shape[0]:
        warm_up(net, X, Y, size)
    for _ in range(epochs):
        epoch = net.epochs_trained + 1  # 1-based, counting earlier fits and resumes
        if schedule is not None:
            optimizer.learning_rate = schedule(epoch - 1, base_lr, total_epochs)
        if sizes is not None:
            size = scheduled_size(sizes, epoch - 1, base_size, total_epochs, n)
            info.update(batch_size=size, batches=-(-n // size))
        _call(callbacks, "on_epoch_begin", epoch, info)
        snapshot = net.snapshot()
        start = time.perf_counter()
        if dist is None:
            losses, correct = _run_epoch(
                net, X, Y, y, size, optimizer, epoch, shuffle, augment, batch_hooks, info
            )
            loss = float(xp.mean(losses))  # the epoch's host synchronisation
            if record_batches:
                history.batch_losses.append(B.to_numpy(batch_means(xp, losses, size)).tolist())
        else:  # the same, reduced over the ranks (one allreduce, validation included)
            sums = dist.run_epoch(
                net,
                X,
                Y,
                y,
                size,
                optimizer,
                epoch,
                shuffle,
                augment,
                batch_hooks,
                info,
                val,
                record_batches,
            )
            loss, correct = sums["loss"], sums["correct"]
            if record_batches:
                history.batch_losses.append(sums["batch_losses"])
        record = {
            "epoch": epoch,
            "loss": loss,
            "accuracy": float(correct) / n,
            "learning_rate": optimizer.learning_rate,
            "batch_size": size,
            "samples": n,
        }
        if not (math.isfinite(loss) and _all_finite(xp, net.parameters())):
            net.restore(snapshot)
            if checked:
                net._checked_input = None
                require_finite(X)
            what = f"loss is {loss}" if not math.isfinite(loss) else "weights are not finite"
            # distributed: the loss is reduced and the weights are alike, so every rank raises
            raise _collective(
                dist,
                TrainingDiverged(
                    f"training diverged in epoch {epoch}: {what} with learning rate "
                    f"{optimizer.learning_rate:g}; the network keeps the weights from before "
                    "this epoch (try a smaller learning rate)"
                ),
            )
        if dist is not None:
            if val is not None:
                record.update(val_loss=sums["val_loss"], val_accuracy=sums["val_accuracy"])
            record["allreduce_seconds"] = dist.take_allreduce_seconds()
        elif val is not None:
            v_loss, v_pred = net._loss_and_predictions(*val)
            record["val_loss"] = float(v_loss) / val[0].shape[0]
            v_true = xp.argmax(val[1], axis=1)
            record["val_accuracy"] = (
                float(xp.sum(xp.astype(v_pred == v_true, xp.int64))) / (val[0].shape[0])
            )
        backend.synchronize()
        record["seconds"] = time.perf_counter() - start
        net.epochs_trained = epoch
        history.epochs.append(record)
        _call(callbacks, "on_epoch_end", epoch, record)
        if early_stopping is not None:
            monitored = record.get("val_loss", record["loss"])
            if monitored < best[0]:
                best = (monitored, epoch, net.snapshot())
            elif epoch - best[1] >= early_stopping:
                history.stopped_early = True
        if dist is not None and dist.size > 1:  # a callback on one rank stops them all
            net.stop_training = dist.comm.any(net.stop_training)
        if history.stopped_early or net.stop_training:
            break
    if early_stopping is not None and best[2] is not None:
        net.restore(best[2])
        history.best_epoch = best[1]
    optimizer.learning_rate = base_lr  # a schedule changed it per epoch; give it back
    _call(callbacks, "on_train_end", history)
    return history


def _run_epoch(
    net: Network,
    X: Array,
    Y: Array,
    y: Array,
    size: int,
    optimizer: Optimizer,
    epoch: int,
    shuffle: bool,
    augment: Any,
    batch_hooks: list[Any],
    info: dict[str, Any],
) -> tuple[Array, Array]:
    """One pass over the data; returns (per-sample losses, correct count) on the device.

    Each batch's outputs (the logits, for a loss fused with the output
    activation) are copied into one (n, classes) buffer, and the loss
    and correct count are computed from it once at the end of the epoch: one
    cheap slice assignment per batch instead of ten small reductions, which
    matters at batch size 1.
    """
    xp, backend = net.xp, net.backend
    n = X.shape[0]
    if any(layer.stochastic for layer in net.layers):
        net._dropout_rng = backend.random_generator([net.seed, epoch, 1])
    ctx = net.training_context()
    perm = None
    if shuffle and size < n:
        perm = backend.asarray(B.host_rng([net.seed, epoch]).permutation(n))
        Y, y = xp.take(Y, perm, axis=0), xp.take(y, perm)
        if size < _PERMUTE_ONCE_BELOW:
            X, perm = xp.take(X, perm, axis=0), None
    outputs = xp.empty(Y.shape, dtype=net.dtype, device=backend.device)
    # SGD's learning rate rides on the output gradient (one small array)
    # instead of being applied to every parameter's gradient afterwards.
    scale = optimizer.gradient_scale
    if batch_hooks:
        info["running_loss"] = lambda: (
            float(net.total_loss(outputs[: info["samples"], :], Y[: info["samples"], :]))
            / info["samples"]
        )
    rows = net.max_rows()
    forward, backward, loss_input = net.forward_with, net.backward, net.loss_input
    for batch, s in enumerate(range(0, n, size)):
        e = min(s + size, n)  # the standard leaves out-of-bounds slice stops unspecified
        if e - s > rows:
            chunked_batch(net, X, Y, perm, s, e, rows, ctx, outputs, scale, augment, epoch, batch)
        else:
            Xb = X[s:e, ...] if perm is None else xp.take(X, perm[s:e], axis=0)
            if augment is not None:
                Xb = augment(xp, Xb, epoch, batch)
            A = forward(Xb, ctx)
            outputs[s:e, :] = loss_input(A)
            backward(A, Y[s:e, :], scale)
        if scale == 1.0:
            optimizer.step(net.layers)
        else:
            optimizer.step(net.layers, scale)
        if batch_hooks:
            info.update(batch=batch, samples=e)
            for cb in batch_hooks:
                cb.on_batch_end(batch, info)
    losses = net.per_sample_loss(outputs, y, Y)
    correct = xp.sum(xp.astype(xp.argmax(outputs, axis=1) == y, xp.int64))
    return losses, correct


def batch_means(xp: Any, losses: Any, size: int) -> Any:
    """Mean loss of each batch of ``size`` consecutive rows (the last may be short)."""
    n = losses.shape[0]
    batches = -(-n // size)
    padded = xp.concat(
        [losses, xp.zeros((batches * size - n,), dtype=losses.dtype, device=device_of(losses))]
    )
    counts = [size] * (batches - 1) + [n - (batches - 1) * size]
    sums = xp.sum(xp.reshape(padded, (batches, size)), axis=1)
    return sums / xp.asarray(counts, dtype=losses.dtype, device=device_of(losses))


def _checked_before(net: Network, X: Any) -> bool:
    """True when X is the very array the last fit checked."""
    ref = getattr(net, "_checked_input", None)
    return ref is not None and ref() is X


def _remember_checked(net: Network, X: Any) -> None:
    try:
        net._checked_input = weakref.ref(X)
    except TypeError:  # lists and other objects without weak references
        net._checked_input = None


def _all_finite(xp: Any, arrays: list[Array]) -> bool:
    """True when no array holds NaN or inf (one host read for all of them)."""
    checks = [xp.all(xp.isfinite(a)) for a in arrays]
    ok = checks[0]
    for c in checks[1:]:
        ok = xp.logical_and(ok, c)
    return bool(ok)


def _collective(dist: Any, exc: BaseException) -> BaseException:
    if dist is None:
        return exc
    from .distributed import collective

    return collective(exc)


def _call(callbacks: Sequence[Any], hook: str, *args: Any) -> None:
    for cb in callbacks:
        method = getattr(cb, hook, None)
        if method is not None:
            method(*args)
