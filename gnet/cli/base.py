"""What every ``gnet`` command shares: output, parser pieces, and the one place
that turns exceptions into exit statuses.

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
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from ..errors import ConfigError, GNetError, TrainingDiverged
from ..optional import MissingModule

PROG = "gnet"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

Handler = Callable[[argparse.Namespace, "Output"], int]


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


def error(message: str) -> None:
    """``gnet: error: message`` on stderr."""
    sys.stderr.write(f"{PROG}: error: {message}\n")


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ====================================================================== parser


class Parser(argparse.ArgumentParser):
    """argparse that names the command in its messages and exits with status 2."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def int_at_least(minimum: int) -> Callable[[str], int]:
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


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0..65535, got {text!r}")
    return value


class Parents:
    """The option groups commands share, as argparse parent parsers."""

    def __init__(self) -> None:
        self.common = argparse.ArgumentParser(add_help=False)
        self.common.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the traceback of an error and the library's debug log",
        )
        self.device = argparse.ArgumentParser(add_help=False)
        self.device.add_argument(
            "--device",
            metavar="DEVICE",
            help="cpu, cuda, cuda:N, torch, torch:cuda, strict or auto "
            "(default: $GNET_DEVICE, else cpu; auto takes cuda when CuPy sees a GPU)",
        )
        self.device.add_argument(
            "--threads",
            type=positive_int,
            metavar="N",
            help="CPU threads for the array library (default: $GNET_THREADS, else half the "
            "logical CPUs, at least 1: on a busy 2-core machine two BLAS threads run several "
            "times slower than one)",
        )
        self.data = argparse.ArgumentParser(add_help=False)
        self.data.add_argument(
            "--data-dir",
            metavar="DIR",
            help="folder holding <dataset>/<IDX files> (default: $GNET_DATA_DIR, "
            "else the cache folder; missing files are downloaded there)",
        )
        self.data.add_argument(
            "--no-download",
            dest="download",
            action="store_false",
            help="use only the files already in the data folder; never download",
        )


# ====================================================================== running


def run_command(handler: Handler, args: argparse.Namespace) -> int:
    """Run one command's handler; the only place exceptions become exit statuses."""
    debug = bool(getattr(args, "debug", False))
    try:
        threads = thread_count(args.threads) if hasattr(args, "threads") else None
        args.thread_limit = threads
    except ConfigError as exc:
        report(exc, debug)
        return EXIT_USAGE
    with _logging(debug), warnings.catch_warnings(), _thread_limit(threads):
        if not debug:
            # overflow and NaN warnings of a diverging run: fit reports those itself
            warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return handler(args, Output(quiet=getattr(args, "quiet", False)))
        except KeyboardInterrupt:
            error("interrupted")
            return EXIT_INTERRUPTED
        except TrainingDiverged as exc:
            report(exc, debug)
            return EXIT_FAILURE
        except (GNetError, ValueError) as exc:  # bad input: one line, status 2
            report(exc, debug)
            return EXIT_USAGE
        except MissingModule as exc:
            report(exc, debug)
            return EXIT_FAILURE
        except Exception as exc:  # a bug or the system: still one line
            report(exc, debug, with_type=True)
            return EXIT_FAILURE


def report(exc: BaseException, debug: bool, with_type: bool = False) -> None:
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    text = str(exc).strip() or type(exc).__name__
    if with_type:
        text = f"{type(exc).__name__}: {text}" + ("" if debug else " (--debug shows the traceback)")
    error(text)


@contextlib.contextmanager
def _logging(debug: bool) -> Iterator[None]:
    """gnet's log records (warnings, or everything with --debug) on stderr, while a command runs."""
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


def thread_count(flag: int | None) -> int:
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
def _thread_limit(threads: int | None) -> Iterator[None]:
    """Limit the BLAS / OpenMP thread pools (threadpoolctl) and torch's, while a command runs.

    OpenBLAS threads wait for each other at every matrix product; on a shared
    2-core machine a descheduled one stalls the rest (measured: 86 s for the
    default run with 2 threads next to another busy process, 12 s with 1).
    """
    if threads is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
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


# ================================================================ shared steps


def backend(spec: str | None, out: Output, threads: int | None = None) -> Any:
    """The backend for --device (default $GNET_DEVICE, else cpu); says what auto took."""
    from ..backend import get_backend
    from ..errors import DeviceError

    requested = spec or os.environ.get("GNET_DEVICE") or "cpu"
    try:
        found = get_backend(requested)
    except (DeviceError, ValueError) as exc:
        text = str(exc)
        if not text.startswith("--device"):
            source = "--device" if spec else "$GNET_DEVICE"
            text = f"{source} {requested}: {text}"
        raise type(exc)(text) from exc
    if requested.strip().lower() == "auto":
        out.print(f"device auto: using {found.spec} ({found.describe()})")
    if found.name == "torch" and threads:
        import torch

        torch.set_num_threads(threads)  # _thread_limit restores it
    return found


def optional(module: str, feature: str) -> Any:
    """An optional gnet module (gnet.optional.require, looked up at call time)."""
    from .. import optional as parts

    return parts.require(module, feature)


def print_references(out: Output, dataset: str, accuracy: float, net: Any) -> None:
    """The "compared with published MLPs" (or convolutional networks) block
    (gnet.references), after the tables."""
    from ..references import comparison_text, kind_of

    text = comparison_text(dataset, accuracy, kind_of(net))
    if text:
        out.print("")
        out.print(text)
