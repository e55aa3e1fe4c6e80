"""scripts/gpu_check.sh on a machine without a GPU: a quick, clear "no GPU"
summary in OUT and exit status 2, never a traceback.

The script is pointed at an nvidia-smi that does not exist, so this test
checks the no-GPU path on a GPU machine too (where the real check takes
minutes and is run by hand).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
from datapaths import REPO

SCRIPT = REPO / "scripts" / "gpu_check.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


def test_without_a_gpu_it_ends_quickly_with_a_no_gpu_summary(tmp_path):
    out = tmp_path / "out" / "gpu"  # made by the script
    env = dict(os.environ, NVIDIA_SMI=str(tmp_path / "no-such-nvidia-smi"))
    start = time.monotonic()
    done = subprocess.run(
        ["bash", str(SCRIPT), str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )
    seconds = time.monotonic() - start
    assert seconds < 60
    assert done.returncode == 2, done.stdout + done.stderr
    summary = (out / "summary.txt").read_text()
    assert "no GPU:" in summary and "no-such-nvidia-smi not found" in summary
    assert summary.rstrip().splitlines()[-1].startswith("result: NO GPU")
    for text in [done.stdout, done.stderr] + [p.read_text() for p in out.iterdir()]:
        assert "Traceback" not in text


def test_without_an_out_folder_it_says_how_to_call_it():
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "usage: bash scripts/gpu_check.sh OUT" in done.stderr


def test_scripts_parse():
    for name in ("gpu_check.sh", "gpu_prepare.sh"):
        subprocess.run(["bash", "-n", str(REPO / "scripts" / name)], check=True, timeout=30)
