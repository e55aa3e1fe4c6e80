"""What the browser tests share: Playwright, a Chromium binary
($GNET_CHROMIUM, else ``chromium`` on PATH, else /usr/bin/chromium; no
browser is ever downloaded) with the flags a closed network needs, and a
free port. Importing this module skips the importing test module, saying
which is missing, when either is."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)

CHROMIUM = (
    os.environ.get("GNET_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
if not CHROMIUM and Path("/usr/bin/chromium").exists():
    CHROMIUM = "/usr/bin/chromium"
if not CHROMIUM:
    pytest.skip(
        "no Chromium binary (apt-get install chromium, or set GNET_CHROMIUM)",
        allow_module_level=True,
    )

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
