"""Published results to compare a test accuracy with, by kind of network.

``REFERENCES`` (multilayer perceptrons) and ``CONV_REFERENCES``
(convolutional networks) map a data set name to ``(name, accuracy, note)``
rows, the accuracy a fraction in [0, 1] on the data set's standard test
split. A gnet result is compared with what the same kind of network reached
(``kind_of``: a network with a conv2d layer is convolutional):

* MNIST: Srivastava et al. 2014 ("Dropout", JMLR 15), Table 2: dropout MLPs
  at 1.25 % error (3 hidden layers of 1024 ReLU) down to 0.95 % (2 x 8192
  ReLU with max-norm); Ciresan et al. 2010 ("Deep, big, simple neural nets
  for handwritten digit recognition"): 0.35 % error with a 6-layer MLP trained
  on elastically distorted images on a GPU.
* Fashion-MNIST: the benchmark table of the Fashion-MNIST repository
  (zalandoresearch/fashion-mnist): the best MLP submitted, 256-128-64, at
  90.0 %, and scikit-learn's ``MLPClassifier`` at 87.0 %.
* Convolutional, MNIST: LeCun et al. 1998 ("Gradient-based learning applied
  to document recognition"), LeNet-5 at 0.95 % error without distortions;
  the Keras mnist_convnet example (the net of configs/mnist-cnn.json) at
  99.22 %; Ciresan et al. 2012 ("Multi-column deep neural networks for image
  classification", CVPR), a committee of 35 nets at 0.23 % error.
* Convolutional, Fashion-MNIST: the benchmark table's submitted results:
  two conv layers with pooling from TensorFlow's tutorial 91.6 %, two conv
  layers under 100 K parameters 92.5 %, ResNet18 with augmentation 94.9 %.

``compare`` and ``comparison_text`` return data and text; nothing here prints.
"""

from __future__ import annotations

from typing import Any

REFERENCES: dict[str, list[tuple[str, float, str]]] = {
    "mnist": [
        (
            "Srivastava et al. 2014, dropout MLP",
            0.9875,
            "3 x 1024 ReLU, dropout; JMLR 15, Table 2",
        ),
        (
            "Srivastava et al. 2014, dropout + max-norm MLP",
            0.9905,
            "2 x 8192 ReLU, dropout, max-norm; JMLR 15, Table 2",
        ),
        (
            "Ciresan et al. 2010, big MLP",
            0.9965,
            "6 layers 2500-2000-1500-1000-500, elastic distortions, GPU",
        ),
    ],
    "fashion-mnist": [
        (
            "scikit-learn MLPClassifier",
            0.870,
            "Fashion-MNIST benchmark table",
        ),
        (
            "Fashion-MNIST benchmark, best MLP",
            0.900,
            "256-128-64; benchmark table, submitted results",
        ),
    ],
}


CONV_REFERENCES: dict[str, list[tuple[str, float, str]]] = {
    "mnist": [
        (
            "LeCun et al. 1998, LeNet-5",
            0.9905,
            "2 conv + 3 dense layers, no distortions; Proc. IEEE 86(11)",
        ),
        (
            "Keras mnist_convnet example",
            0.9922,
            "the net of configs/mnist-cnn.json",
        ),
        (
            "Ciresan et al. 2012, multi-column DNN",
            0.9977,
            "35 conv nets averaged, distortions, GPU; CVPR 2012",
        ),
    ],
    "fashion-mnist": [
        (
            "Fashion-MNIST benchmark, 2 conv + pooling",
            0.916,
            "TensorFlow's tutorial net; benchmark table, submitted results",
        ),
        (
            "Fashion-MNIST benchmark, 2 conv < 100K parameters",
            0.925,
            "benchmark table, submitted results",
        ),
        (
            "Fashion-MNIST benchmark, ResNet18",
            0.949,
            "flips, translations, rotations; benchmark table, submitted results",
        ),
    ],
}

KINDS = {"mlp": ("MLPs", REFERENCES), "cnn": ("convolutional networks", CONV_REFERENCES)}


def kind_of(net: Any) -> str:
    """``cnn`` when the network (a gnet.Network) has a conv2d layer, else ``mlp``."""
    return "cnn" if any(layer.type == "conv2d" for layer in net.layers) else "mlp"


def compare(dataset: str | None, accuracy: float, kind: str = "mlp") -> list[dict[str, Any]]:
    """How ``accuracy`` (a fraction) compares with each published network of
    ``kind`` (``mlp`` or ``cnn``) on ``dataset``.

    One dict per reference, in table order: ``name``, ``accuracy``, ``note``,
    ``difference`` (``accuracy`` minus the reference's, a fraction rounded to
    6 decimals) and
    ``beats`` (True when ``accuracy`` is at least the reference's). A data set
    without references gives an empty list.
    """
    accuracy = float(accuracy)
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy: expected a fraction in [0, 1], got {accuracy!r}")
    rows = KINDS[kind][1].get((dataset or "").lower(), [])
    return [
        {
            "name": name,
            "accuracy": reference,
            "note": note,
            "difference": round(accuracy - reference, 6),
            "beats": accuracy >= reference,
        }
        for name, reference, note in rows
    ]


def comparison_text(dataset: str | None, accuracy: float, kind: str = "mlp") -> str:
    """A short block for the terminal: one line per reference; empty without references."""
    rows = compare(dataset, accuracy, kind)
    if not rows:
        return ""
    what = KINDS[kind][0]
    lines = [f"compared with published {what} ({dataset}, test accuracy {100 * accuracy:.2f}%):"]
    for row in rows:
        sign = "+" if row["difference"] >= 0 else "-"
        lines.append(
            f"  {100 * row['accuracy']:6.2f}%  {sign}{100 * abs(row['difference']):.2f} pts  "
            f"{'above' if row['beats'] else 'below'}  {row['name']} ({row['note']})"
        )
    return "\n".join(lines)
