"""End to end: ``gnet train --live`` watched by Debian's Chromium (headless) through Playwright.

A small CNN trains for 3 epochs in its own process with ``--live --port N``;
the page, opened while the data loads, must gain points on its charts as
each epoch ends, show the test confusion matrix and the mistakes at the
end, and look like something (a screenshot that is not blank). The
screenshot is saved in the test's tmp_path, and to $GNET_LIVE_SCREENSHOT
(e.g. docs/images/live.png) when that is set.

Needs the Python package ``playwright`` and a Chromium binary
($GNET_CHROMIUM, else ``chromium`` on PATH, else /usr/bin/chromium); no
browser is ever downloaded. Skips, saying which is missing, without them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from browser import ARGS, CHROMIUM, free_port, sync_api  # skips without a browser
from datapaths import REPO, data_dir

EPOCHS = 3
LIMIT = 6000
# Per-sample mode and two conv layers make an epoch last ~4 s even on an idle
# machine (mini-batches of a one-conv net took 0.3 s: the page, opened while
# the data loads, saw all three epochs land at once).
MODEL = "conv2d:16:3,conv2d:16:3,maxpool2d:2,flatten,dense:10"


@pytest.fixture
def training():
    """`gnet train --live` on a small CNN, in its own process; yields (url, process)."""
    if not (data_dir() / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"MNIST files not found in {data_dir()} (set GNET_DATA_DIR)")
    port = free_port()
    command = [
        sys.executable, "-m", "gnet", "train", "--live", "--port", str(port),
        "--model", MODEL, "--limit", str(LIMIT), "--epochs", str(EPOCHS),
        "--validation-split", "0.1", "--optimizer", "adam", "--learning-rate", "0.001",
        "--mode", "per-sample", "--data-dir", str(data_dir()), "--threads", "1",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:  # the server listens before the data loads
        try:
            with urllib.request.urlopen(url + "state", timeout=2):
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"gnet train --live did not start: {out} {err}")
        time.sleep(0.05)
    try:
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(30)


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def points(page, chart):
    return int(page.locator(f"#{chart}").get_attribute("data-points") or 0)


def test_live_page_follows_a_cnn_run(training, browser, tmp_path):
    url, proc = training
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)
    problems = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None
    )
    page.goto(url)

    # The charts gain points as the epochs end (the page sees each one land).
    seen = []
    for epoch in range(1, EPOCHS + 1):
        page.wait_for_function(f"() => Number(document.body.dataset.epochs) >= {epoch}")
        seen.append(
            (
                int(page.locator("body").get_attribute("data-epochs")),
                points(page, "acc-chart"),
                points(page, "loss-chart"),
                points(page, "lr-chart"),
            )
        )
    assert [s[0] for s in seen] == list(range(1, EPOCHS + 1)), seen
    for before, after in zip(seen, seen[1:], strict=False):
        assert after[1] > before[1] and after[2] > before[2] and after[3] > before[3], seen
    assert page.locator("#stat-epoch").inner_text().endswith(f"/ {EPOCHS}")
    assert int(page.locator("body").get_attribute("data-ticks")) >= EPOCHS

    # The final state: the test confusion matrix and the most confident mistakes.
    page.wait_for_function("() => document.body.dataset.status === 'done'")
    page.wait_for_selector("#final:not([hidden])")
    assert int(page.locator("#confusion").get_attribute("data-total")) == LIMIT
    assert int(page.locator("#mistakes").get_attribute("data-count")) > 0
    assert "test accuracy" in page.locator("#final-info").inner_text()
    page.wait_for_timeout(300)  # the last frame drawn

    path = tmp_path / "live.png"
    page.screenshot(path=str(path), full_page=True)
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 200
    target = os.environ.get("GNET_LIVE_SCREENSHOT")
    if target:
        target_path = Path(target) if Path(target).is_absolute() else REPO / target
        target_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target_path)
    assert not problems, problems
    context.close()

    assert proc.wait(120) == 0, proc.stderr.read() if proc.stderr else ""
