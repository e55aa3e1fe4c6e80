"""``gnet predict MODEL IMAGE...``: classify image files, top K classes each."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigError
from . import base
from .base import EXIT_OK, Output, Parents


def add_parser(sub: Any, parents: Parents) -> argparse.ArgumentParser:
    predict: argparse.ArgumentParser = sub.add_parser(
        "predict",
        parents=[parents.common, parents.device],
        help="classify image files (PNG, JPEG, BMP, ...)",
        description="Classify images: greyscale, inverted when the background is light, "
        "cropped to the ink and centred the MNIST way. Images of up to 40 megapixels "
        "are read (a larger one is refused before it is decoded).",
    )
    predict.add_argument("model", metavar="MODEL")
    predict.add_argument(
        "images", metavar="IMAGE", nargs="+", help="image files of up to 40 megapixels each"
    )
    predict.add_argument("--top", type=base.positive_int, default=3, metavar="K")
    predict.add_argument("--show", action="store_true", help="print the 28x28 input as ASCII")
    return predict


def cmd_predict(args: argparse.Namespace, out: Output) -> int:
    import numpy as np

    from ..backend import to_numpy
    from ..images import SIZE, prepare
    from ..io import load_model
    from ..report import ascii_digit, top_k

    device = base.backend(args.device, out, args.thread_limit)
    net = load_model(args.model, device=device)
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
