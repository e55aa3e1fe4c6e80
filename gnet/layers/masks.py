"""The inverted mask shared by dropout (on units) and DropConnect (on weights)."""

from __future__ import annotations

from typing import Any


def inverted_mask(xp: Any, uniform: Any, rate: float, dtype: Any) -> Any:
    """0 where ``uniform`` < ``rate`` (dropped), 1 / (1 - rate) elsewhere (kept),
    so that the masked values keep their expectation."""
    return xp.astype(uniform >= rate, dtype) * (1.0 / (1.0 - rate))
