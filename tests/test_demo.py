"""The demo server over real HTTP: endpoints, validation, errors, endurance.

The server runs in a thread of this process on a free port; requests go
through real sockets with http.client.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import socket
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import gnet
import gnet.demo as demo
from gnet.images import center_mnist


@pytest.fixture(scope="module")
def model(mnist, tmp_path_factory):
    """A small MNIST model saved with its test report, as `gnet train` does."""
    (X, y), (Xt, yt) = mnist
    net = gnet.Network([784, 32, 10], ["relu", "softmax"], seed=0)
    net.fit(X[:10000], y[:10000], epochs=1, optimizer=gnet.optim.SGD(0.1, momentum=0.9))
    report = net.evaluate(Xt[:2000], yt[:2000])
    path = tmp_path_factory.mktemp("demo") / "model.safetensors"
    net.save(path, dataset="mnist", test=report)
    return path, report


@pytest.fixture(scope="module")
def server(model):
    srv = demo.make_server(model[0], port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def request(server, method, path, body=None, headers=None, timeout=30):
    """(status, headers, parsed JSON or bytes) of one request on a new connection."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        if resp.getheader("Content-Type", "").startswith("application/json"):
            data = json.loads(data)
        return resp.status, resp, data
    finally:
        conn.close()


def canvas(digit, side=280):
    """A 784-pixel MNIST digit drawn on a side x side canvas (0..255, ink high)."""
    img = np.kron(digit.reshape(28, 28), np.ones((side // 28, side // 28)))
    return np.round(255 * img).astype(int)


# ------------------------------------------------------------------ endpoints


def test_model_endpoint(server, model):
    status, resp, info = request(server, "GET", "/model")
    assert status == 200 and resp.getheader("Content-Type") == "application/json"
    assert info["architecture"] == "784-32-10"
    assert info["layers"] == [784, 32, 10] and info["activations"] == ["relu", "softmax"]
    assert info["class_names"] == [str(k) for k in range(10)]
    assert info["dataset"] == "mnist" and info["parameters"] == 784 * 32 + 32 + 32 * 10 + 10
    report = model[1]
    assert info["test"]["confusion_matrix"] == report["confusion_matrix"]
    assert info["test"]["accuracy"] == pytest.approx(report["accuracy"])
    assert info["test"]["n_samples"] == 2000
    assert info["input"] == {"min_side": 28, "max_side": 560, "max_body_bytes": demo.MAX_BODY}


def test_page_and_static_files_are_local(server):
    texts = {}
    for path, ctype in (
        ("/", "text/html"),
        ("/index.html", "text/html"),
        ("/demo.js", "text/javascript"),
        ("/demo.css", "text/css"),
    ):
        status, resp, body = request(server, "GET", path)
        assert status == 200 and resp.getheader("Content-Type").startswith(ctype)
        assert "default-src 'none'" in resp.getheader("Content-Security-Policy")
        texts[path] = body.decode()
    html = texts["/"]
    assert '<canvas id="pad"' in html and 'id="clear"' in html and 'id="seen"' in html
    # No external scripts, styles, fonts or images: nothing from another origin.
    for text in texts.values():
        assert not re.search(r"(https?:)?//[a-z0-9]", text, re.I), "external reference"
    assert re.findall(r'<script src="([^"]+)"', html) == ["demo.js"]
    status, resp, body = request(server, "HEAD", "/")
    assert status == 200 and body == b"" and int(resp.getheader("Content-Length")) > 500


def test_predict_real_digits_centred_like_gnet_predict(server, mnist):
    _, (Xt, yt) = mnist
    net = server.demo.net
    for i, side in zip(range(12), [280, 56, 28] * 4, strict=False):
        pixels = canvas(Xt[i], side)
        status, _, ans = request(server, "POST", "/predict", {"pixels": pixels.ravel().tolist()})
        assert status == 200 and ans["blank"] is False
        expected_image = center_mnist(pixels)  # the code `gnet predict` uses
        np.testing.assert_allclose(np.reshape(ans["image"], (28, 28)), expected_image, atol=1e-4)
        proba = gnet.to_numpy(net.predict_proba(expected_image.reshape(1, 784)))[0]
        np.testing.assert_allclose(ans["probabilities"], proba, atol=1e-5)
        assert ans["prediction"] == int(proba.argmax())
        assert ans["label"] == str(ans["prediction"])
        assert sum(ans["probabilities"]) == pytest.approx(1.0, abs=1e-4)


def test_blank_canvas_is_an_empty_prediction(server):
    status, _, ans = request(server, "POST", "/predict", {"pixels": [0] * 280 * 280})
    assert status == 200
    assert ans == {
        "blank": True,
        "prediction": None,
        "label": None,
        "probabilities": None,
        "image": None,
    }


def test_a_single_dot_and_float_values_are_fine(server):
    pixels = np.zeros((100, 100))
    pixels[40, 60] = 0.5
    status, _, ans = request(server, "POST", "/predict", {"pixels": pixels.ravel().tolist()})
    assert status == 200 and ans["blank"] is False and max(ans["image"]) == 1.0


# ------------------------------------------------------------------ errors

VALID = {"pixels": [0] * 784}

BAD = [
    # (id, method, path, body, extra headers, status, error text)
    ("bad-json", "POST", "/predict", b'{"pixels": [1, 2,', None, 400, "malformed JSON"),
    ("not-utf8", "POST", "/predict", b'{"pixels": "\xff"}', None, 400, "UTF-8"),
    ("nan", "POST", "/predict", b'{"pixels": [NaN]}', None, 400, "NaN"),
    ("deep", "POST", "/predict", b"[" * 200_000, None, 400, "malformed JSON"),
    ("not-object", "POST", "/predict", [1, 2, 3], None, 400, "JSON object"),
    ("no-pixels", "POST", "/predict", {}, None, 400, "missing key"),
    ("extra-key", "POST", "/predict", {"pixels": [0] * 784, "x": 1}, None, 400, "unknown key"),
    ("pixels-not-list", "POST", "/predict", {"pixels": "abc"}, None, 400, "list of numbers"),
    ("wrong-length", "POST", "/predict", {"pixels": [0] * 785}, None, 400, "square drawing"),
    ("too-small", "POST", "/predict", {"pixels": [0] * 27 * 27}, None, 400, "square drawing"),
    ("side-561", "POST", "/predict", b'{"pixels":[' + b",0" * 561 * 561 + b"]}", None, 400, "JSON"),
    (
        "side-561-ok",
        "POST",
        "/predict",
        b'{"pixels":[0' + b",0" * (561 * 561 - 1) + b"]}",
        None,
        400,
        "square drawing",
    ),
    ("strings", "POST", "/predict", {"pixels": ["1"] * 784}, None, 400, "numbers only"),
    ("bools", "POST", "/predict", {"pixels": [True] * 784}, None, 400, "numbers only"),
    ("nested", "POST", "/predict", {"pixels": [[0] * 28] * 28}, None, 400, "square drawing"),
    ("null", "POST", "/predict", {"pixels": [None] * 784}, None, 400, "numbers only"),
    ("negative", "POST", "/predict", {"pixels": [-1] * 784}, None, 400, "[0, 255]"),
    ("too-bright", "POST", "/predict", {"pixels": [256] * 784}, None, 400, "[0, 255]"),
    ("huge-int", "POST", "/predict", {"pixels": [10**300] * 784}, None, 400, "[0, 255]"),
    ("huge-body", "POST", "/predict", b" " * 2_000_000, None, 413, "over the limit"),
    (
        "text-plain",
        "POST",
        "/predict",
        VALID,
        {"Content-Type": "text/plain"},
        415,
        "application/json",
    ),
    ("get-predict", "GET", "/predict", None, None, 405, "use POST"),
    ("put-predict", "PUT", "/predict", VALID, None, 405, "use POST"),
    ("post-model", "POST", "/model", VALID, None, 405, "use GET"),
    ("delete-page", "DELETE", "/", None, None, 405, "use GET"),
    ("odd-method", "BREW", "/model", None, None, 405, "use GET"),
    ("unknown-path", "GET", "/admin", None, None, 404, "no such page"),
    ("traversal", "GET", "/../gnet/io.py", None, None, 404, "no such page"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "text"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD],
)
def test_bad_requests_get_4xx_json(server, method, path, body, headers, status, text):
    got, resp, ans = request(server, method, path, body, headers)
    assert got == status, ans
    assert resp.getheader("Content-Type") == "application/json"
    assert text in ans["error"]
    if status == 405:
        assert resp.getheader("Allow") in ("POST", "GET, HEAD")


def raw(server, data, shut=True, timeout=20):
    """Send raw bytes, return everything the server answers."""
    with socket.create_connection(server.server_address[:2], timeout=timeout) as s:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_protocol_level_errors(server):
    answer = raw(server, b"GET / FOO/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 400") and b'{"error":"Bad request version' in answer
    answer = raw(server, b"NONSENSE\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 400") and b'{"error":"Bad request syntax' in answer
    answer = raw(
        server, b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.0 411")
    answer = raw(
        server,
        b"POST /predict HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.0 400") and b"Content-Length" in answer
    # The body ends (client closes its side) before Content-Length bytes came.
    answer = raw(
        server,
        b"POST /predict HTTP/1.1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"pixels": [',
    )
    assert answer.startswith(b"HTTP/1.0 400") and b"body ended" in answer
    # An absurd Content-Length is refused at once, without reading.
    answer = raw(
        server,
        b"POST /predict HTTP/1.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 99999999999\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.0 413")
    answer = raw(server, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 414")


def test_a_stalled_client_does_not_block_others(server):
    with socket.create_connection(server.server_address[:2]) as stalled:
        stalled.sendall(b"POST /predict HTTP/1.1\r\nContent-Length: 500\r\n")  # and then nothing
        t0 = time.perf_counter()
        status, _, _ = request(server, "GET", "/model", timeout=5)
        assert status == 200 and time.perf_counter() - t0 < 2


def test_clients_that_hang_up_are_routine(server, caplog):
    caplog.set_level(logging.INFO, logger="gnet.demo")
    threads_before = threading.active_count()
    body = json.dumps({"pixels": [255] * 280 * 280}).encode()
    head = (
        b"POST /predict HTTP/1.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    for cut in (0, 1000, len(body)):  # before the body, within it, before the answer
        for _ in range(5):
            s = socket.create_connection(server.server_address[:2])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.sendall(head + body[:cut])
            s.close()  # with linger 0: a reset, the rudest way to leave
    for _ in range(100):
        if threading.active_count() <= threads_before:
            break
        time.sleep(0.05)
    assert request(server, "GET", "/model")[0] == 200
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == []


# ------------------------------------------------------------------ endurance


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc (Linux) for RSS")
def test_thousand_predictions_and_two_hundred_bad_requests_in_order(server, mnist):
    _, (Xt, _) = mnist
    net = server.demo.net
    digits = []
    for i in range(50):  # 50 real digits on canvases of various sizes, with expected answers
        pixels = canvas(Xt[i], [28, 56, 84, 112, 280][i % 5])
        proba = gnet.to_numpy(net.predict_proba(center_mnist(pixels).reshape(1, 784)))[0]
        digits.append(({"pixels": pixels.ravel().tolist()}, int(proba.argmax()), proba))
    bad = [case for case in BAD if case[0] not in ("deep",)]  # the deep one is slow to build

    def run(n_good, n_bad):
        """n_good valid requests with a bad one after every n_good / n_bad of them."""
        every = n_good // n_bad
        for k in range(n_good):
            body, expected, proba = digits[k % len(digits)]
            status, _, ans = request(server, "POST", "/predict", body)
            assert status == 200 and ans["prediction"] == expected, k
            np.testing.assert_allclose(ans["probabilities"], proba, atol=1e-5)
            if k % every == every - 1:
                case = bad[(k // every) % len(bad)]
                status, _, ans = request(server, *case[1:5])
                assert status == case[5] and case[6] in ans["error"], (k, case[0])

    threads_before = threading.active_count()
    run(100, 20)  # warm up: caches, allocator pools, lazy imports
    rss_before = rss_bytes()
    t0 = time.perf_counter()
    run(900, 180)
    seconds = time.perf_counter() - t0
    grown = rss_bytes() - rss_before
    assert grown < 8 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 1,080 requests"
    assert request(server, "GET", "/model")[0] == 200  # still up
    for _ in range(50):  # per-connection threads finish
        if threading.active_count() <= threads_before:
            break
        time.sleep(0.05)
    assert threading.active_count() <= threads_before
    print(f"1,080 requests in {seconds:.1f} s, RSS {grown / 2**20:+.1f} MiB")


# ------------------------------------------------------------------ starting


def test_make_server_checks_the_model_and_the_address(model, tmp_path):
    net = gnet.Network([12, 4, 3], ["relu", "softmax"])
    net.save(tmp_path / "small.safetensors")
    with pytest.raises(gnet.ModelFileError, match="784 inputs"):
        demo.make_server(tmp_path / "small.safetensors", port=0)
    with pytest.raises(gnet.ModelFileError, match="no such model file"):
        demo.make_server(tmp_path / "missing.safetensors", port=0)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            demo.make_server(model[0], port=port)


def test_model_without_test_report(tmp_path):
    net = gnet.Network([784, 8, 10], ["relu", "softmax"])
    net.save(tmp_path / "m.safetensors")
    srv = demo.make_server(tmp_path / "m.safetensors", port=0)
    try:
        assert srv.demo.info["test"] is None and srv.demo.info["dataset"] is None
        assert srv.server_address[0] == "127.0.0.1"  # loopback by default
    finally:
        srv.server_close()


def test_serve_opens_the_browser_and_closes_on_shutdown(model, monkeypatch):
    opened, ready, servers = [], [], []
    real_make_server = demo.make_server

    def capture(*args, **kwargs):
        servers.append(real_make_server(*args, **kwargs))
        return servers[-1]

    monkeypatch.setattr(demo, "make_server", capture)
    monkeypatch.setattr(demo.webbrowser, "open", lambda url: opened.append(url))
    thread = threading.Thread(
        target=demo.serve,
        args=(model[0],),
        kwargs={"port": 0, "open_browser": True, "on_ready": ready.append},
        daemon=True,
    )
    thread.start()
    for _ in range(100):
        if opened:
            break
        time.sleep(0.05)
    (srv,) = servers
    assert ready == opened == [srv.url]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", srv.url)
    assert request(srv, "GET", "/model")[0] == 200
    srv.shutdown()
    thread.join(5)
    assert not thread.is_alive()
    assert srv.socket.fileno() == -1  # serve() closed the listening socket


# ------------------------------------------------------------------ layer stacks


@pytest.mark.skipif("conv2d" not in gnet.layers.LAYERS, reason="conv2d is not registered yet")
def test_a_convolutional_model_reads_the_drawing_as_a_28x28x1_image(mnist, tmp_path):
    (X, y), (Xt, _) = mnist
    spec = [
        {"type": "conv2d", "filters": 4, "kernel_size": 3, "activation": "relu"},
        {"type": "maxpool2d", "pool_size": 2},
        {"type": "flatten"},
        {"type": "dense", "units": 10, "activation": "softmax"},
    ]
    net = gnet.Network(spec, input_shape=(28, 28, 1), seed=0)
    net.fit(X[:1000], y[:1000], epochs=1, batch_size=20, optimizer=gnet.optim.Adam(2e-3))
    net.save(tmp_path / "cnn.safetensors", dataset="mnist")
    srv = demo.make_server(tmp_path / "cnn.safetensors", port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        info = srv.demo.info
        assert info["architecture"] == "28x28x1 > conv2d > maxpool2d > flatten > dense"
        assert info["input_shape"] == [28, 28, 1] and info["layers"][0]["filters"] == 4
        assert [row["output_shape"] for row in info["summary"]] == [
            [26, 26, 4],
            [13, 13, 4],
            [676],
            [10],
        ]
        assert sum(row["parameters"] for row in info["summary"]) == info["parameters"]
        status, _, body = request(srv, "GET", "/model")
        assert status == 200 and body["input_shape"] == [28, 28, 1]
        pixels = canvas(Xt[0], 140)
        status, _, ans = request(srv, "POST", "/predict", {"pixels": pixels.ravel().tolist()})
        assert status == 200
        image = center_mnist(pixels).reshape(1, 28, 28, 1)
        proba = gnet.to_numpy(srv.demo.net.predict_proba(image))[0]
        np.testing.assert_allclose(ans["probabilities"], proba, atol=1e-5)
        assert len(ans["image"]) == 784
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def test_a_model_that_does_not_take_28x28_one_channel_images_is_refused(tmp_path):
    if "flatten" not in gnet.layers.LAYERS:
        pytest.skip("flatten is not registered yet")
    spec = [{"type": "flatten"}, {"type": "dense", "units": 10, "activation": "softmax"}]
    net = gnet.Network(spec, input_shape=(14, 14, 4), seed=0)  # 784 values, not one channel
    with pytest.raises(gnet.ModelFileError, match=r"input shape \(14, 14, 4\)"):
        demo.Demo(net)
