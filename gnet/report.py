"""Text output of the command line: tables, ASCII-art digits and Sixel images.

Everything here turns host values (lists, NumPy arrays, report dicts from
``Network.evaluate``) into strings; nothing prints, so the CLI decides where
text goes and the tests read it. The confusion matrix and the per-class table
keep the seeds' layout (neural-net-rs)::

    Confusion Matrix:
          Predicted →
    Actual     0    1 ...
      ↓   +---------- ...
      0   |  972    0 ...

    Per-digit Metrics:
    Digit  | Accuracy | Precision | Recall  | F1 Score | Support
    -------|----------|-----------|---------|----------|--------
       0   |  99.8%   |   98.5%   |  99.2%  |   98.8%  |    980

Per-class ``Accuracy`` is one-vs-rest accuracy ((TP + TN) / N), as in the
metrics JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

# Dark to light; a pixel is two characters wide so a 28x28 digit looks square
# in a terminal whose cells are about twice as tall as wide.
ASCII_RAMP = " .:-=+*#%@"


# ------------------------------------------------------------------ tables


def _is_digits(class_names: Sequence[str]) -> bool:
    return list(class_names) == [str(k) for k in range(len(class_names))]


def confusion_matrix_text(cm: Sequence[Sequence[int]], class_names: Sequence[str]) -> str:
    """The confusion matrix (rows true, columns predicted) in the seeds' layout."""
    n = len(cm)
    width = max(4, max((len(str(v)) for row in cm for v in row), default=1))
    label = max(1, len(str(n - 1)))
    lines = ["Confusion Matrix:", "      Predicted →"]
    lines.append(f"{'Actual':<{label + 6}}" + "".join(f" {k:>{width}}" for k in range(n)))
    lines.append(f"  {'↓':<{label}}   +" + "-" * ((width + 1) * n))
    for k, row in enumerate(cm):
        lines.append(f"  {k:<{label}}   |" + "".join(f" {v:>{width}}" for v in row))
    if not _is_digits(class_names):
        lines.append("")
        lines.append("Classes: " + ", ".join(f"{k} {name}" for k, name in enumerate(class_names)))
    return "\n".join(lines)


def per_class_text(rows: Sequence[dict[str, Any]], class_names: Sequence[str]) -> str:
    """Per-class accuracy (one-vs-rest), precision, recall, F1 and support."""
    digits = _is_digits(class_names)
    title = "Per-digit Metrics:" if digits else "Per-class Metrics:"
    head = "Digit " if digits else "Class "
    name_width = 0 if digits else max(len(n) for n in class_names) + 1
    lines = [
        title,
        f"{head:<{6 + name_width}} | Accuracy | Precision | Recall  | F1 Score | Support",
        "-" * (7 + name_width) + "|----------|-----------|---------|----------|--------",
    ]
    for row in rows:
        k = row["label"]
        name = f" {class_names[k]:<{name_width - 1}}" if not digits else ""
        lines.append(
            f"   {k:<3}{name} |"
            f" {_pct(row['accuracy']):>7}  |"
            f"  {_pct(row['precision']):>7}  |"
            f" {_pct(row['recall']):>6}  |"
            f"  {_pct(row['f1']):>6}  |"
            f" {row['support']:>6}"
        )
    return "\n".join(lines)


def _pct(fraction: float, digits: int = 1) -> str:
    return f"{100.0 * fraction:.{digits}f}%"


def evaluation_text(report: dict[str, Any], class_names: Sequence[str]) -> str:
    """Confusion matrix, per-class table and the overall figures of a test report."""
    n = report.get("n_samples") or sum(sum(r) for r in report["confusion_matrix"])
    correct = sum(report["confusion_matrix"][k][k] for k in range(len(report["confusion_matrix"])))
    return "\n".join(
        [
            confusion_matrix_text(report["confusion_matrix"], class_names),
            "",
            per_class_text(report["per_class"], class_names),
            "",
            f"Overall Accuracy: {100.0 * report['accuracy']:.2f}% ({correct}/{n}), "
            f"loss {report['loss']:.4f}, macro F1 {report['macro_f1']:.4f}",
        ]
    )


def epoch_line(record: dict[str, Any], epochs: int) -> str:
    """One line per epoch: number, seconds, loss, accuracy and validation figures."""
    width = len(str(epochs))
    text = (
        f"epoch {record['epoch']:>{width}}/{epochs}  {record['seconds']:6.2f} s  "
        f"loss {record['loss']:.4f}  accuracy {_pct(record['accuracy'], 2)}"
    )
    if "val_loss" in record:
        text += (
            f"  val_loss {record['val_loss']:.4f}  val_accuracy {_pct(record['val_accuracy'], 2)}"
        )
    if "learning_rate" in record:
        text += f"  lr {record['learning_rate']:.4g}"
    return text


def duration_text(seconds: float) -> str:
    """``42.1 s``, ``3 min 05 s`` or ``1 h 02 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# ----------------------------------------------------------- predictions


def top_k(proba: Sequence[float], k: int) -> list[tuple[int, float]]:
    """The k most probable classes of one row of probabilities, best first."""
    p = np.asarray(proba, dtype=np.float64)
    order = np.argsort(-p, kind="stable")[: max(1, min(k, p.shape[0]))]
    return [(int(i), float(p[i])) for i in order]


def most_confident_mistakes(proba: Any, y_true: Any, n: int) -> list[dict[str, Any]]:
    """The ``n`` wrong predictions made with the highest probability.

    ``proba`` is (N, classes) on the host and ``y_true`` (N,). Each item has
    ``index``, ``true``, ``predicted``, ``confidence`` (probability of the
    prediction) and ``true_probability``.
    """
    proba = np.asarray(proba)
    y_true = np.asarray(y_true)
    pred = np.argmax(proba, axis=1)
    conf = proba[np.arange(len(pred)), pred]
    wrong = np.flatnonzero(pred != y_true)
    order = wrong[np.argsort(-conf[wrong], kind="stable")][: max(n, 0)]
    return [
        {
            "index": int(i),
            "true": int(y_true[i]),
            "predicted": int(pred[i]),
            "confidence": float(conf[i]),
            "true_probability": float(proba[i, y_true[i]]),
        }
        for i in order
    ]


# ---------------------------------------------------------------- digits


def _as_image(pixels: Any, shape: Sequence[int] | None = None) -> np.ndarray:
    """A (height, width) image scaled to its own range, from ``pixels`` laid
    out as ``shape`` (a network's input shape: (H, W, C) images, or flat
    rows); without a shape, from a square flat row, (H, W) or (H, W, 1). A
    several-channel image shows the mean of its channels."""
    a = np.asarray(pixels, dtype=np.float64)
    if shape is not None and len(shape) == 3:
        a = a.reshape(*(int(d) for d in shape))
    if a.ndim == 3:
        a = a.mean(axis=2)
    if a.ndim == 1:
        side = math.isqrt(a.size)
        if side * side != a.size:
            raise ValueError(f"expected a square image, got {a.size} pixels")
        a = a.reshape(side, side)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {a.shape}")
    low, high = float(a.min()), float(a.max())
    return (a - low) / (high - low) if high > low else np.zeros_like(a)


def ascii_digit(pixels: Any, shape: Sequence[int] | None = None) -> list[str]:
    """A greyscale image (values scaled to its own range) as lines of ASCII art;
    ``shape`` is the layout of ``pixels`` (e.g. a network's input shape)."""
    a = _as_image(pixels, shape)
    levels = np.minimum((a * len(ASCII_RAMP)).astype(int), len(ASCII_RAMP) - 1)
    return ["".join(ASCII_RAMP[v] * 2 for v in row) for row in levels]


def ascii_digits(
    images: Sequence[Any],
    captions: Sequence[str],
    per_row: int = 3,
    shape: Sequence[int] | None = None,
) -> str:
    """Several digits side by side, each framed, with a caption above."""
    blocks = []
    for pixels, caption in zip(images, captions, strict=True):
        art = ascii_digit(pixels, shape)
        width = len(art[0]) if art else 0
        lines = [caption[: width + 2].ljust(width + 2), "+" + "-" * width + "+"]
        lines += ["|" + line + "|" for line in art]
        lines.append("+" + "-" * width + "+")
        blocks.append(lines)
    out = []
    for start in range(0, len(blocks), max(per_row, 1)):
        group = blocks[start : start + per_row]
        for parts in zip(*group, strict=True):
            out.append("  ".join(parts).rstrip())
        out.append("")
    return "\n".join(out).rstrip("\n")


def sixel(pixels: Any, scale: int = 3, levels: int = 16, shape: Sequence[int] | None = None) -> str:
    """A greyscale image as a Sixel escape sequence (DEC terminals, xterm -ti vt340,
    mlterm, foot, WezTerm...), ``scale`` screen pixels per image pixel;
    ``shape`` is the layout of ``pixels`` (e.g. a network's input shape)."""
    a = _as_image(pixels, shape)
    if scale > 1:
        a = np.repeat(np.repeat(a, scale, axis=0), scale, axis=1)
    height, width = a.shape
    index = np.minimum((a * levels).astype(int), levels - 1)
    out = ["\x1bPq", f'"1;1;{width};{height}']
    for c in range(levels):
        pct = round(100 * c / (levels - 1))
        out.append(f"#{c};2;{pct};{pct};{pct}")
    for top in range(0, height, 6):
        band = index[top : top + 6]
        colours = [c for c in range(levels) if np.any(band == c)]
        for n, c in enumerate(colours):
            bits = np.zeros(width, dtype=int)
            for r in range(band.shape[0]):
                bits |= (band[r] == c).astype(int) << r
            out.append(f"#{c}" + _sixel_run_length(bits))
            out.append("$" if n < len(colours) - 1 else "")
        out.append("-")
    out.append("\x1b\\")
    return "".join(out)


def _sixel_run_length(bits: np.ndarray) -> str:
    chars, text, i = [chr(63 + int(b)) for b in bits], [], 0
    while i < len(chars):
        j = i
        while j < len(chars) and chars[j] == chars[i]:
            j += 1
        count = j - i
        text.append(f"!{count}{chars[i]}" if count > 3 else chars[i] * count)
        i = j
    return "".join(text)
