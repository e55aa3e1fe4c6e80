"""The public modules type-check under mypy --strict (settings in pyproject.toml)."""

import subprocess
import sys

import pytest
from datapaths import REPO


def test_mypy_strict_is_clean():
    pytest.importorskip("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
