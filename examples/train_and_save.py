"""Train a network on MNIST from Python and save it as a model file.

    python examples/train_and_save.py                      # full MNIST, about a minute on 2 cores
    python examples/train_and_save.py --train-samples 2000 --epochs 1 --out /tmp/small.safetensors

MNIST is read from $GNET_DATA_DIR (or downloaded once into gnet's cache).
The model file holds the weights, the architecture, the input
normalisation and the class names: examples/use_saved_model.py loads it in
another program, and so does `gnet evaluate MODEL`.
"""

from __future__ import annotations

import argparse
import logging

import gnet
from gnet.data import normalization_stats, train_validation_split


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="mnist.safetensors", help="model file to write")
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, torch, ... (default $GNET_DEVICE or cpu)"
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--train-samples", type=int, default=None, help="use the first N training images"
    )
    parser.add_argument(
        "--test-samples", type=int, default=None, help="evaluate on the first N test images"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # gnet logs, never prints

    (X, y), (X_test, y_test) = gnet.datasets.load("mnist")  # host NumPy, X in [0, 1]
    X, y = X[: args.train_samples], y[: args.train_samples]
    X_test, y_test = X_test[: args.test_samples], y_test[: args.test_samples]
    (X_train, y_train), (X_val, y_val) = train_validation_split(X, y, fraction=0.1, seed=0)
    mean, std = normalization_stats(X_train)  # stored in the model file, applied on every input

    net = gnet.Network(
        [784, 128, 10],
        ["relu", "softmax"],
        loss="cross-entropy",
        init="he",
        device=args.device,
        seed=0,
        input_mean=mean,
        input_std=std,
    )

    class Progress(gnet.Callback):
        def on_epoch_end(self, epoch: int, logs: dict) -> None:
            print(
                f"epoch {epoch:2d}  loss {logs['loss']:.4f}  accuracy {logs['accuracy']:.4f}  "
                f"validation {logs['val_accuracy']:.4f}  ({logs['seconds']:.1f} s)"
            )

    history = net.fit(
        X_train,
        y_train,
        epochs=args.epochs,
        mode="mini-batch",
        batch_size=128,
        optimizer=gnet.optim.SGD(learning_rate=0.1, momentum=0.9),
        validation_data=(X_val, y_val),
        early_stopping=3,
        callbacks=[Progress()],
    )
    report = net.evaluate(X_test, y_test)
    speed = history.samples_per_second
    print(f"{net}: test accuracy {report['accuracy']:.4f} ({speed:,.0f} samples/s)")
    net.save(
        args.out, dataset="mnist", test={"accuracy": report["accuracy"], "loss": report["loss"]}
    )
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
