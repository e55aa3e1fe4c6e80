"""``gnet demo``: draw a digit in the browser and watch the network read it.

A small local web server and its one static page (``index.html``,
``demo.js``, ``demo.css`` in this package; no external scripts, fonts or
images, so it works without internet). The page sends the drawing to the
server, which centres it the MNIST way with :func:`gnet.images.center_mnist`
(the same code as ``gnet predict``) and answers with the ten probabilities
and the 28x28 image the network saw.

Why the standard library's :class:`http.server.ThreadingHTTPServer`: the demo
serves one person on their own machine (loopback by default), three static
files and two tiny JSON endpoints. A web framework or ASGI server would add
dependencies, an event loop and a larger attack surface for nothing this
needs; ``http.server`` is always there, and the few things it leaves to us
(a body size limit, JSON errors, a socket timeout, no logging to stderr) are
a few lines each, written and tested below. Threads (one per connection,
daemon threads) keep a slow or stalled client from blocking the page's
requests; predictions share the network under a lock.

Endpoints (all answers are JSON except the page itself)::

    GET  /               the page (also /index.html, /demo.js, /demo.css)
    GET  /model          {"architecture": "784-128-10", "layers": [...],
                          "activations": [...], "loss": ..., "parameters": N,
                          "class_names": [...], "dataset": "mnist" | null,
                          "epochs_trained": N, "gnet_version": ...,
                          "test": {"accuracy": .., "loss": .., "n_samples": ..,
                                   "confusion_matrix": [[..]]} | null,
                          "input": {"min_side": 28, "max_side": 560,
                                    "max_body_bytes": 1000000},
                          "input_shape": [784] | [28, 28, 1],
                          "summary": [{"layer": "Dense(units=128, ...)",
                                       "output_shape": [128], "parameters": N}, ...]}
                         (for a network that is not a perceptron, "architecture"
                         is "28x28x1 > conv2d > maxpool2d > ... > dense" and
                         "layers" the layer specs)
    POST /predict        body {"pixels": [v, ...]}: a square greyscale drawing
                         flattened row by row (e.g. 280*280 values), ink high,
                         each a number in [0, 255] (the page sends its
                         canvas's alpha channel); side between 28 and 560.
                         Content-Type must be application/json.
                         -> {"blank": false, "prediction": 7, "label": "7",
                             "probabilities": [p0, ..., p9],
                             "image": [784 values in [0, 1], row by row]}
                         (the network gets that image in its input shape:
                         flat, or (1, 28, 28, 1) for a convolutional model)
                         A drawing without ink (all zeros) is not an error:
                         -> {"blank": true, "prediction": null, "label": null,
                             "probabilities": null, "image": null}

Errors are ``{"error": "one line"}`` with status 400 (malformed JSON, wrong
keys, types, values or length), 404 (unknown path), 405 (wrong method, with
``Allow``), 411 (no Content-Length), 413 (body over :data:`MAX_BODY` bytes),
415 (not JSON) or 500 (a bug: logged, the server keeps running).

The module prints nothing; it logs requests on the ``gnet.demo`` logger.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import webbrowser
from typing import Any

from .. import __version__
from ..web import JSONHandler, LocalServer, RequestError, bind
from .model import (
    _STATIC,
    MAX_BODY,
    MAX_SIDE,
    MIN_SIDE,
    Demo,
)

logger = logging.getLogger(__name__)

__all__ = ["serve", "make_server", "DemoServer", "Demo", "MAX_BODY", "MIN_SIDE", "MAX_SIDE"]

DRAIN_LIMIT = 16 * MAX_BODY
"""An oversized body up to this size is read and thrown away before the 413
answer, so that a client that sends its whole body before reading (most do)
gets the answer instead of a connection reset. Larger ones are cut off."""

def _content_length(raw: str) -> int:
    """A Content-Length value: ASCII digits only (no sign, exponent, spaces inside,
    or other scripts' digits such as "²"), at most 12 of them; RequestError 400."""
    text = raw.strip(" \t")
    if not (0 < len(text) <= 12 and text.isascii() and text.isdigit()):
        raise RequestError(400, f"bad Content-Length {raw[:40]!r}")
    return int(text)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _Handler(JSONHandler):
    """One request per connection (HTTP/1.0): simple, and nothing can be left
    half-read on a connection that is used again."""

    server: DemoServer
    server_version = f"gnet-demo/{__version__}"
    logger = logger

    def route(self, method: str, path: str) -> None:
        if path in _STATIC or path == "/model":
            self.allow(method, path, "GET, HEAD")
        elif path == "/predict":
            self.allow(method, path, "POST")
        else:
            raise RequestError(404, f"no such page: {path}")
        if path == "/predict":
            self.send_json(200, self.server.demo.predict(self._read_json()))
        elif path == "/model":
            self.send(200, self.server.demo.info_json, "application/json")
        else:
            self.send_page(*self.server.demo.static[path])

    # -------------------------------------------------------------- bodies

    def _read_json(self) -> Any:
        coding = self.headers.get("Transfer-Encoding")
        if coding is not None:
            if "chunked" in coding.lower():
                raise RequestError(411, "chunked bodies are not supported; send Content-Length")
            raise RequestError(400, f"Transfer-Encoding {coding[:40]!r} is not supported")
        values = self.headers.get_all("Content-Length") or []
        if not values:
            raise RequestError(411, "Content-Length required")
        if len(set(values)) > 1:
            raise RequestError(400, f"conflicting Content-Length headers {values!r}")
        length = _content_length(values[0])
        if length > MAX_BODY:
            if length <= DRAIN_LIMIT:
                self._discard(length)
            raise RequestError(413, f"body of {length} bytes is over the limit of {MAX_BODY}")
        body = self.rfile.read(length)
        if len(body) < length:
            raise RequestError(400, f"body ended after {len(body)} of {length} bytes")
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise RequestError(415, f"expected Content-Type application/json, got {ctype!r}")
        try:
            return json.loads(body.decode("utf-8"), parse_constant=_no_constants)
        except UnicodeDecodeError:
            raise RequestError(400, "body is not UTF-8 text") from None
        except ValueError as e:
            raise RequestError(400, f"malformed JSON: {e}") from None
        except RecursionError:
            raise RequestError(400, "malformed JSON: nested too deeply") from None

    def _discard(self, length: int) -> None:
        left = length
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                break
            left -= len(chunk)


class DemoServer(LocalServer):
    """The demo's HTTP server; ``url`` is where it listens."""

    logger = logger

    def __init__(self, address: tuple[str, int], demo: Demo):
        self.demo = demo
        super().__init__(address, _Handler)


def make_server(model: Any, host: str = "127.0.0.1", port: int = 8765) -> DemoServer:
    """Load ``model`` (a file path or a Network) and bind the demo server
    to ``host``:``port`` (port 0 picks a free one) without serving yet:
    call ``serve_forever()`` (e.g. in a thread), then ``shutdown()`` and
    ``server_close()``.

    Raises :class:`~gnet.errors.ModelFileError` for an unusable model and
    ``OSError`` naming the address when it cannot listen there.
    """
    return bind(DemoServer, host, port, Demo(model))


def serve(
    model_path: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 8765,
    open_browser: bool = False,
    *,
    on_ready: Any = None,
) -> None:
    """Run the demo until interrupted (KeyboardInterrupt propagates after the
    socket is closed).

    ``open_browser`` opens the page with :mod:`webbrowser`; ``on_ready(url)``,
    if given, is called once the server listens (the CLI prints the URL).
    Binds to loopback unless ``host`` says otherwise.
    """
    server = make_server(model_path, host, port)
    try:
        url = server.url
        logger.info("gnet demo: %s on %s", os.fspath(model_path), url)
        if on_ready is not None:
            on_ready(url)
        if open_browser:
            # A text-mode browser would block the caller: open from a thread.
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        server.serve_forever()
    finally:
        server.server_close()
