"""The live view's HTTP server: standard library, one page, JSON and Server-Sent Events.

Endpoints (GET and HEAD only; anything else is 405, an unknown path 404)::

    GET /               the page (also /index.html, /live.js, /live.css)
    GET /state          the whole state so far as JSON (LiveState.snapshot)
    GET /events         Server-Sent Events: first ``snapshot`` (everything so
                        far), then ``update`` events with what is new (at most
                        a few a second), a comment every KEEPALIVE_S seconds
                        when nothing happens, and ``end`` once the run is done;
                        then the stream closes.

Why Server-Sent Events rather than polling: the updates flow one way, from
the run to the page, and a stream delivers each as it happens without a
request per update; the browser's ``EventSource`` reconnects by itself (the
page then gets a fresh snapshot, so a reconnect never loses or repeats a
point). It costs one thread per watching tab here, capped at MAX_STREAMS;
the page falls back to polling /state should the stream fail to open.

Each request is HTTP/1.0 (one per connection); a client that sends nothing
for SOCKET_TIMEOUT_S, or stops reading its stream, is dropped. Errors are
``{"error": "one line"}`` with a 4xx status (503 when too many streams are
open); nothing is printed, requests are logged on the ``gnet.live`` logger.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from .state import LiveState, to_json

logger = logging.getLogger("gnet.live")

SOCKET_TIMEOUT_S = 15
KEEPALIVE_S = 10.0
MAX_STREAMS = 32
MIN_UPDATE_S = 0.2  # a stream sends at most five updates a second
_STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/live.js": ("live.js", "text/javascript; charset=utf-8"),
    "/live.css": ("live.css", "text/css; charset=utf-8"),
}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _static() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("gnet.live")
    return {
        path: (folder.joinpath(name).read_bytes(), ctype)
        for path, (name, ctype) in _STATIC_FILES.items()
    }


class _RequestError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class _Handler(BaseHTTPRequestHandler):
    server: LiveServer
    protocol_version = "HTTP/1.0"
    timeout = SOCKET_TIMEOUT_S
    error_content_type = "application/json"
    server_version = "gnet-live"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def __getattr__(self, name: str) -> Any:
        # Every other method is a client error (405), not http.server's 501.
        if name.startswith("do_"):
            return lambda: self._dispatch(name[3:])
        raise AttributeError(name)

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        try:
            try:
                if method not in ("GET", "HEAD"):
                    raise _RequestError(
                        405, f"{method} not allowed; use GET", {"Allow": "GET, HEAD"}
                    )
                if path in self.server.static:
                    body, ctype = self.server.static[path]
                    self._send(200, body, ctype, {"Content-Security-Policy": _CSP})
                elif path == "/state":
                    self._send(200, to_json(self.server.state.snapshot()), "application/json")
                elif path == "/events":
                    self._stream(method)
                else:
                    raise _RequestError(404, f"no such page: {path}")
            except _RequestError as e:
                self._send(e.status, to_json({"error": str(e)}), "application/json", e.headers)
        except (TimeoutError, ConnectionError, OSError) as e:  # the client left or stalled
            logger.info("%s: connection dropped (%s)", self.address_string(), e)
            self.close_connection = True

    def _stream(self, method: str) -> None:
        server, state = self.server, self.server.state
        if not server.open_stream():
            raise _RequestError(503, f"too many open streams (at most {MAX_STREAMS})")
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if method == "HEAD":
                return
            snap = state.snapshot()
            seq = snap["seq"]
            self._event("snapshot", to_json(snap), b"retry: 2000\n")
            finished = snap["status"] in ("done", "failed")
            while not finished:
                fresh = state.wait(seq, KEEPALIVE_S)
                if fresh:
                    update = state.since(seq)
                    seq = update["seq"]
                    self._event("update", to_json(update))
                    finished = update["status"] in ("done", "failed")
                if finished or server.stopping:
                    break
                if not fresh:
                    self.wfile.write(b": keep-alive\n\n")
                    continue
                server.pause(MIN_UPDATE_S)  # let a few ticks gather into one event
            self._event("end", b"{}")
        finally:
            server.close_stream()

    def _event(self, name: str, data: bytes, prefix: bytes = b"") -> None:
        self.wfile.write(prefix + b"event: " + name.encode() + b"\ndata: " + data + b"\n\n")

    def _send(
        self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Requests http.server rejects itself (bad request line, headers too
        # long): the same JSON answer as ours, with a status line.
        self.close_connection = True
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        body = to_json({"error": message or phrase})
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        logger.debug("%s %s", self.address_string(), format % args)


class LiveServer(ThreadingHTTPServer):
    """Serves one :class:`LiveState`; ``url`` is where it listens."""

    daemon_threads = True  # a stalled client never keeps the process alive

    def __init__(self, address: tuple[str, int], state: LiveState):
        self.state = state
        self.static = _static()
        self.stopping = False
        self._streams = 0
        self._streams_lock = threading.Condition()
        self._stop_event = threading.Event()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        raw, port = self.server_address[:2]
        host = raw.decode() if isinstance(raw, bytes) else str(raw)
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    @property
    def streams(self) -> int:
        return self._streams

    def open_stream(self) -> bool:
        with self._streams_lock:
            if self._streams >= MAX_STREAMS or self.stopping:
                return False
            self._streams += 1
            return True

    def close_stream(self) -> None:
        with self._streams_lock:
            self._streams -= 1
            self._streams_lock.notify_all()

    def pause(self, seconds: float) -> None:
        self._stop_event.wait(seconds)

    def stop(self, drain_s: float = 2.0) -> None:
        """Stop serving: open streams send what is left and end (waited for up to
        ``drain_s`` seconds), the listening socket closes."""
        self.stopping = True
        self._stop_event.set()
        self.state.close()
        with self._streams_lock:
            self._streams_lock.wait_for(lambda: self._streams == 0, drain_s)
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Exceptions that escape a handler: logged, never printed; keep serving.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            logger.info("connection from %s lost (%s)", client_address[0], exc)
        else:
            logger.warning("request from %s failed", client_address[0], exc_info=True)


def make_server(state: LiveState, host: str = "127.0.0.1", port: int = 0) -> LiveServer:
    """Bind (port 0 picks a free one) without serving yet; ``OSError`` naming
    the address when it cannot listen there."""
    try:
        return LiveServer((host, port), state)
    except OSError as e:
        raise OSError(e.errno, f"cannot listen on {host}:{port}: {e.strerror or e}") from e
