"""The ``gnet`` command line: argument parsing and printing only.

Every computation happens in the library (gnet.network, gnet.train,
gnet.data, gnet.io, gnet.checkpoint); this module turns flags into calls and
results into text (gnet.report) on stdout.

Exit status (DESIGN "Command line"):

* 0: success;
* 2: bad usage (argparse), bad configuration, bad input files, a device that
  is not there: anything that is a ``GNetError`` or ``ValueError``, printed
  as one line ``gnet: error: ...`` on stderr without a traceback;
* 1: any other failure, including a training run that diverged (its loss
  became NaN or infinite: the configuration is valid, the run failed) and a
  missing optional module (``gnet.demo``, ``gnet.plots``);
* 130: interrupted with Ctrl-C (checkpoints already written stay).

``--debug`` (anywhere on the line) shows the traceback as well.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import logging
import os
import platform
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError, GNetError, TrainingDiverged

PROG = "gnet"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# Flags that map one to one onto configuration keys (DESIGN "Config file").
CONFIG_FLAGS = (
    "dataset",
    "layers",
    "activations",
    "loss",
    "init",
    "epochs",
    "batch_size",
    "batch_schedule",
    "mode",
    "optimizer",
    "learning_rate",
    "momentum",
    "nesterov",
    "l1",
    "l2",
    "dropout",
    "dropconnect",
    "lr_schedule",
    "validation_split",
    "early_stopping",
    "seed",
    "dtype",
    "normalize",
    "augment",
)
# What --resume lets a user change: where things go, not what is trained.
RESUME_FLAGS = ("epochs",)
PROGRESS_HZ = 10  # progress-bar refreshes per second (each reads the device)


# ====================================================================== output


class Output:
    """Where the CLI's text goes: a rich Console on stdout, errors on stderr."""

    def __init__(self, quiet: bool = False):
        from rich.console import Console

        self.console = Console(highlight=False, soft_wrap=True)
        self.quiet = quiet

    @property
    def is_terminal(self) -> bool:
        return self.console.is_terminal

    def print(self, text: str = "") -> None:
        """Normal output, left out by --quiet."""
        if not self.quiet:
            self.console.print(text, markup=False)

    def final(self, text: str) -> None:
        """The last line of a command, printed even with --quiet."""
        self.console.print(text, markup=False)

    def raw(self, text: str) -> None:
        """Escape sequences (Sixel) written as they are."""
        if not self.quiet:
            self.console.file.write(text + "\n")
            self.console.file.flush()


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


# ====================================================================== parser


class _Parser(argparse.ArgumentParser):
    """argparse that names the command in its messages."""

    def error(self, message: str):  # noqa: D401 - argparse's signature
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _int_at_least(minimum: int):
    """An argparse type: an integer >= minimum, else a usage error saying so."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0..65535, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from .config import ACTIVATIONS, DATASETS, DTYPES, INITS, LOSSES, MODES, OPTIMIZERS

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error and the library's debug log",
    )
    device = argparse.ArgumentParser(add_help=False)
    device.add_argument(
        "--device",
        metavar="DEVICE",
        help="cpu, cuda, cuda:N, torch, torch:cuda, strict or auto "
        "(default: $GNET_DEVICE, else cpu; auto takes cuda when CuPy sees a GPU)",
    )
    device.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help="CPU threads for the array library (default: $GNET_THREADS, else half the "
        "logical CPUs, at least 1: on a busy 2-core machine two BLAS threads run several "
        "times slower than one)",
    )
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder holding <dataset>/<IDX files> (default: $GNET_DATA_DIR, "
        "else the cache folder; missing files are downloaded there)",
    )
    data.add_argument(
        "--no-download",
        dest="download",
        action="store_false",
        help="use only the files already in the data folder; never download",
    )

    parser = _Parser(
        prog=PROG,
        description="gnet: a from-scratch neural network for MNIST-style images "
        "on NumPy, CuPy, PyTorch or any Array API library.",
        parents=[common],
    )
    parser.set_defaults(debug=False)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # ------------------------------------------------------------------ train
    train = sub.add_parser(
        "train",
        parents=[common, device, data],
        help="train a network, print its test results, optionally save it",
        description="Train a network on MNIST or Fashion-MNIST. Flags override "
        "the config file; defaults fill the rest (configs/default.json).",
    )
    train.add_argument("--config", metavar="FILE", help="JSON configuration (the seeds' format)")
    train.add_argument("--dataset", type=str.lower, choices=DATASETS)
    train.add_argument("--layers", metavar="SIZES", help="e.g. 784,128,10 (input and output too)")
    train.add_argument(
        "--activations", metavar="NAMES", help=f"e.g. relu,softmax; from {', '.join(ACTIVATIONS)}"
    )
    train.add_argument("--loss", type=str.lower, choices=LOSSES)
    train.add_argument("--init", type=str.lower, choices=INITS)
    train.add_argument("--epochs", type=_positive_int, metavar="N")
    train.add_argument("--batch-size", type=_positive_int, metavar="N", help="implies mini-batch")
    train.add_argument("--mode", type=str.lower, choices=MODES)
    train.add_argument("--optimizer", type=str.lower, choices=OPTIMIZERS)
    train.add_argument("--learning-rate", "--lr", type=float, metavar="F")
    train.add_argument("--momentum", type=float, metavar="F")
    train.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=None)
    train.add_argument("--l1", type=float, metavar="F")
    train.add_argument("--l2", type=float, metavar="F")
    train.add_argument("--dropout", type=float, metavar="F", help="rate on hidden layers")
    train.add_argument(
        "--dropconnect", type=float, metavar="F", help="rate on the weights into hidden layers"
    )
    train.add_argument(
        "--lr-schedule",
        metavar="SPEC",
        help="step:STEP_SIZE:GAMMA, exponential:GAMMA, cosine[:MIN_LR], linear[:MIN_LR] or none",
    )
    train.add_argument(
        "--batch-schedule",
        metavar="SPEC",
        help="linear:FINAL (batch size from --batch-size to FINAL over the epochs) or none",
    )
    train.add_argument("--validation-split", type=float, metavar="F")
    train.add_argument(
        "--early-stopping", type=_positive_int, metavar="N", help="patience in epochs"
    )
    train.add_argument("--seed", type=_non_negative_int, metavar="N")
    train.add_argument("--dtype", type=str.lower, choices=DTYPES)
    train.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="standardise inputs with the training set's mean and std (stored in the model)",
    )
    train.add_argument(
        "--augment",
        type=_non_negative_int,
        metavar="PIXELS",
        help="random shifts of up to PIXELS (1-4; 0: off)",
    )
    train.add_argument("--out", metavar="MODEL", help="save the trained model here")
    train.add_argument("--checkpoint-dir", metavar="DIR", help="write a checkpoint every epoch")
    train.add_argument(
        "--resume",
        metavar="CHECKPOINT",
        help="continue from a checkpoint file (or the latest one in a folder)",
    )
    train.add_argument("--metrics-json", metavar="FILE", help="write the results as JSON")
    train.add_argument("--plot", metavar="DIR", help="write training and evaluation plots (PNG)")
    train.add_argument("--limit", type=_positive_int, metavar="N", help=argparse.SUPPRESS)
    train.add_argument("--quiet", "-q", action="store_true", help="print only the final line")
    train.set_defaults(handler=cmd_train)

    # --------------------------------------------------------------- evaluate
    evaluate = sub.add_parser(
        "evaluate",
        parents=[common, device, data],
        help="evaluate a saved model on a test set",
        description="Evaluate a model file on its data set's test split.",
    )
    evaluate.add_argument("model", metavar="MODEL")
    evaluate.add_argument("--dataset", type=str.lower, choices=DATASETS)
    evaluate.add_argument("--metrics-json", metavar="FILE")
    evaluate.add_argument(
        "--misclassified", type=_non_negative_int, metavar="N", help="show the N worst mistakes"
    )
    evaluate.add_argument("--sixel", action="store_true", help="draw those mistakes as Sixel")
    evaluate.add_argument("--plot", metavar="DIR")
    evaluate.add_argument("--limit", type=_positive_int, metavar="N", help=argparse.SUPPRESS)
    evaluate.add_argument("--quiet", "-q", action="store_true", help="print only the final line")
    evaluate.set_defaults(handler=cmd_evaluate)

    # ---------------------------------------------------------------- predict
    predict = sub.add_parser(
        "predict",
        parents=[common, device],
        help="classify image files (PNG, JPEG, BMP, ...)",
        description="Classify images: greyscale, inverted when the background is light, "
        "cropped to the ink and centred the MNIST way.",
    )
    predict.add_argument("model", metavar="MODEL")
    predict.add_argument("images", metavar="IMAGE", nargs="+")
    predict.add_argument("--top", type=_positive_int, default=3, metavar="K")
    predict.add_argument("--show", action="store_true", help="print the 28x28 input as ASCII")
    predict.set_defaults(handler=cmd_predict)

    # ----------------------------------------------------------------- images
    images = sub.add_parser(
        "images",
        parents=[common, device, data],
        help="save data set images as PNGs named with true label and prediction",
    )
    images.add_argument("model", metavar="MODEL")
    images.add_argument("--dataset", type=str.lower, choices=DATASETS)
    images.add_argument("--split", choices=("train", "test"), default="test")
    images.add_argument("--count", type=_positive_int, default=20, metavar="N")
    images.add_argument("--out", metavar="DIR", default="gnet-images")
    images.add_argument("--scale", type=_positive_int, default=1, metavar="K")
    images.set_defaults(handler=cmd_images)

    # ------------------------------------------------------------------- demo
    demo = sub.add_parser(
        "demo", parents=[common], help="draw digits in the browser and watch the network"
    )
    demo.add_argument("model", metavar="MODEL")
    demo.add_argument("--port", type=_port, default=8765)
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--open", action="store_true", help="open the page in a browser")
    demo.set_defaults(handler=cmd_demo)

    # ------------------------------------------------------------------- info
    info = sub.add_parser("info", parents=[common], help="versions, backends and devices found")
    info.set_defaults(handler=cmd_info)
    return parser


# ======================================================================== main


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "handler", None) is None:
        parser.print_usage(sys.stderr)
        _error("a command is required: train, evaluate, predict, images, demo or info")
        return EXIT_USAGE
    debug = bool(getattr(args, "debug", False))
    try:
        threads = _thread_count(args.threads) if hasattr(args, "threads") else None
        args.thread_limit = threads
    except ConfigError as exc:
        _report(exc, debug)
        return EXIT_USAGE
    with _logging(debug), warnings.catch_warnings(), _thread_limit(threads):
        if not debug:
            # overflow and NaN warnings of a diverging run: fit reports those itself
            warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return args.handler(args, Output(quiet=getattr(args, "quiet", False)))
        except KeyboardInterrupt:
            _error("interrupted")
            return EXIT_INTERRUPTED
        except TrainingDiverged as exc:
            _report(exc, debug)
            return EXIT_FAILURE
        except (GNetError, ValueError) as exc:  # bad input: one line, status 2
            _report(exc, debug)
            return EXIT_USAGE
        except _Missing as exc:
            _report(exc, debug)
            return EXIT_FAILURE
        except Exception as exc:  # a bug or the system: still one line
            _report(exc, debug, with_type=True)
            return EXIT_FAILURE


def _report(exc: BaseException, debug: bool, with_type: bool = False) -> None:
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    text = str(exc).strip() or type(exc).__name__
    if with_type:
        text = f"{type(exc).__name__}: {text}" + ("" if debug else " (--debug shows the traceback)")
    _error(text)


@contextlib.contextmanager
def _logging(debug: bool):
    """gnet's log records (warnings, or everything with --debug) on stderr, while main runs."""
    logger = logging.getLogger("gnet")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    handler.setLevel(logging.DEBUG if debug else logging.WARNING)
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


def _thread_count(flag: int | None) -> int:
    """--threads, else $GNET_THREADS, else half the logical CPUs (at least 1)."""
    if flag is not None:
        return flag
    env = os.environ.get("GNET_THREADS")
    if env:
        if not env.strip().isdigit() or int(env) < 1:
            raise ConfigError(f"$GNET_THREADS {env!r}: expected an integer >= 1")
        return int(env)
    return max(1, (os.cpu_count() or 2) // 2)


@contextlib.contextmanager
def _thread_limit(threads: int | None):
    """Limit the BLAS / OpenMP thread pools (threadpoolctl) and torch's, while main runs.

    OpenBLAS threads wait for each other at every matrix product; on a shared
    2-core machine a descheduled one stalls the rest (measured: 86 s for the
    default run with 2 threads next to another busy process, 12 s with 1).
    """
    if threads is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it the libraries keep their defaults
        logging.getLogger("gnet").debug("threadpoolctl not installed: --threads ignored")
        yield
        return
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=threads):
        try:
            yield
        finally:
            torch = sys.modules.get("torch")
            if torch is not None and before is not None:
                torch.set_num_threads(before)


class _Missing(Exception):
    """An optional part of gnet (demo, plots) is not installed."""


def _optional(module: str, feature: str) -> Any:
    """Import an optional gnet module, or raise _Missing with one plain line."""
    if importlib.util.find_spec(module) is None:
        raise _Missing(f"{feature} is not available: module {module} is missing in this gnet")
    return importlib.import_module(module)


# ================================================================ shared steps


def _backend(spec: str | None, out: Output, threads: int | None = None) -> Any:
    """The backend for --device (default $GNET_DEVICE, else cpu); says what auto took."""
    from .backend import get_backend
    from .errors import DeviceError

    requested = spec or os.environ.get("GNET_DEVICE") or "cpu"
    try:
        backend = get_backend(requested)
    except (DeviceError, ValueError) as exc:
        text = str(exc)
        if not text.startswith("--device"):
            source = "--device" if spec else "$GNET_DEVICE"
            text = f"{source} {requested}: {text}"
        raise type(exc)(text) from exc
    if requested.strip().lower() == "auto":
        out.print(f"device auto: using {backend.spec} ({backend.describe()})")
    if backend.name == "torch" and threads:
        import torch

        torch.set_num_threads(threads)  # _thread_limit restores it
    return backend


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _device_name(backend: Any) -> str:
    if backend.name == "cupy":
        return f"cuda:{backend.device.id}"
    return str(backend.device)


def _writable_file(path: str, flag: str) -> Path:
    """Check now, before any work, that ``path`` can be written (atomically, later)."""
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{flag} {path}: is a directory; give a file name")
    folder = target.parent
    if not folder.exists():
        raise ConfigError(f"{flag} {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise ConfigError(f"{flag} {path}: {folder} is not a folder")
    _probe(folder, f"{flag} {path}")
    return target


def _plot_output(args: argparse.Namespace, what: str) -> tuple[Any, Path | None]:
    """(gnet.plots, the --plot folder), checked before any work; (None, None) without --plot."""
    if not args.plot:
        return None, None
    return _optional("gnet.plots", f"--plot ({what})"), _writable_dir(args.plot, "--plot")


def _writable_dir(path: str, flag: str) -> Path:
    """Create the folder ``path`` if needed and check that files can be written in it."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"{flag} {path}: exists and is not a folder") from None
    except OSError as exc:
        raise ConfigError(
            f"{flag} {path}: cannot create the folder ({exc.strerror or exc})"
        ) from None
    _probe(folder, f"{flag} {path}")
    return folder


def _probe(folder: Path, what: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=".gnet-write-test.", dir=folder)
    except OSError as exc:
        raise ConfigError(f"{what}: cannot write in {folder} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(tmp)


def _load_dataset(args: argparse.Namespace, name: str, limit: int | None = None):
    """((X, y), (X_test, y_test)) of data set ``name`` on the host; ``limit``
    keeps the first images of each split (quick runs and tests)."""
    from . import data

    (X, y), (X_test, y_test) = data.load(name, data_dir=args.data_dir, download=args.download)
    if limit:
        X, y, X_test, y_test = X[:limit], y[:limit], X_test[:limit], y_test[:limit]
    return (X, y), (X_test, y_test)


def _write_json(path: Path, payload: dict) -> None:
    from .io import atomic_write_bytes

    text = json.dumps(payload, indent=2) + "\n"
    try:
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"--metrics-json {path}: cannot write ({exc.strerror or exc})") from None


def _test_metrics(report: dict) -> dict:
    """The ``test`` part of the metrics JSON (DESIGN "Metrics JSON")."""
    return {
        "accuracy": report["accuracy"],
        "loss": report["loss"],
        "confusion_matrix": report["confusion_matrix"],
        "per_class": [
            {k: row[k] for k in ("label", "accuracy", "precision", "recall", "f1", "support")}
            for row in report["per_class"]
        ],
        "macro_f1": report["macro_f1"],
    }


def _epoch_metrics(record: dict) -> dict:
    keys = ("epoch", "seconds", "loss", "accuracy", "val_loss", "val_accuracy")
    return {k: record[k] for k in keys if k in record}


def _metrics(
    net: Any, config: dict, report: dict, history: Any = None, dataset: str | None = None
) -> dict:
    from .references import compare

    payload = {
        "gnet_version": __version__,
        "backend": net.backend.name,
        "device": _device_name(net.backend),
        "dtype": net.dtype_name,
        "config": config,
    }
    if history is not None:
        payload["train"] = {
            "seconds": history.seconds,
            "samples_per_second": history.samples_per_second,
            "epochs": [_epoch_metrics(e) for e in history.epochs],
        }
    payload["test"] = _test_metrics(report)
    payload["test"]["references"] = compare(dataset or config.get("dataset"), report["accuracy"])
    return payload


def _print_references(out: Output, dataset: str, accuracy: float) -> None:
    """The "compared with published MLPs" block (gnet.references), after the tables."""
    from .references import comparison_text

    text = comparison_text(dataset, accuracy)
    if text:
        out.print("")
        out.print(text)


def _check_model_fits(net: Any, dataset: str, X: Any, path: str) -> None:
    from .data import DATASETS

    classes = len(DATASETS[dataset]["class_names"])
    if net.n_inputs != X.shape[1] or net.n_classes != classes:
        raise ConfigError(
            f"{path}: the model has {net.n_inputs} inputs and {net.n_classes} outputs, "
            f"but {dataset} has {X.shape[1]} pixels and {classes} classes"
        )


# ====================================================================== train


class _EpochLines:
    """Callback: one line per epoch (seconds, loss, accuracy, validation)."""

    def __init__(self, out: Output, epochs: int):
        self.out = out
        self.epochs = epochs

    def on_epoch_end(self, epoch: int, record: dict) -> None:
        from .report import epoch_line

        self.out.print(epoch_line(record, self.epochs))

    def close(self) -> None:
        pass


class _ProgressBars(_EpochLines):
    """Callback: a rich progress bar per epoch (batches, samples/s, running loss)
    and the epoch line when it ends. Reads the device at most PROGRESS_HZ times a second."""

    def __init__(self, out: Output, epochs: int):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        super().__init__(out, epochs)
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}/" + str(epochs)),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("batches {task.fields[rate]:>8} samples/s loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            console=out.console,
            transient=True,
        )
        self.task = None
        self.started = False

    def on_train_begin(self, net: Any, info: dict) -> None:
        self.progress.start()
        self.started = True

    def on_epoch_begin(self, epoch: int, info: dict) -> None:
        self.start = self.last = time.perf_counter()
        self.task = self.progress.add_task(
            "train", total=info["batches"], epoch=epoch, rate="-", loss="-"
        )

    def on_batch_end(self, batch: int, info: dict) -> None:
        now = time.perf_counter()
        if now - self.last < 1.0 / PROGRESS_HZ:
            return
        self.last = now
        self.progress.update(
            self.task,
            completed=batch + 1,
            rate=f"{info['samples'] / max(now - self.start, 1e-9):,.0f}",
            loss=f"{info['running_loss']():.4f}",
        )

    def on_epoch_end(self, epoch: int, record: dict) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
        super().on_epoch_end(epoch, record)

    def close(self) -> None:
        if self.started:
            self.progress.stop()
            self.started = False


def _augmenter(config: dict) -> Any:
    """The data-augmentation function for ``augment`` (random shifts), when asked for."""
    from .data import DATASETS

    if not config.get("augment"):
        return None
    module = _optional("gnet.augment", "augment (random shifts of training images)")
    shape = DATASETS[config["dataset"]]["image_shape"]
    return module.make_augment(config["augment"], image_shape=shape, seed=config["seed"])


def _resolve_config(args: argparse.Namespace) -> dict:
    """DEFAULTS < --config file < flags, with errors naming the file or the flags."""
    from .config import load_config, resolve

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


def _describe_run(
    config: dict, n_train: int, n_val: int, n_test: int, backend: Any, threads: int | None
) -> str:
    arch = "-".join(str(n) for n in config["layers"])
    acts = "/".join(config["activations"])
    batch = {"per-sample": "per-sample", "full-batch": "full-batch"}.get(
        config["mode"], f"mini-batch {config['batch_size']}"
    )
    if config["batch_schedule"]:
        batch += f" to {config['batch_schedule']['final']} ({config['batch_schedule']['type']})"
    opt = f"{config['optimizer']} lr {config['learning_rate']:g}"
    if config["optimizer"] == "sgd" and config["momentum"]:
        opt += f" momentum {config['momentum']:g}" + (" nesterov" if config["nesterov"] else "")
    extras = [f"{k} {config[k]:g}" for k in ("l1", "l2", "dropout", "dropconnect") if config[k]]
    if config["lr_schedule"]:
        spec = dict(config["lr_schedule"])
        extras.append(
            "schedule " + spec.pop("type") + "".join(f" {k}={v:g}" for k, v in spec.items())
        )
    if config["normalize"]:
        extras.append("normalized inputs")
    val = f", {n_val} validation" if n_val else ""
    threads = f", {threads} thread{'s' if threads != 1 else ''}" if threads else ""
    return (
        f"{config['dataset']}: {n_train} training{val}, {n_test} test images; "
        f"network {arch} {acts}, {config['loss']}, init {config['init']}, {config['dtype']}; "
        f"{batch}, {opt}{', ' + ', '.join(extras) if extras else ''}; "
        f"{_plural(config['epochs'], 'epoch')}, seed {config['seed']}; device {backend.spec} "
        f"({backend.describe()}{threads})"
    )


def cmd_train(args: argparse.Namespace, out: Output) -> int:
    from . import data
    from .checkpoint import CheckpointCallback, build_optimizer, load_checkpoint
    from .network import Network
    from .report import duration_text, evaluation_text
    from .train import History

    started = time.perf_counter()
    # ---- everything that can be checked is checked before the data loads
    checkpoint = None
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
    backend = _backend(args.device, out, args.thread_limit)
    if args.resume:
        checkpoint = load_checkpoint(args.resume, device=backend)
        config = dict(checkpoint.config)
        if args.epochs is not None:
            config["epochs"] = args.epochs
        if config["epochs"] <= checkpoint.epochs_trained:
            raise ConfigError(
                f"--resume {args.resume}: the checkpoint has {checkpoint.epochs_trained} of "
                f"{config['epochs']} epochs already; pass --epochs N with N > "
                f"{checkpoint.epochs_trained} to train further"
            )
    out_path = _writable_file(args.out, "--out") if args.out else None
    metrics_path = (
        _writable_file(args.metrics_json, "--metrics-json") if args.metrics_json else None
    )
    ckpt_dir = (
        _writable_dir(args.checkpoint_dir, "--checkpoint-dir") if args.checkpoint_dir else None
    )
    plots, plot_dir = _plot_output(args, "training plots")
    augment = _augmenter(config)

    # ---- data, network, optimiser
    dataset = config["dataset"]
    (X, y), (X_test, y_test) = _load_dataset(args, dataset, args.limit)
    validation = None
    if config["validation_split"]:
        (X, y), (X_val, y_val) = data.train_validation_split(
            X, y, config["validation_split"], config["seed"]
        )
        if len(X_val) == 0:
            raise ConfigError(
                f"validation_split {config['validation_split']:g}: leaves no validation "
                f"images out of {len(X) + len(X_val)}"
            )
        validation = (X_val, y_val)
    if checkpoint is not None:
        net, optimizer, earlier = checkpoint.net, checkpoint.optimizer, checkpoint.history
        _check_model_fits(net, dataset, X_test, args.resume)
    else:
        mean, std = data.normalization_stats(X) if config["normalize"] else (0.0, 1.0)
        net = Network.from_architecture(
            config,
            device=backend,
            input_mean=mean,
            input_std=std,
            class_names=data.DATASETS[dataset]["class_names"],
        )
        _check_model_fits(net, dataset, X_test, "--layers")
        optimizer, earlier = build_optimizer(config), History()

    out.print(
        _describe_run(
            config,
            len(X),
            len(validation[0]) if validation else 0,
            len(X_test),
            backend,
            args.thread_limit,
        )
    )
    if checkpoint is not None:
        out.print(
            f"resuming {args.resume} after epoch {checkpoint.epochs_trained} of {config['epochs']}"
        )

    # ---- training
    display = (
        _ProgressBars(out, config["epochs"])
        if out.is_terminal and not out.quiet
        else _EpochLines(out, config["epochs"])
    )
    callbacks: list[Any] = [display]
    if ckpt_dir is not None:
        callbacks.append(CheckpointCallback(ckpt_dir, optimizer, config, earlier, dataset=dataset))
    try:
        history = net.fit(
            X,
            y,
            epochs=config["epochs"] - net.epochs_trained,
            mode=config["mode"],
            batch_size=config["batch_size"],
            optimizer=optimizer,
            lr_schedule=config["lr_schedule"],
            batch_schedule=config["batch_schedule"],
            validation_data=validation,
            callbacks=callbacks,
            early_stopping=config["early_stopping"],
            augment=augment,
            record_batches=plots is not None,
        )
    except KeyboardInterrupt:
        display.close()
        if ckpt_dir is not None:
            print(
                f"{PROG}: interrupted after epoch {net.epochs_trained}; continue with: "
                f"gnet train --resume {ckpt_dir}",
                file=sys.stderr,
            )
        raise
    finally:
        display.close()
    if history.stopped_early:
        out.print(
            f"early stopping after epoch {history.epochs[-1]['epoch']}: restored the weights "
            f"of epoch {history.best_epoch}"
        )
    full = History(
        epochs=list(earlier.epochs) + list(history.epochs),
        batch_losses=[[] for _ in earlier.epochs] + list(history.batch_losses),
        stopped_early=history.stopped_early,
        best_epoch=history.best_epoch,
    )

    # ---- test, outputs
    report = net.evaluate(X_test, y_test)
    out.print("")
    out.print(evaluation_text(report, net.class_names))
    _print_references(out, dataset, report["accuracy"])
    if out_path is not None:
        net.save(
            out_path,
            dataset=dataset,
            test={k: report[k] for k in ("accuracy", "loss", "macro_f1", "confusion_matrix")},
            train_config=config,
        )
    if metrics_path is not None:
        _write_json(metrics_path, _metrics(net, config, report, full, dataset))
    if plots is not None:
        paths = plots.save_training_plots(full, plot_dir)
        paths += plots.save_evaluation_plots(net, X_test, y_test, report, plot_dir)
        out.print("plots: " + ", ".join(str(p) for p in paths))
    total = time.perf_counter() - started
    n = report["n_samples"]
    correct = round(report["accuracy"] * n)
    saved = f"; model saved to {out_path}" if out_path else ""
    out.final(
        f"test accuracy {100 * report['accuracy']:.2f}% ({correct}/{n}) on {dataset} after "
        f"{_plural(net.epochs_trained, 'epoch')}; training {duration_text(full.seconds)}, "
        f"total {duration_text(total)}{saved}"
    )
    return EXIT_OK


# =================================================================== evaluate


def cmd_evaluate(args: argparse.Namespace, out: Output) -> int:
    from .backend import to_numpy
    from .io import load_model
    from .report import ascii_digits, evaluation_text, most_confident_mistakes, sixel

    backend = _backend(args.device, out, args.thread_limit)
    metrics_path = (
        _writable_file(args.metrics_json, "--metrics-json") if args.metrics_json else None
    )
    plots, plot_dir = _plot_output(args, "evaluation plots")
    net = load_model(args.model, device=backend)
    dataset = args.dataset or net.metadata.get("dataset") or "mnist"
    _, (X_test, y_test) = _load_dataset(args, dataset, args.limit)
    _check_model_fits(net, dataset, X_test, args.model)
    report = net.evaluate(X_test, y_test)
    out.print(f"{args.model}: {net!r}, evaluated on the {dataset} test set")
    out.print("")
    out.print(evaluation_text(report, net.class_names))
    _print_references(out, dataset, report["accuracy"])
    if args.misclassified:
        proba = to_numpy(net.predict_proba(X_test))
        mistakes = most_confident_mistakes(proba, y_test, args.misclassified)
        names = net.class_names
        out.print("")
        out.print(f"The {len(mistakes)} most confident mistakes:")
        captions = [
            f"#{m['index']} true {names[m['true']]} -> {names[m['predicted']]} "
            f"({100 * m['confidence']:.1f}%)"
            for m in mistakes
        ]
        pictures = [X_test[m["index"]] for m in mistakes]
        if args.sixel:
            for caption, pixels in zip(captions, pictures, strict=True):
                out.print(caption)
                out.raw(sixel(pixels))
        else:
            out.print(ascii_digits(pictures, captions, per_row=max(1, out.console.width // 60)))
    if metrics_path is not None:
        config = dict(net.metadata.get("train_config") or net.config())
        _write_json(metrics_path, _metrics(net, config, report, dataset=dataset))
    if plots is not None:
        paths = plots.save_evaluation_plots(net, X_test, y_test, report, plot_dir)
        out.print("plots: " + ", ".join(str(p) for p in paths))
    n = report["n_samples"]
    out.final(
        f"test accuracy {100 * report['accuracy']:.2f}% "
        f"({round(report['accuracy'] * n)}/{n}) on {dataset}"
    )
    return EXIT_OK


# ==================================================================== predict


def cmd_predict(args: argparse.Namespace, out: Output) -> int:
    import numpy as np

    from .backend import to_numpy
    from .images import SIZE, prepare
    from .io import load_model
    from .report import ascii_digit, top_k

    backend = _backend(args.device, out, args.thread_limit)
    net = load_model(args.model, device=backend)
    if net.n_inputs != SIZE * SIZE:
        raise ConfigError(
            f"{args.model}: the model takes {net.n_inputs} inputs, not the "
            f"{SIZE}x{SIZE} = {SIZE * SIZE} pixels of an image"
        )
    X = np.stack([prepare(path) for path in args.images])
    proba = to_numpy(net.predict_proba(X))
    names = net.class_names
    for path, pixels, row in zip(args.images, X, proba, strict=True):
        best = top_k(row, args.top)
        if args.show:
            out.final("\n".join(ascii_digit(pixels)))
        out.final(f"{path}: {names[best[0][0]]}")
        for k, p in best:
            out.final(f"  {names[k]:>{max(len(n) for n in names)}}  {100 * p:6.2f}%")
    return EXIT_OK


# ===================================================================== images


def cmd_images(args: argparse.Namespace, out: Output) -> int:
    from .backend import to_numpy
    from .images import to_png
    from .io import load_model

    backend = _backend(args.device, out, args.thread_limit)
    folder = _writable_dir(args.out, "--out")
    net = load_model(args.model, device=backend)
    dataset = args.dataset or net.metadata.get("dataset") or "mnist"
    train, test = _load_dataset(args, dataset)
    X, y = train if args.split == "train" else test
    X, y = X[: args.count], y[: args.count]
    _check_model_fits(net, dataset, X, args.model)
    predicted = to_numpy(net.predict(X))
    wrong = 0
    for i, (pixels, label, guess) in enumerate(zip(X, y, predicted, strict=True)):
        wrong += int(label != guess)
        to_png(pixels, folder / f"{args.split}-{i:05d}-true-{label}-pred-{guess}.png", args.scale)
    out.final(
        f"wrote {len(X)} PNGs of the {dataset} {args.split} split to {folder} "
        f"({wrong} misclassified)"
    )
    return EXIT_OK


# ======================================================================= demo


def cmd_demo(args: argparse.Namespace, out: Output) -> int:
    demo = _optional("gnet.demo", "gnet demo")
    demo.serve(args.model, host=args.host, port=args.port, open_browser=args.open)
    return EXIT_OK


# ======================================================================= info


def cmd_info(args: argparse.Namespace, out: Output) -> int:
    from importlib import metadata

    from .backend import get_backend, library_versions
    from .data import DATASETS, default_data_dir

    out.print(f"gnet {__version__}")
    out.print(
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )
    versions = library_versions()
    for dist in ("rich", "safetensors", "matplotlib", "pillow", "pooch"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    out.print("libraries: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    out.print("backends:")
    gpus: list[str] = []
    for spec, label in (("cpu", "numpy"), ("strict", "array-api-strict"), ("torch", "torch")):
        try:
            backend = get_backend(spec)
            out.print(f"  {spec:<10} available ({label}, {backend.describe()})")
        except Exception as exc:
            out.print(f"  {spec:<10} not available: {exc}")
    try:
        import torch

        if torch.cuda.is_available():
            names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            gpus += [f"torch:cuda:{i} {n}" for i, n in enumerate(names)]
            out.print(f"  {'torch:cuda':<10} available ({len(names)} GPU(s))")
        else:
            out.print(f"  {'torch:cuda':<10} not available: this PyTorch build sees no CUDA GPU")
    except ImportError:
        pass
    try:
        cupy = importlib.import_module("cupy")
        count = cupy.cuda.runtime.getDeviceCount()
        for i in range(count):
            props = cupy.cuda.runtime.getDeviceProperties(i)
            gpus.append(f"cuda:{i} {props['name'].decode()}")
        out.print(f"  {'cuda':<10} available (cupy, {count} GPU(s))")
    except ImportError:
        out.print(
            f"  {'cuda':<10} not available: CuPy is not installed (pip install 'gnet[cuda12]')"
        )
    except Exception as exc:
        out.print(f"  {'cuda':<10} not available: CuPy finds no usable GPU ({exc})")
    out.print("GPUs: " + ("; ".join(gpus) if gpus else "none found"))
    root = default_data_dir()
    present = []
    for name, info in DATASETS.items():
        folder = root / name
        have = all(
            (folder / f["name"]).is_file() or (folder / f["name"].removesuffix(".gz")).is_file()
            for f in info["files"].values()
        )
        present.append(f"{name} {'present' if have else 'not downloaded'}")
    out.final(f"data: {root} ({', '.join(present)})")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
