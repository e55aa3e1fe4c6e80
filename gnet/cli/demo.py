"""``gnet demo MODEL``: draw digits in the browser and watch the network (gnet.demo)."""

from __future__ import annotations

import argparse
from typing import Any

from . import base
from .base import EXIT_OK, Output, Parents


def add_parser(sub: Any, parents: Parents) -> argparse.ArgumentParser:
    demo: argparse.ArgumentParser = sub.add_parser(
        "demo", parents=[parents.common], help="draw digits in the browser and watch the network"
    )
    demo.add_argument("model", metavar="MODEL")
    demo.add_argument("--port", type=base.port, default=8765)
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--open", action="store_true", help="open the page in a browser")
    return demo


def cmd_demo(args: argparse.Namespace, out: Output) -> int:
    demo = base.optional("gnet.demo", "gnet demo")
    demo.serve(args.model, host=args.host, port=args.port, open_browser=args.open)
    return EXIT_OK
