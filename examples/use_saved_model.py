"""Use a saved gnet model in another program: load it and predict.

    python examples/use_saved_model.py mnist.safetensors                 # MNIST test set
    python examples/use_saved_model.py mnist.safetensors --count 100     # its first 100 images
    python examples/use_saved_model.py mnist.safetensors digit.png ...   # your own images

Loading a model file never executes code, and a model trained on a GPU
loads on a CPU (and the reverse): pick the device with --device.
"""

from __future__ import annotations

import argparse

import numpy as np

import gnet
from gnet.images import prepare


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a model file written by Network.save or `gnet train --out`")
    parser.add_argument("images", nargs="*", help="image files (any size; centred the MNIST way)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--count", type=int, default=None, help="first N test images only")
    args = parser.parse_args(argv)

    net = gnet.load(args.model, device=args.device)
    print(f"loaded {net} trained {net.epochs_trained} epochs; classes {net.class_names}")

    if args.images:
        X = np.stack([prepare(path) for path in args.images])  # (N, 784) float32 in [0, 1]
        proba = gnet.to_numpy(net.predict_proba(X))  # (N, 10) on the host
        for path, p in zip(args.images, proba, strict=True):
            best = np.argsort(p)[::-1][:3]
            top = ", ".join(f"{net.class_names[k]} {p[k]:.1%}" for k in best)
            print(f"{path}: {net.class_names[best[0]]}  ({top})")
        return

    _, (X_test, y_test) = gnet.datasets.load("mnist")
    X_test, y_test = X_test[: args.count], y_test[: args.count]
    labels = gnet.to_numpy(net.predict(X_test))  # (N,) int64 class indices
    print("first predictions:", " ".join(net.class_names[k] for k in labels[:20]))
    report = net.evaluate(X_test, y_test)  # accuracy, loss, confusion matrix, per-class metrics
    print(
        f"test accuracy {report['accuracy']:.4f}, loss {report['loss']:.4f}, "
        f"macro F1 {report['macro_f1']:.4f} on {report['n_samples']} images"
    )


if __name__ == "__main__":
    main()
