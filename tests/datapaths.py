"""Where the repository and the real data sets are, for tests that need paths.

A plain module, not conftest.py: benchmarks/ has a conftest.py too, and test
modules that did ``from conftest import ...`` got whichever was imported first.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """$GNET_DATA_DIR (relative paths are taken from the repo root), else ../shared/data."""
    env = os.environ.get("GNET_DATA_DIR")
    if env:
        path = Path(env)
        return path if path.is_absolute() else (REPO / path).resolve()
    return (REPO.parent / "shared" / "data").resolve()
