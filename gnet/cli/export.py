"""``gnet export MODEL OUT.onnx``: write a model file's network as ONNX (gnet.onnx)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .base import EXIT_OK, Output, Parents


def add_parser(sub: Any, parents: Parents) -> argparse.ArgumentParser:
    export: argparse.ArgumentParser = sub.add_parser(
        "export",
        parents=[parents.common],
        help="write a model as ONNX (needs gnet[onnx])",
        description="Write MODEL as an ONNX file that any ONNX runtime runs: input 'image' "
        "(what gnet is fed: flat rows, or NHWC images for a convolutional model, normalised "
        "inside the graph), outputs 'probabilities' and 'label'. Needs the onnx package "
        "(pip install 'gnet[onnx]').",
    )
    export.add_argument("model", metavar="MODEL")
    export.add_argument("out", metavar="OUT.onnx")
    return export


def cmd_export(args: argparse.Namespace, out: Output) -> int:
    from ..io import load_model
    from ..onnx import OPSET, export, require_onnx

    require_onnx()  # before the model loads: a missing package is the first thing said
    net = load_model(args.model, device="cpu")
    model = export(net, args.out)
    size = os.path.getsize(args.out)
    shape = ", ".join(str(d) for d in ("N", *net.input_shape))
    out.final(
        f"wrote {args.out} ({size / 1024:,.0f} KiB, ONNX opset {OPSET}): input image "
        f"({shape}) {net.dtype_name}, outputs probabilities (N, {net.n_classes}) and label (N,); "
        f"{len(model.graph.node)} nodes"
    )
    return EXIT_OK
