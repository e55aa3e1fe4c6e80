"""``gnet images MODEL``: data set images as PNGs named with true label and prediction."""

from __future__ import annotations

import argparse
from typing import Any

from . import base
from .base import EXIT_OK, Output, Parents


def add_parser(sub: Any, parents: Parents) -> argparse.ArgumentParser:
    from ..config import DATASETS

    images: argparse.ArgumentParser = sub.add_parser(
        "images",
        parents=[parents.common, parents.device, parents.data],
        help="save data set images as PNGs named with true label and prediction",
    )
    images.add_argument("model", metavar="MODEL")
    images.add_argument("--dataset", type=str.lower, choices=DATASETS)
    images.add_argument("--split", choices=("train", "test"), default="test")
    images.add_argument("--count", type=base.positive_int, default=20, metavar="N")
    images.add_argument("--out", metavar="DIR", default="gnet-images")
    images.add_argument("--scale", type=base.positive_int, default=1, metavar="K")
    return images


def cmd_images(args: argparse.Namespace, out: Output) -> int:
    from ..backend import to_numpy
    from ..images import to_png
    from ..io import load_model
    from ..outputs import writable_dir
    from ..run import check_model_fits, load_data

    device = base.backend(args.device, out, args.thread_limit)
    folder = writable_dir(args.out, "--out")
    net = load_model(args.model, device=device)
    dataset = args.dataset or net.metadata.get("dataset") or "mnist"
    train, test = load_data(dataset, args.data_dir, args.download)
    X, y = train if args.split == "train" else test
    X, y = X[: args.count], y[: args.count]
    check_model_fits(net, dataset, X, args.model)
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
