"""Comparing predictions across backends without flaking on near-ties.

Two backends that agree to float32 rounding can still pick different labels
for a row whose two largest probabilities are within rounding of each other
(a GPU sums in another order than the CPU). Comparisons that involve a GPU
accept a different label exactly there; comparisons between CPU backends stay
exact (they are bit-identical today, and a difference would be news).
"""

from __future__ import annotations

import numpy as np

NEAR_TIE = 1e-4  # probability gap within float32 rounding of a 784-input network


def on_gpu(device: str) -> bool:
    """True for gnet device strings that run on a GPU (cuda, cuda:N, torch:cuda...)."""
    return device.startswith("cuda") or device.startswith("torch:cuda")


def assert_same_predictions(reference_proba, labels, near_tie: float = NEAR_TIE) -> None:
    """``labels`` equal the argmax of ``reference_proba`` (host arrays), except on
    rows where the label taken is within ``near_tie`` of the row's maximum."""
    proba, labels = np.asarray(reference_proba), np.asarray(labels)
    expected = proba.argmax(axis=1)
    rows = np.flatnonzero(labels != expected)
    gaps = proba[rows, expected[rows]] - proba[rows, labels[rows]]
    far = rows[gaps > near_tie]
    assert far.size == 0, (
        f"{far.size} of {labels.size} predictions differ by more than a near-tie: "
        f"rows {far[:10].tolist()}, probability gaps {gaps[gaps > near_tie][:10].tolist()}"
    )
