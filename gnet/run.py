"""``gnet.run(config)``: everything ``gnet train`` does, as one library call.

>>> result = gnet.run("configs/mnist-fast.json", device="cpu", epochs=2)
>>> result.metrics["test"]["accuracy"], result.network, result.history

One run: resolve the configuration (DEFAULTS < ``config`` < overrides), load
the data set, hold out the validation split, take the normalisation
statistics, build the network and optimiser (or restore both from a
checkpoint), train with the schedules, augmentation, early stopping and
checkpoints asked for, evaluate on the test split, then save the model, the
metrics JSON and the plots that were asked for. Every output path is checked
before the data loads, so a typo fails in a second, not after the training.

The library prints nothing: progress reaches callers through ``callbacks``
(the :class:`gnet.train.Callback` hooks, plus ``on_run_begin(info)``, called
once before training with the resolved config, the network, the backend and
the sizes of the splits, and ``on_run_end(info)``, called once after the test
evaluation with the network, the full history, the test report and the test
data) and through ``logging``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .outputs import metrics_payload, writable_dir, writable_file, write_json

if TYPE_CHECKING:
    from .backend import Backend
    from .network import Network
    from .train import History

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
# Keyword arguments of run() that are not configuration keys.
RUN_OPTIONS = (
    "device",
    "data_dir",
    "download",
    "limit",
    "callbacks",
    "checkpoint_dir",
    "resume",
    "out",
    "metrics_json",
    "plot_dir",
    "distributed",
)


@dataclass
class RunResult:
    """What :func:`run` returns.

    ``history`` holds every epoch, those of a resumed checkpoint too;
    ``metrics`` is exactly what ``metrics_json`` writes (DESIGN "Metrics
    JSON"); ``report`` is :meth:`Network.evaluate` on the test split.
    """

    network: Network
    history: History
    metrics: dict[str, Any]
    report: dict[str, Any]
    config: dict[str, Any]
    epochs_before: int = 0  # epochs a resumed checkpoint had already trained
    out: Path | None = None
    plots: list[Path] = field(default_factory=list)
    seconds: float = 0.0  # the whole run, data loading and outputs included


def run(
    config: PathLike | dict[str, Any] | None = None,
    *,
    device: Any = None,
    data_dir: PathLike | None = None,
    download: bool = True,
    limit: int | tuple[int | None, int | None] | None = None,
    callbacks: Sequence[Any] = (),
    checkpoint_dir: PathLike | None = None,
    resume: PathLike | None = None,
    out: PathLike | None = None,
    metrics_json: PathLike | None = None,
    plot_dir: PathLike | None = None,
    distributed: bool = False,
    **overrides: Any,
) -> RunResult:
    """Train, evaluate and save as ``gnet train`` does; see the module docstring.

    ``config``: a JSON file's path, a dict in any accepted config format, or
    None (DEFAULTS). ``overrides``: config keys (``epochs=2``); None means
    "not given". ``device``: a name (default ``$GNET_DEVICE``, else cpu) or a
    Backend. ``limit``: keep the first N images of each split, or a
    ``(train, test)`` pair. ``resume``: a checkpoint file or folder; the
    training options then come from it and only ``epochs`` may be given.
    Raises ConfigError (and the other GNetErrors) for bad input,
    TrainingDiverged when the loss stops being finite.

    ``distributed``: data-parallel over the ranks of ``mpiexec``
    (:mod:`gnet.distributed`): each rank reads its shard, every rank returns
    the same result, rank 0 alone writes ``out``, ``metrics_json``, plots
    and checkpoints; an error on one rank stops every rank. One rank trains
    as without it.
    """
    options = {k: v for k, v in locals().items() if k != "distributed"}  # as given
    if distributed:
        from .distributed import guard, world

        comm = world()
        if comm.size > 1:
            with guard(comm):
                return _run(comm, **options)
    return _run(None, **options)


def _run(
    comm: Any,
    *,
    config: PathLike | dict[str, Any] | None,
    device: Any,
    data_dir: PathLike | None,
    download: bool,
    limit: int | tuple[int | None, int | None] | None,
    callbacks: Sequence[Any],
    checkpoint_dir: PathLike | None,
    resume: PathLike | None,
    out: PathLike | None,
    metrics_json: PathLike | None,
    plot_dir: PathLike | None,
    overrides: dict[str, Any],
) -> RunResult:
    from . import data
    from .checkpoint import CheckpointCallback, build_optimizer, load_checkpoint
    from .config import resolve
    from .network import Network
    from .train import History

    started = time.perf_counter()
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if resume is not None:
        extra = sorted(k for k in overrides if k != "epochs")
        if config is not None or extra:
            given = (["config"] if config is not None else []) + extra
            raise ConfigError(
                f"resume {resume}: the training options come from the checkpoint; only "
                f"epochs may change (remove {', '.join(given)})"
            )
    else:
        resolved = resolve(config, overrides) if config is not None else resolve(None, overrides)
    backend = get_device(device)
    checkpoint = None
    if resume is not None:
        checkpoint = load_checkpoint(resume, device=backend)
        resolved = dict(checkpoint.config)
        if "epochs" in overrides:
            resolved["epochs"] = overrides["epochs"]
        if resolved["epochs"] <= checkpoint.epochs_trained:
            raise ConfigError(
                f"resume {resume}: the checkpoint has {checkpoint.epochs_trained} of "
                f"{resolved['epochs']} epochs already; ask for more epochs (> "
                f"{checkpoint.epochs_trained}) to train further"
            )
    record_batches = plot_dir is not None  # alike on every rank: the epoch's reduction
    if comm is not None and not comm.is_root:  # rank 0 alone writes files
        out = metrics_json = checkpoint_dir = plot_dir = None
    out_path = writable_file(out, "out") if out is not None else None
    metrics_path = writable_file(metrics_json, "metrics_json") if metrics_json else None
    ckpt_dir = writable_dir(checkpoint_dir, "checkpoint_dir") if checkpoint_dir else None
    plots = None
    if plot_dir is not None:
        plots = require("gnet.plots", "plot_dir (training plots)")
        plot_dir = writable_dir(plot_dir, "plot_dir")
    augment = _augmenter(resolved)

    # ---- data, network, optimiser
    dataset = resolved["dataset"]
    plan, shards = None, None
    if comm is not None:  # this rank's rows of each split; the counts of all
        from .distributed_data import load_sharded

        shards = load_sharded(
            comm, dataset, data_dir, download, limit, resolved["validation_split"], resolved["seed"]
        )
        X, y, validation, plan = shards.X, shards.y, shards.validation, shards.plan
        X_test, y_test = shards.X_test, shards.y_test
    else:
        (X, y), (X_test, y_test) = load_data(dataset, data_dir, download, limit)
        validation = None
    if comm is None and resolved["validation_split"]:
        (X, y), (X_val, y_val) = data.train_validation_split(
            X, y, resolved["validation_split"], resolved["seed"]
        )
        if len(X_val) == 0:
            raise ConfigError(
                f"validation_split {resolved['validation_split']:g}: leaves no validation "
                f"images out of {len(X) + len(X_val)}"
            )
        validation = (X_val, y_val)
    if checkpoint is not None:
        net, optimizer, earlier = checkpoint.net, checkpoint.optimizer, checkpoint.history
        check_model_fits(net, dataset, X_test, str(resume))
    else:
        if not resolved["normalize"]:
            mean, std = 0.0, 1.0
        elif shards is not None:
            from .distributed_results import normalization_stats

            mean, std = normalization_stats(comm, X, shards.n_train)
        else:
            mean, std = data.normalization_stats(X)
        net = Network.from_architecture(
            resolved,
            device=backend,
            input_mean=mean,
            input_std=std,
            class_names=data.DATASETS[dataset]["class_names"],
        )
        check_model_fits(net, dataset, X_test, "layers")
        optimizer, earlier = build_optimizer(resolved), History()
    epochs_before = net.epochs_trained
    info = {
        "config": resolved,
        "network": net,
        "backend": backend,
        "n_train": len(X) if shards is None else shards.n_train,
        "n_validation": len(validation[0]) if validation else 0,
        "n_test": len(X_test) if shards is None else shards.n_test,
        "epochs_before": epochs_before,
        "resume": resume,
        "checkpoint_dir": ckpt_dir,
    }
    if shards is not None:
        info.update(n_validation=shards.n_validation, ranks=comm.size)
    log.info("%s: %d training, %d test images; %r", dataset, info["n_train"], info["n_test"], net)
    for callback in callbacks:
        hook = getattr(callback, "on_run_begin", None)
        if hook is not None:
            hook(info)

    # ---- training
    run_callbacks = list(callbacks)
    if ckpt_dir is not None:
        run_callbacks.append(
            CheckpointCallback(ckpt_dir, optimizer, resolved, earlier, dataset=dataset)
        )
    history = net.fit(
        X,
        y,
        epochs=resolved["epochs"] - net.epochs_trained,
        mode=resolved["mode"],
        batch_size=resolved["batch_size"],
        optimizer=optimizer,
        lr_schedule=resolved["lr_schedule"],
        batch_schedule=resolved["batch_schedule"],
        validation_data=validation,
        callbacks=run_callbacks,
        early_stopping=resolved["early_stopping"],
        augment=augment,
        record_batches=record_batches,
        distributed=plan,
    )
    full = History(
        epochs=list(earlier.epochs) + list(history.epochs),
        batch_losses=[[] for _ in earlier.epochs] + list(history.batch_losses),
        stopped_early=history.stopped_early,
        best_epoch=history.best_epoch,
    )

    # ---- test, outputs
    if shards is not None:
        from .distributed_results import evaluate

        report = evaluate(comm, net, X_test, y_test, shards.n_test)
        if plots is not None:  # rank 0 draws the test set's plots from the whole set
            X_test, y_test = load_data(dataset, data_dir, False, limit)[1]
    else:
        report = net.evaluate(X_test, y_test)
    metrics = metrics_payload(net, resolved, report, full, dataset)
    if out_path is not None:
        net.save(
            out_path,
            dataset=dataset,
            test={k: report[k] for k in ("accuracy", "loss", "macro_f1", "confusion_matrix")},
            train_config=resolved,
        )
    if metrics_path is not None:
        write_json(metrics_path, metrics, "metrics_json")
    saved: list[Path] = []
    if plots is not None:
        saved += plots.save_training_plots(full, plot_dir)
        saved += plots.save_evaluation_plots(net, X_test, y_test, report, plot_dir)
    end = {"network": net, "history": full, "report": report, "test_data": (X_test, y_test)}
    for callback in callbacks:
        hook = getattr(callback, "on_run_end", None)
        if hook is not None:
            hook(end)
    return RunResult(
        network=net,
        history=full,
        metrics=metrics,
        report=report,
        config=resolved,
        epochs_before=epochs_before,
        out=out_path,
        plots=[Path(p) for p in saved],
        seconds=time.perf_counter() - started,
    )


# ------------------------------------------------------------- shared steps


def require(module: str, feature: str) -> Any:
    """An optional gnet module (gnet.optional.require, looked up at call time)."""
    from . import optional

    return optional.require(module, feature)


def get_device(device: Any) -> Backend:
    """The backend for ``device``: a Backend as it is, else a name (default
    ``$GNET_DEVICE``, else cpu)."""
    from .backend import Backend, get_backend

    if isinstance(device, Backend):
        return device
    return get_backend(device or os.environ.get("GNET_DEVICE") or "cpu")


def load_data(
    name: str,
    data_dir: PathLike | None = None,
    download: bool = True,
    limit: int | tuple[int | None, int | None] | None = None,
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """((X, y), (X_test, y_test)) of data set ``name`` on the host; ``limit``
    keeps the first images of each split (one count, or a (train, test) pair)."""
    from . import data

    (X, y), (X_test, y_test) = data.load(name, data_dir=data_dir, download=download)
    n_train, n_test = limit if isinstance(limit, tuple) else (limit, limit)
    if n_train:
        X, y = X[:n_train], y[:n_train]
    if n_test:
        X_test, y_test = X_test[:n_test], y_test[:n_test]
    return (X, y), (X_test, y_test)


def check_model_fits(net: Network, dataset: str, X: Any, where: str) -> None:
    """ConfigError naming ``where`` when ``net`` does not take ``dataset``'s images."""
    from .data import DATASETS

    classes = len(DATASETS[dataset]["class_names"])
    if net.n_inputs != X.shape[1] or net.n_classes != classes:
        raise ConfigError(
            f"{where}: the model has {net.n_inputs} inputs and {net.n_classes} outputs, "
            f"but {dataset} has {X.shape[1]} pixels and {classes} classes"
        )


def _augmenter(config: dict[str, Any]) -> Any:
    """The data-augmentation function for ``augment`` (random shifts), when asked for."""
    from .data import DATASETS

    if not config.get("augment"):
        return None
    module = require("gnet.augment", "augment (random shifts of training images)")
    shape = DATASETS[config["dataset"]]["image_shape"]
    return module.make_augment(config["augment"], image_shape=shape, seed=config["seed"])
