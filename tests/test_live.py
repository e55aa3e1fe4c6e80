"""The live view (gnet.live): state, callback, HTTP server, --live and --plot per epoch.

The page itself runs in Chromium in tests/test_live_browser.py; here the
server is driven with raw sockets and urllib: every answer is JSON or the
page, malformed requests get a 4xx, clients that hang up are dropped
without a traceback, memory stays flat over 1,000 requests, and the
callback reads the device at a bounded rate.
"""

from __future__ import annotations

import gc
import json
import logging
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.error
import urllib.request

import numpy as np
import pytest
from datapaths import REPO, data_dir

import gnet
from gnet.live import EpochPlots, LiveView
from gnet.live import state as live_state
from gnet.live.state import LiveState

# ------------------------------------------------------------------ helpers


def get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def raw(port, data, read=True, timeout=10):
    """Send bytes on a fresh connection; return what came back (until close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if not read:
            return b""
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def sse_events(port, count, timeout=20):
    """The first ``count`` events of /events as (name, data) pairs."""
    events = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET /events HTTP/1.0\r\n\r\n")
        buf = b""
        while len(events) < count:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                lines = block.split(b"\r\n\r\n")[-1].decode().splitlines()
                fields = dict(line.split(": ", 1) for line in lines if ": " in line)
                if "event" in fields:
                    events.append((fields["event"], json.loads(fields["data"])))
    return events


@pytest.fixture
def thread_errors():
    """Exceptions escaping any thread (a server thread's traceback) fail the test."""
    seen = []
    old = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.exc_value)
    yield seen
    threading.excepthook = old
    assert not seen, seen


@pytest.fixture
def small(mnist):
    (X, y), (Xt, yt) = mnist
    return (X[:600], y[:600]), (Xt[:200], yt[:200])


# ------------------------------------------------------------------ state


def test_state_keeps_a_bounded_decimated_history(monkeypatch):
    monkeypatch.setattr(live_state, "MAX_TICKS", 100)
    s = LiveState()
    for k in range(1000):
        s.add_tick({"x": k, "loss": float(k), "mean": 0.0, "epoch": 1})
    assert 50 <= len(s.ticks) <= 100
    xs = [t["x"] for t in s.ticks]
    assert xs == sorted(xs) and xs[0] < 10 and xs[-1] > 900  # the whole run, coarser
    assert s.progress["epoch"] == 1


def test_state_since_gives_only_what_is_new_and_json_has_no_nan():
    s = LiveState()
    s.set_run({"dataset": "mnist"})
    s.add_tick({"x": 0.5, "loss": float("nan"), "mean": float("inf")})
    seq = s.snapshot()["seq"]
    s.add_epoch({"epoch": 1, "loss": 0.3})
    s.add_tick({"x": 1.5, "loss": 0.2, "mean": 0.2})
    u = s.since(seq)
    assert [e["epoch"] for e in u["epochs"]] == [1]
    assert [t["x"] for t in u["ticks"]] == [1.5]
    assert s.since(u["seq"])["ticks"] == []
    snap = json.loads(live_state.to_json(s.snapshot()))
    assert snap["ticks"][0]["loss"] is None and snap["ticks"][0]["mean"] is None
    assert not s.wait(s.seq, 0.01)


# ------------------------------------------------------------------ callback


def test_running_loss_is_read_at_a_bounded_rate():
    live = LiveView(port=0, hz=5)
    try:
        reads = []
        live.on_train_begin(None, {"samples_total": 100_000, "epochs": 1, "batches": 100_000})
        live.on_epoch_begin(1, {"samples_total": 100_000})
        info = {"running_loss": lambda: reads.append(1) or 0.5}
        start = time.perf_counter()
        for b in range(100_000):
            info["samples"] = b + 1
            live.on_batch_end(b, info)
        elapsed = time.perf_counter() - start
        assert len(reads) <= elapsed * 5 + 1
        assert len(live.state.ticks) == len(reads)
    finally:
        live.close()


@pytest.mark.parametrize(
    "model, mode",
    [
        ([784, 32, 10], "per-sample"),
        ([784, 32, 10], "full-batch"),
        ("conv2d:4:3,maxpool2d:2,flatten,dense:10", "mini-batch"),
    ],
)
def test_a_fit_fills_the_state_and_the_final_results(small, model, mode, thread_errors):
    (X, y), (Xt, yt) = small
    if isinstance(model, str):
        from gnet.config.compact import parse_compact  # the --model grammar

        net = gnet.Network.from_config(
            {"input_shape": [28, 28, 1], "layers": parse_compact(model)}, seed=0
        )
    else:
        net = gnet.Network(model, ["relu", "softmax"], seed=0)
    with LiveView(port=0, test_data=(Xt, yt), hz=50) as live:
        net.fit(
            X,
            y,
            epochs=2,
            mode=mode,
            batch_size=32,
            validation_data=(Xt, yt),
            optimizer=gnet.optim.SGD(0.05),
            callbacks=[live],
        )
        snap = live.state.snapshot()
    assert snap["status"] == "done"
    assert [e["epoch"] for e in snap["epochs"]] == [1, 2]
    assert all(e["val_accuracy"] is not None for e in snap["epochs"])
    # every epoch ends with a reading at its end: the last mean is the epoch's loss
    ends = [t for t in snap["ticks"] if t["x"] in (1.0, 2.0)]
    assert [t["mean"] for t in ends] == pytest.approx([e["loss"] for e in snap["epochs"]])
    final = snap["final"]
    assert np.sum(final["confusion_matrix"]) == len(yt)
    assert final["accuracy"] == pytest.approx(net.evaluate(Xt, yt)["accuracy"])
    m = final["mistakes"][0]
    assert m["true"] != m["predicted"] and len(m["pixels"]) == 28 * 28 == m["side"] ** 2
    assert max(m["pixels"]) > 100  # 0..255 values, not [0, 1]
    with pytest.raises(OSError):  # the server stopped with the training
        socket.create_connection(("127.0.0.1", live.server.server_address[1]), timeout=2)


def test_gnet_run_with_a_live_view_prints_nothing(capfd, monkeypatch, thread_errors):
    monkeypatch.setenv("GNET_DATA_DIR", str(data_dir()))
    if not (data_dir() / "mnist").exists():
        pytest.skip("no MNIST files")
    live = gnet.LiveView(port=0)
    result = gnet.run(
        None,
        epochs=1,
        limit=(500, 300),
        layers=[784, 16, 10],
        activations=["relu", "softmax"],
        callbacks=[live],
    )
    snap = live.state.snapshot()
    assert snap["run"]["dataset"] == "mnist" and snap["run"]["n_test"] == 300
    assert snap["final"]["confusion_matrix"] == result.report["confusion_matrix"]
    assert capfd.readouterr() == ("", "")
    live.close()


def test_keep_serves_after_training_until_closed(small):
    (X, y), _ = small
    net = gnet.Network([784, 16, 10], ["relu", "softmax"], seed=0)
    live = LiveView(port=0, keep=True)  # no test data: the page says so
    net.fit(X, y, epochs=1, callbacks=[live])
    status, _, body = get(live.url + "state")
    state = json.loads(body)
    assert status == 200 and state["status"] == "done" and "error" in state["final"]
    live.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(live.url + "state", timeout=2)


# ------------------------------------------------------------------ server


@pytest.fixture
def served():
    live = LiveView(port=0, keep=True)
    live.state.set_run({"dataset": "mnist", "epochs": 3})
    yield live
    live.close()


def test_page_state_and_static_files(served):
    status, headers, body = get(served.url)
    assert status == 200 and b"live.js" in body
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    for path, kind in (("live.js", "javascript"), ("live.css", "css"), ("state", "json")):
        status, headers, _ = get(served.url + path)
        assert status == 200 and kind in headers["Content-Type"]
    assert b"http" not in get(served.url)[2].replace(b"http-equiv", b"")  # nothing external


def test_late_pages_get_the_history_and_several_watch_at_once(served):
    live, port = served, served.server.server_address[1]
    live.on_train_begin(None, {"samples_total": 10, "epochs": 3})
    live.on_epoch_begin(1, {"samples_total": 10})
    live.on_epoch_end(1, {"epoch": 1, "loss": 0.5, "accuracy": 0.8, "samples": 10, "seconds": 1})
    results = [None] * 3

    def watch(k):
        results[k] = sse_events(port, 2)

    threads = [threading.Thread(target=watch, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    live.on_epoch_begin(2, {"samples_total": 10})
    live.on_epoch_end(2, {"epoch": 2, "loss": 0.4, "accuracy": 0.9, "samples": 10, "seconds": 1})
    for t in threads:
        t.join(20)
    for events in results:
        (first, snap), (second, update) = events
        assert first == "snapshot" and [e["epoch"] for e in snap["epochs"]] == [1]
        assert second == "update" and [e["epoch"] for e in update["epochs"]] == [2]
    live.on_train_end(None)
    events = sse_events(port, 3)  # a page opened after the end: everything, then "end"
    assert [e[0] for e in events] == ["snapshot", "end"]
    assert events[0][1]["status"] == "done"


@pytest.mark.parametrize(
    "request_bytes, expected",
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET\r\n\r\n", 400),
        (b"GET / HTTP/9.9\r\n\r\n", 505),
        (b"POST /state HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", 405),
        (b"FROB / HTTP/1.0\r\n\r\n", 405),
        (b"GET /nope HTTP/1.0\r\n\r\n", 404),
        (b"GET /../../etc/passwd HTTP/1.0\r\n\r\n", 404),
        (b"GET / HTTP/1.0\r\n" + b"X: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(40)) + b"\r\n\r\n", 400),
    ],
)
def test_malformed_requests_get_a_4xx_json_answer(served, request_bytes, expected, thread_errors):
    answer = raw(served.server.server_address[1], request_bytes)
    assert status_of(answer) == expected
    if expected != 505:
        body = answer.split(b"\r\n\r\n", 1)[1]
        assert "error" in json.loads(body)


def test_clients_that_hang_up_are_dropped_quietly(served, caplog, thread_errors):
    port = served.server.server_address[1]
    caplog.set_level(logging.DEBUG, logger="gnet.live")
    for data in (b"", b"GET / HT", b"GET /events HTTP/1.0\r\n\r\n", b"GET /state HTTP/1.0\r\n\r\n"):
        raw(port, data, read=False)
    for _ in range(5):  # streams whose readers vanished, while updates flow
        raw(port, b"GET /events HTTP/1.0\r\n\r\n", read=False)
        served.state.add_tick({"x": 0.1, "loss": 1.0, "mean": 1.0})
    time.sleep(0.5)
    assert get(served.url + "state")[0] == 200  # still serving
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_too_many_streams_get_503(served, monkeypatch):
    from gnet.live import server as live_server

    monkeypatch.setattr(live_server, "MAX_STREAMS", 1)
    port = served.server.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /events HTTP/1.0\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.0 200")
        assert status_of(raw(port, b"GET /events HTTP/1.0\r\n\r\n")) == 503


def test_memory_stays_flat_over_1000_requests(served):
    port = served.server.server_address[1]
    kinds = [
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET /state HTTP/1.0\r\n\r\n",
        b"GET /nope HTTP/1.0\r\n\r\n",
        b"BAD\r\n\r\n",
        b"POST / HTTP/1.0\r\n\r\n",
    ]

    def burst(n):
        for k in range(n):
            raw(port, kinds[k % len(kinds)])

    burst(100)  # warm up: caches, lazily created objects
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        burst(1000)
        time.sleep(0.2)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 256 * 1024, f"{grown} bytes more after 1,000 requests"


# ------------------------------------------------------------------ --plot per epoch


def test_epoch_plots_rewrite_training_png_after_every_epoch(small, tmp_path):
    (X, y), _ = small
    net = gnet.Network([784, 16, 10], ["relu", "softmax"], seed=0)
    seen = []

    class Watch(gnet.Callback):
        def on_epoch_end(self, epoch, logs):
            plots.flush()
            seen.append((tmp_path / "training.png").stat().st_mtime_ns)

    plots = EpochPlots(tmp_path)
    net.fit(X, y, epochs=3, callbacks=[plots, Watch()])
    assert plots.written == 3 and len(set(seen)) == 3
    assert (tmp_path / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["training.png"]  # no temporary files left


# ------------------------------------------------------------------ command line


def gnet_cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "gnet", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


def test_live_on_a_busy_port_is_one_line_and_exit_2_before_any_data():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # a data folder that does not exist: the port error must come first
        r = gnet_cli(
            "train", "--live", "--port", str(port), "--data-dir", "/nonexistent", "--no-download"
        )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "--live" in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_live_options_need_live():
    r = gnet_cli("train", "--live-keep", "--epochs", "1")
    assert r.returncode == 2 and r.stderr.strip() == "gnet: error: --live-keep: only with --live"


def test_train_live_serves_during_the_run_and_stops_after(tmp_path):
    if not (data_dir() / "mnist").exists():
        pytest.skip("no MNIST files")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = gnet_cli(
        "train",
        "--live",
        "--port",
        str(port),
        "--limit",
        "400",
        "--epochs",
        "2",
        "--layers",
        "784,16,10",
        "--data-dir",
        str(data_dir()),
        "--plot",
        str(tmp_path),
    )
    assert r.returncode == 0, r.stderr
    assert f"live view: http://127.0.0.1:{port}/" in r.stdout
    assert (tmp_path / "training.png").exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
