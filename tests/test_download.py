"""gnet.data downloads, against a real HTTP server on 127.0.0.1 serving the real files.

The server can misbehave on purpose (error status, corrupted or cut-short
bodies); after every failure the cache folder must hold no partial file.
Most tests pre-seed the large image files (as symlinks) so that only the
small label files travel; one test downloads all four MNIST files.
"""

import logging
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pooch
import pytest
from datapaths import data_dir

from gnet import data
from gnet.errors import DataError

SHARED = data_dir()
NAMES = {key: entry["name"] for key, entry in data.DATASETS["mnist"]["files"].items()}
IMAGES = [NAMES["train_images"], NAMES["test_images"]]
LABELS = [NAMES["train_labels"], NAMES["test_labels"]]


class _Handler(BaseHTTPRequestHandler):
    """Serves files from the server's folder, with the server's chosen fault."""

    def do_GET(self):
        state = self.server.state
        fname = self.path.rsplit("/", 1)[-1]
        state.requests.append(fname)
        path = state.root / fname
        if state.fault in (404, 500) or not path.is_file():
            self.send_error(state.fault if state.fault in (404, 500) else 404)
            return
        body = path.read_bytes()
        length = len(body)
        if state.fault == "corrupt":  # same length, one byte flipped
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1 :]
        elif state.fault == "short":  # an honest but truncated file
            body = body[: len(body) // 2]
            length = len(body)
        elif state.fault == "cut":  # promises the whole file, then hangs up
            body = body[: len(body) // 2]
            self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class FileServer:
    """A ThreadingHTTPServer on a free port of 127.0.0.1; counts the files asked for."""

    def __init__(self, root: Path, fault=None):
        self.root = root
        self.fault = fault
        self.requests: list[str] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.state = self
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def serve(monkeypatch):
    """Start servers on demand (fault, data set); stop them all afterwards."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    servers = []

    def start(fault=None, name="mnist"):
        folder = SHARED / name
        if not all((folder / fname).is_file() for fname in NAMES.values()):
            pytest.skip(f"real {name} files not found in {folder} (set GNET_DATA_DIR)")
        server = FileServer(folder, fault)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def refused_url() -> str:
    """A URL on a port nobody listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def seed_images(cache: Path, name="mnist") -> Path:
    """Put the real image files in the cache (as symlinks) so only labels download."""
    folder = cache / name
    folder.mkdir(parents=True)
    for fname in IMAGES:
        os.symlink(SHARED / name / fname, folder / fname)
    return folder


def listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def test_download_all_four_then_use_cache(tmp_path, serve, caplog):
    server = serve()
    pooch_records = []
    pooch_handler = logging.Handler()
    pooch_handler.emit = pooch_records.append
    pooch.get_logger().addHandler(pooch_handler)
    try:
        with caplog.at_level(logging.INFO, logger="gnet.data"):
            (X, y), (Xt, yt) = data.load("mnist", data_dir=tmp_path, mirrors=[server.url])
    finally:
        pooch.get_logger().removeHandler(pooch_handler)
    assert sorted(server.requests) == sorted(NAMES.values())
    assert listing(tmp_path / "mnist") == sorted(NAMES.values())
    for fname in NAMES.values():
        assert (tmp_path / "mnist" / fname).read_bytes() == (SHARED / "mnist" / fname).read_bytes()
    assert X.shape == (60000, 784) and Xt.shape == (10000, 784) and y[0] == 5
    assert "downloading" in caplog.text
    assert not pooch_records  # pooch's own stderr handler stayed silent

    (X2, y2), _ = data.load("mnist", data_dir=tmp_path, mirrors=[server.url])
    assert len(server.requests) == 4  # the second load used the cache
    np.testing.assert_array_equal(y2, y)


@pytest.mark.parametrize("fault", [404, 500, "refused", "corrupt"])
def test_bad_first_mirror_good_second(tmp_path, serve, caplog, fault):
    folder = seed_images(tmp_path)
    bad = refused_url() if fault == "refused" else serve(fault).url
    good = serve()
    with caplog.at_level(logging.WARNING, logger="gnet.data"):
        paths = data.fetch("mnist", data_dir=tmp_path, mirrors=[bad, good.url])
    assert sorted(good.requests) == sorted(LABELS)
    assert listing(folder) == sorted(NAMES.values())
    assert paths["train_labels"] == folder / NAMES["train_labels"]
    assert data.read_idx(paths["train_labels"])[0] == 5
    expected = {404: "HTTP 404", 500: "HTTP 500", "refused": "cannot connect"}
    assert expected.get(fault, "checksum") in caplog.text


@pytest.mark.parametrize("fault", ["corrupt", "short", "cut"])
def test_bad_download_leaves_nothing(tmp_path, serve, fault):
    folder = seed_images(tmp_path)
    server = serve(fault)
    with pytest.raises(DataError) as err:
        data.fetch("mnist", data_dir=tmp_path, mirrors=[server.url])
    message = str(err.value)
    assert message.startswith(str(folder / NAMES["train_labels"]))
    assert server.url in message and "\n" not in message
    reason = "connection closed before" if fault == "cut" else "checksum matches no known hash"
    assert reason in message
    assert listing(folder) == sorted(IMAGES)  # no file, no temporary file
    assert server.requests == [NAMES["train_labels"]]


def test_every_mirror_failing_is_one_error_naming_each(tmp_path, serve):
    seed_images(tmp_path)
    mirrors = [serve(404).url, refused_url(), serve("corrupt").url]
    with pytest.raises(DataError, match="download failed from every mirror") as err:
        data.fetch("mnist", data_dir=tmp_path, mirrors=mirrors)
    message = str(err.value)
    for url, reason in zip(mirrors, ["HTTP 404", "cannot connect", "checksum"], strict=True):
        assert f"{url}{NAMES['train_labels']}: {reason}" in message


def test_no_download_when_not_allowed(tmp_path, serve):
    server = serve()
    with pytest.raises(DataError, match="not found"):
        data.fetch("mnist", data_dir=tmp_path, download=False, mirrors=[server.url])
    assert server.requests == []


def test_fashion_mnist_download_accepts_debian_files(tmp_path, serve):
    folder = seed_images(tmp_path, "fashion-mnist")
    server = serve(name="fashion-mnist")
    data.fetch("fashion-mnist", data_dir=tmp_path, mirrors=[server.url])
    assert sorted(server.requests) == sorted(LABELS)
    assert listing(folder) == sorted(NAMES.values())


def test_default_cache_is_gnet_data_dir(tmp_path, serve, monkeypatch):
    monkeypatch.setenv("GNET_DATA_DIR", str(tmp_path))
    seed_images(tmp_path)
    server = serve()
    paths = data.fetch("mnist", mirrors=[server.url])
    assert paths["test_labels"] == tmp_path / "mnist" / NAMES["test_labels"]
