"""``gnet train``: flags -> :func:`gnet.run`, and its progress and results as text.

The configuration flags are generated from gnet.config's key table (one
``--name`` per key that declares a Flag, with the key's help text); flags
override the config file, defaults fill the rest.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from typing import Any

from ..config import TABLE, Key
from ..errors import ConfigError, GNetError, TrainingDiverged
from . import base
from .base import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, PROG, Output, Parents, plural
from .progress import EpochLines, ProgressBars

# Flags that map one to one onto configuration keys (DESIGN "Config file").
CONFIG_FLAGS = tuple(key.name for key in TABLE if key.flag is not None)
# What --resume lets a user change: where things go, not what is trained.
RESUME_FLAGS = ("epochs",)


def add_parser(sub: Any, parents: Parents) -> argparse.ArgumentParser:
    train: argparse.ArgumentParser = sub.add_parser(
        "train",
        parents=[parents.common, parents.device, parents.data],
        help="train a network, print its test results, optionally save it",
        description="Train a network on MNIST or Fashion-MNIST. Flags override "
        "the config file; defaults fill the rest (configs/default.json).",
    )
    train.add_argument(
        "--config",
        metavar="FILE",
        help="JSON configuration (gnet's, the seeds' or neural-net-rs's format)",
    )
    for key in TABLE:
        if key.flag is not None:
            _add_config_flag(train, key)
    train.add_argument("--out", metavar="MODEL", help="save the trained model here")
    train.add_argument("--checkpoint-dir", metavar="DIR", help="write a checkpoint every epoch")
    train.add_argument(
        "--resume",
        metavar="CHECKPOINT",
        help="continue from a checkpoint file (or the latest one in a folder)",
    )
    train.add_argument("--metrics-json", metavar="FILE", help="write the results as JSON")
    train.add_argument("--plot", metavar="DIR", help="write training and evaluation plots (PNG)")
    train.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel training over the ranks of mpiexec (needs gnet[mpi]); "
        "rank 0 prints and writes files",
    )
    train.add_argument("--limit", type=base.positive_int, metavar="N", help=argparse.SUPPRESS)
    live = train.add_argument_group("live view (a local page that shows the training as it runs)")
    live.add_argument(
        "--live", action="store_true", help="serve the live page on http://127.0.0.1:PORT/"
    )
    live.add_argument("--port", type=base.port, metavar="N", help="its port (default 8766)")
    live.add_argument(
        "--live-keep", action="store_true", help="keep serving after the run, until Ctrl-C"
    )
    live.add_argument("--open", action="store_true", help="open the live page in a browser")
    train.add_argument("--quiet", "-q", action="store_true", help="print only the final line")
    return train


def _add_config_flag(parser: argparse.ArgumentParser, key: Key) -> None:
    flag = key.flag
    assert flag is not None
    options: dict[str, Any] = {"dest": key.name, "help": key.help}
    if flag.kind == "bool":
        options.update(action=argparse.BooleanOptionalAction, default=None)
    elif flag.kind == "lower":
        options.update(type=str.lower, choices=key.names)
    elif flag.kind == "int":
        options.update(type=base.int_at_least(flag.minimum), metavar=flag.metavar)
    elif flag.kind == "float":
        options.update(type=float, metavar=flag.metavar)
    else:
        options.update(metavar=flag.metavar)
    parser.add_argument(key.option, *flag.aliases, **options)


# ====================================================================== command


def cmd_train(args: argparse.Namespace, out: Output) -> int:
    if not getattr(args, "distributed", False):
        return _train(args, out, None)
    from ..distributed import world

    comm = world()
    if comm.size == 1:  # one rank simply trains
        return _train(args, out, None)
    if comm.is_root:
        return _train(args, out, comm)
    # Other ranks print nothing: an error of theirs alone stops the run in
    # guard (one line naming the rank); an error every rank meets, rank 0 reports.
    silent = Output(quiet=True)
    silent.console.file = open(os.devnull, "w")  # noqa: SIM115 (closed with the process)
    try:
        return _train(args, silent, comm)
    except TrainingDiverged:
        return EXIT_FAILURE
    except (GNetError, ValueError):
        return EXIT_USAGE


def _train(args: argparse.Namespace, out: Output, comm: Any) -> int:
    started = time.perf_counter()
    # ---- everything that can be checked is checked before the data loads
    config = None
    if args.resume:
        given = [
            "--" + k.replace("_", "-")
            for k in CONFIG_FLAGS
            if getattr(args, k) is not None and k not in RESUME_FLAGS
        ] + (["--config"] if args.config else [])
        if given:
            raise ConfigError(
                f"--resume {args.resume}: the training options come from the checkpoint; "
                f"only --epochs may change (remove {', '.join(given)})"
            )
    else:
        config = _resolve_config(args)
    # Distributed: from here on, an error on one rank alone stops every rank.
    with _guard(comm):
        device = base.backend(args.device, out, args.thread_limit)
        if comm is None or comm.is_root:  # rank 0 alone writes files
            _check_outputs(args)
        return _train_on(args, out, comm, config, device, started)


def _guard(comm: Any) -> contextlib.AbstractContextManager[None]:
    if comm is None:
        return contextlib.nullcontext()
    from ..distributed import guard

    return guard(comm)


def _check_outputs(args: argparse.Namespace) -> None:
    from ..outputs import writable_dir, writable_file
    from ..run import require

    if args.out:
        writable_file(args.out, "--out")
    if args.metrics_json:
        writable_file(args.metrics_json, "--metrics-json")
    if args.checkpoint_dir:
        writable_dir(args.checkpoint_dir, "--checkpoint-dir")
    if args.plot:
        require("gnet.plots", "--plot (training plots)")
        writable_dir(args.plot, "--plot")


def _train_on(
    args: argparse.Namespace,
    out: Output,
    comm: Any,
    config: dict[str, Any] | None,
    device: Any,
    started: float,
) -> int:
    from ..report import duration_text, evaluation_text
    from ..run import run

    # --live listens now, before the data loads
    live = _live_view(args, out) if comm is None or comm.is_root else None
    display = (
        ProgressBars(out, args.thread_limit)
        if out.is_terminal and not out.quiet
        else EpochLines(out, args.thread_limit)
    )
    callbacks: list[Any] = [display]
    if live is not None:
        callbacks.append(live)
    if args.plot:
        from ..live import EpochPlots

        callbacks.append(EpochPlots(args.plot))  # training.png after every epoch
    try:
        result = run(
            config,
            device=device,
            data_dir=args.data_dir,
            download=args.download,
            limit=args.limit,
            callbacks=callbacks,
            checkpoint_dir=args.checkpoint_dir,
            resume=args.resume,
            out=args.out,
            metrics_json=args.metrics_json,
            plot_dir=args.plot,
            epochs=args.epochs if args.resume else None,
            distributed=comm is not None,
        )
    except KeyboardInterrupt:
        display.close()
        if args.checkpoint_dir and display.net is not None:
            sys.stderr.write(
                f"{PROG}: interrupted after epoch {display.net.epochs_trained}; continue with: "
                f"gnet train --resume {args.checkpoint_dir}\n"
            )
        raise
    finally:
        display.close()
        if live is not None and not (args.live_keep and sys.exc_info()[0] is None):
            live.close()

    history, report, net = result.history, result.report, result.network
    dataset = result.config["dataset"]
    if history.stopped_early:
        out.print(
            f"early stopping after epoch {history.epochs[-1]['epoch']}: restored the weights "
            f"of epoch {history.best_epoch}"
        )
    out.print("")
    out.print(evaluation_text(report, net.class_names))
    base.print_references(out, dataset, report["accuracy"], net)
    if result.plots:
        out.print("plots: " + ", ".join(str(p) for p in result.plots))
    total = time.perf_counter() - started
    n = report["n_samples"]
    correct = round(report["accuracy"] * n)
    saved = f"; model saved to {result.out}" if result.out else ""
    out.final(
        f"test accuracy {100 * report['accuracy']:.2f}% ({correct}/{n}) on {dataset} after "
        f"{plural(net.epochs_trained, 'epoch')}; training {duration_text(history.seconds)}, "
        f"total {duration_text(total)}{saved}"
    )
    if live is not None and args.live_keep:
        out.final(f"live view still at {live.url} (Ctrl-C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            live.wait()
    return EXIT_OK


def _live_view(args: argparse.Namespace, out: Output) -> Any:
    """The LiveView for --live (None without it), already listening; a busy
    port is a usage error (exit 2) before any data loads."""
    if not args.live:
        flags = [("--port", args.port is not None), ("--live-keep", args.live_keep)]
        given = [flag for flag, on in [*flags, ("--open", args.open)] if on]
        if given:
            raise ConfigError(f"{', '.join(given)}: only with --live")
        return None
    from ..live import DEFAULT_PORT, LiveView

    port = DEFAULT_PORT if args.port is None else args.port
    try:
        live = LiveView(port=port, keep=args.live_keep)
    except OSError as e:
        raise ConfigError(
            f"--live: {e.strerror or e} (stop what uses it, or pick another with --port N)"
        ) from None
    out.print(f"live view: {live.url}")
    if args.open:
        live.open_browser()
    return live


def _resolve_config(args: argparse.Namespace) -> dict[str, Any]:
    """DEFAULTS < --config file < flags, with errors naming the file or the flags."""
    from ..config import load_config, resolve

    flags = {key: getattr(args, key) for key in CONFIG_FLAGS}
    file_config = load_config(args.config) if args.config else None
    try:
        return resolve(file_config, flags)
    except ConfigError as exc:
        if file_config is None:
            raise ConfigError(f"command line: {exc}") from None
        try:
            resolve(file_config, None)
        except ConfigError:
            raise ConfigError(f"config file {args.config}: {exc}") from None
        raise ConfigError(f"command line: {exc}") from None
