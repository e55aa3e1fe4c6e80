"""``gnet evaluate MODEL``: a saved model on its data set's test split."""

from __future__ import annotations

import argparse
from typing import Any

from . import base
from .base import EXIT_OK, Output, Parents


def add_parser(sub: Any, parents: Parents) -> argparse.ArgumentParser:
    from ..config import DATASETS

    evaluate: argparse.ArgumentParser = sub.add_parser(
        "evaluate",
        parents=[parents.common, parents.device, parents.data],
        help="evaluate a saved model on a test set",
        description="Evaluate a model file on its data set's test split.",
    )
    evaluate.add_argument("model", metavar="MODEL")
    evaluate.add_argument("--dataset", type=str.lower, choices=DATASETS)
    evaluate.add_argument("--metrics-json", metavar="FILE")
    evaluate.add_argument(
        "--misclassified", type=base.non_negative_int, metavar="N", help="show the N worst mistakes"
    )
    evaluate.add_argument("--sixel", action="store_true", help="draw those mistakes as Sixel")
    evaluate.add_argument("--plot", metavar="DIR")
    evaluate.add_argument("--limit", type=base.positive_int, metavar="N", help=argparse.SUPPRESS)
    evaluate.add_argument("--quiet", "-q", action="store_true", help="print only the final line")
    return evaluate


def cmd_evaluate(args: argparse.Namespace, out: Output) -> int:
    from ..backend import to_numpy
    from ..io import load_model
    from ..outputs import metrics_payload, writable_dir, writable_file, write_json
    from ..report import ascii_digits, evaluation_text, most_confident_mistakes, sixel
    from ..run import (
        check_model_fits,
        load_data,
    )

    device = base.backend(args.device, out, args.thread_limit)
    metrics_path = writable_file(args.metrics_json, "--metrics-json") if args.metrics_json else None
    plots = plot_dir = None
    if args.plot:
        plots = base.optional("gnet.plots", "--plot (evaluation plots)")
        plot_dir = writable_dir(args.plot, "--plot")
    net = load_model(args.model, device=device)
    dataset = args.dataset or net.metadata.get("dataset") or "mnist"
    _, (X_test, y_test) = load_data(dataset, args.data_dir, args.download, args.limit)
    check_model_fits(net, dataset, X_test, args.model)
    report = net.evaluate(X_test, y_test)
    out.print(f"{args.model}: {net!r}, evaluated on the {dataset} test set")
    out.print("")
    out.print(evaluation_text(report, net.class_names))
    base.print_references(out, dataset, report["accuracy"], net)
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
        write_json(
            metrics_path, metrics_payload(net, config, report, dataset=dataset), "--metrics-json"
        )
    if plots is not None:
        paths = plots.save_evaluation_plots(net, X_test, y_test, report, plot_dir)
        out.print("plots: " + ", ".join(str(p) for p in paths))
    n = report["n_samples"]
    out.final(
        f"test accuracy {100 * report['accuracy']:.2f}% "
        f"({round(report['accuracy'] * n)}/{n}) on {dataset}"
    )
    return EXIT_OK
