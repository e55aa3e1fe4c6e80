"""End to end: the demo in Debian's Chromium (headless) driven by Playwright.

A model trained here on MNIST is served by ``gnet demo MODEL --port N`` in
its own process on a free port. The test draws the first ten MNIST test digits on the
page's canvas with real mouse events (one stroke over each run of inked
pixels in a row, scaled up to the canvas) and reads the prediction the page
shows; at least 9 of 10 must be right. A touch drawing checks the finger path.
Screenshots are saved in the test's tmp_path, and to $GNET_DEMO_SCREENSHOT
(e.g. docs/images/demo.png) when that is set.

Needs the Python package ``playwright`` and a Chromium binary
($GNET_CHROMIUM, else ``chromium`` on PATH, else /usr/bin/chromium); no
browser is ever downloaded. Skips, saying which is missing, without them.
"""

from __future__ import annotations

import importlib.util
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

import gnet

DIGITS = 10
INK = 0.5  # MNIST pixels above this are drawn
REPO = Path(__file__).resolve().parents[1]

# Without the command line (gnet/cli.py), serve from the library the same way.
SERVE = "import sys, gnet.demo\ngnet.demo.serve(sys.argv[1], port=int(sys.argv[2]))\n"


# A small convolutional network: the demo feeds it the same centred drawing,
# reshaped to its (28, 28, 1) input.
CNN = [
    {"type": "conv2d", "filters": 16, "kernel_size": 3, "activation": "relu"},
    {"type": "maxpool2d", "pool_size": 2},
    {"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
    {"type": "maxpool2d", "pool_size": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]


@pytest.fixture(scope="module", params=["mlp", "cnn"])
def model_file(request, mnist, tmp_path_factory):
    """784-128-10 trained 2 epochs on MNIST (~97 %), or a small CNN trained one
    epoch on 30,000 images (~98 %), saved with its test report."""
    (X, y), (Xt, yt) = mnist
    if request.param == "mlp":
        net = gnet.Network([784, 128, 10], ["relu", "softmax"], seed=0)
        net.fit(X, y, epochs=2, batch_size=128, optimizer=gnet.optim.SGD(0.1, momentum=0.9))
    else:
        net = gnet.Network(CNN, input_shape=(28, 28, 1), seed=0)
        net.fit(X[:30_000], y[:30_000], epochs=1, batch_size=64, optimizer=gnet.optim.Adam(2e-3))
    path = tmp_path_factory.mktemp("browser") / f"mnist-{request.param}.safetensors"
    net.save(path, dataset="mnist", test=net.evaluate(Xt, yt))
    return path


@pytest.fixture(scope="module")
def demo_url(model_file):
    """`gnet demo MODEL --port N` in its own process, on a port that was free."""
    port = free_port()
    if importlib.util.find_spec("gnet.cli") is not None:
        command = [sys.executable, "-m", "gnet", "demo", str(model_file), "--port", str(port)]
    else:
        command = [sys.executable, "-c", SERVE, str(model_file), str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "model", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out, err = proc.communicate()
                pytest.fail(f"the demo did not start ({' '.join(command)}): {out} {err}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, demo_url):
    context = browser.new_context(viewport={"width": 1180, "height": 900}, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None
    )
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(demo_url)
    page.wait_for_selector("#confusion table")
    page.problems = problems
    yield page
    context.close()


def strokes(digit):
    """Horizontal strokes over each run of inked pixels: [(row, first col, last col)]."""
    ink = digit.reshape(28, 28) > INK
    runs = []
    for r in range(28):
        c = 0
        while c < 28:
            if ink[r, c]:
                start = c
                while c < 28 and ink[r, c]:
                    c += 1
                runs.append((r, start, c - 1))
            else:
                c += 1
    return runs


def wait_until_shown(page):
    # A function, not a string: the page's Content-Security-Policy forbids eval.
    page.wait_for_function(
        "() => window.gnetDemo.version > 0 && window.gnetDemo.shown === window.gnetDemo.version"
        " && !window.gnetDemo.inFlight"
    )


def draw_with_mouse(page, digit):
    box = page.locator("#pad").bounding_box()
    cell = box["width"] / 28

    def at(r, c):
        return box["x"] + (c + 0.5) * cell, box["y"] + (r + 0.5) * cell

    for r, c0, c1 in strokes(digit):
        page.mouse.move(*at(r, c0))
        page.mouse.down()
        page.mouse.move(*at(r, c1), steps=max(1, c1 - c0))
        page.mouse.up()
    wait_until_shown(page)


def shown(page):
    """The prediction the page shows (int, or None when it shows none)."""
    value = page.locator("#prediction").get_attribute("data-prediction")
    return int(value) if value else None


def screenshot(page, tmp_path, name):
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    target = os.environ.get("GNET_DEMO_SCREENSHOT")
    if target and name == "demo.png":
        target = Path(target) if Path(target).is_absolute() else REPO / target
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return path


def test_draw_ten_mnist_digits(page, mnist, tmp_path):
    _, (Xt, yt) = mnist
    assert [t.strip() for t in page.locator("#bars .name").all_inner_texts()] == list("0123456789")
    results = []
    for i in range(DIGITS):
        page.click("#clear")
        assert shown(page) is None
        draw_with_mouse(page, Xt[i])
        results.append((int(yt[i]), shown(page)))
        # The page shows what the network saw: ink in the 28x28 view, and the
        # top bar is the predicted class.
        seen_ink = page.evaluate(
            "() => { const c = document.getElementById('seen');"
            " const d = c.getContext('2d').getImageData(0, 0, 28, 28).data;"
            " let s = 0; for (let k = 0; k < d.length; k += 4) s += d[k]; return s / 255; }"
        )
        assert seen_ink > 20, f"digit {i}: the 28x28 view is empty"
        top = page.locator("#bars .bar.top .name").inner_text()
        assert top == str(results[-1][1])
    right = sum(t == p for t, p in results)
    print(f"page showed (true, shown): {results}: {right}/{DIGITS} right")
    screenshot(page, tmp_path, "demo.png")
    assert right >= 9, f"page showed {results} (true, shown): {right}/10 right"
    assert page.problems == []


def test_page_shows_model_and_confusion_matrix(page, model_file):
    meta = gnet.load(model_file).metadata
    cm = meta["test"]["confusion_matrix"]
    info = page.locator("#model-info").inner_text()
    # the MLP's sizes, or the convolutional model's layer chain
    architecture = "784-128-10" if "mlp" in model_file.name else "28x28x1 > conv2d > maxpool2d"
    assert architecture in info and "mnist" in info
    assert f"{100 * meta['test']['accuracy']:.2f} %" in info
    rows = page.locator("#confusion tbody tr")
    assert rows.count() == 10
    for i in (0, 7):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert [int(c) if c else 0 for c in cells] == cm[i]
    assert page.problems == []


def test_touch_drawing_and_clear(page, tmp_path):
    """A finger draws a vertical stroke (a 1) with touch events; Clear resets."""
    box = page.locator("#pad").bounding_box()
    x = box["x"] + box["width"] / 2
    top, bottom = box["y"] + 0.15 * box["height"], box["y"] + 0.85 * box["height"]
    cdp = page.context.new_cdp_session(page)
    cdp.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": top}]}
    )
    for y in np.linspace(top, bottom, 20)[1:]:
        cdp.send(
            "Input.dispatchTouchEvent",
            {"type": "touchMove", "touchPoints": [{"x": x + 0.05 * (y - top), "y": float(y)}]},
        )
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    wait_until_shown(page)
    assert shown(page) == 1
    assert page.evaluate("window.scrollY") == 0  # the finger drew, it did not scroll
    screenshot(page, tmp_path, "touch.png")
    page.click("#clear")
    assert shown(page) is None
    assert page.locator("#confidence").inner_text() == ""
    ink = page.evaluate(
        "() => { const d = document.getElementById('pad').getContext('2d')"
        ".getImageData(0, 0, 280, 280).data; let s = 0;"
        " for (let k = 3; k < d.length; k += 4) s += d[k]; return s; }"
    )
    assert ink == 0
    assert page.problems == []
