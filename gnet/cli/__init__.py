"""The ``gnet`` command line: argument parsing and printing only.

Every computation happens in the library (gnet.run, gnet.network, gnet.data,
gnet.io); each command is one module here that turns flags into calls and
results into text (gnet.report) on stdout:

    base.py      output, shared options, and the exit statuses (the only
                 place exceptions are mapped to them)
    train.py     gnet train     -> gnet.run
    evaluate.py  gnet evaluate  predict.py  gnet predict
    images.py    gnet images    demo.py     gnet demo     info.py  gnet info
    export.py    gnet export    -> gnet.onnx

``main(argv)`` returns the exit status; the console script and
``python -m gnet`` exit with it.
"""

from __future__ import annotations

import importlib.util  # noqa: F401  (gnet.cli.importlib.util: tests patch find_spec)
import sys

from .. import __version__
from . import base, demo, evaluate, export, images, info, predict, train
from .base import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PROG, Output, Parents
from .demo import cmd_demo
from .evaluate import cmd_evaluate
from .export import cmd_export
from .images import cmd_images
from .info import cmd_info
from .predict import cmd_predict
from .train import CONFIG_FLAGS, RESUME_FLAGS, _resolve_config, cmd_train

# Command name -> the module that adds its parser; its handler is this
# package's cmd_<name>, looked up when the command runs.
COMMANDS = {
    "train": train,
    "evaluate": evaluate,
    "predict": predict,
    "images": images,
    "demo": demo,
    "info": info,
    "export": export,
}


def build_parser() -> base.Parser:
    parents = Parents()
    parser = base.Parser(
        prog=PROG,
        description="gnet: a from-scratch neural network for MNIST-style images "
        "on NumPy, CuPy, PyTorch or any Array API library.",
        parents=[parents.common],
    )
    parser.set_defaults(debug=False)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=base.Parser)
    for module in COMMANDS.values():
        module.add_parser(sub, parents)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_usage(sys.stderr)
        base.error("a command is required: " + ", ".join(COMMANDS))
        return EXIT_USAGE
    handler = globals()[f"cmd_{args.command}"]
    return base.run_command(handler, args)


__all__ = [
    "CONFIG_FLAGS",
    "COMMANDS",
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "RESUME_FLAGS",
    "Output",
    "_resolve_config",
    "build_parser",
    "cmd_demo",
    "cmd_evaluate",
    "cmd_export",
    "cmd_images",
    "cmd_info",
    "cmd_predict",
    "cmd_train",
    "main",
]
