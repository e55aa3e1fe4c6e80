"""Train a network on MNIST from Python and save it as a model file.

    python examples/train_and_save.py                      # full MNIST, about a minute on 2 cores
    python examples/train_and_save.py --train-samples 2000 --epochs 1 --out /tmp/small.safetensors

``gnet.run`` does what ``gnet train`` does, as one call: it reads the
configuration (a dict here; a JSON file's path works too), loads MNIST from
$GNET_DATA_DIR (or downloads it once into gnet's cache), holds out a
validation split, standardises the inputs, trains, evaluates on the test set
and saves the model file. The file holds the weights, the architecture, the
input normalisation and the class names: examples/use_saved_model.py loads
it in another program, and so does `gnet evaluate MODEL`.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import gnet

CONFIG = {
    "layers": [784, 128, 10],
    "activations": ["relu", "softmax"],
    "loss": "cross-entropy",
    "init": "he",
    "mode": "mini-batch",
    "batch_size": 128,
    "optimizer": "sgd",
    "learning_rate": 0.1,
    "momentum": 0.9,
    "validation_split": 0.1,
    "early_stopping": 3,
    "normalize": True,  # the training set's mean and std, stored in the model file
    "seed": 0,
}


class Progress(gnet.Callback):
    """gnet prints nothing itself: progress comes through callbacks like this one."""

    def on_run_begin(self, info: dict[str, Any]) -> None:
        print(f"{info['n_train']} training, {info['n_validation']} validation images")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        print(
            f"epoch {epoch:2d}  loss {logs['loss']:.4f}  accuracy {logs['accuracy']:.4f}  "
            f"validation {logs['val_accuracy']:.4f}  ({logs['seconds']:.1f} s)"
        )


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

    result = gnet.run(
        CONFIG,
        epochs=args.epochs,
        device=args.device,
        limit=(args.train_samples, args.test_samples),
        callbacks=[Progress()],
        out=args.out,
    )
    accuracy = result.metrics["test"]["accuracy"]
    speed = result.history.samples_per_second
    print(f"{result.network}: test accuracy {accuracy:.4f} ({speed:,.0f} samples/s)")
    print(f"saved {result.out}")


if __name__ == "__main__":
    main()
