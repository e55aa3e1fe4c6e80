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
import threading
from importlib import resources

from ..web import JSONHandler, LocalServer, RequestError, bind
from .state import LiveState, to_json

logger = logging.getLogger("gnet.live")

KEEPALIVE_S = 10.0
MAX_STREAMS = 32
MIN_UPDATE_S = 0.2  # a stream sends at most five updates a second
_STATIC_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/live.js": ("live.js", "text/javascript; charset=utf-8"),
    "/live.css": ("live.css", "text/css; charset=utf-8"),
}
def _static() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("gnet.live")
    return {
        path: (folder.joinpath(name).read_bytes(), ctype)
        for path, (name, ctype) in _STATIC_FILES.items()
    }


class _Handler(JSONHandler):
    server: LiveServer
    server_version = "gnet-live"
    logger = logger

    def route(self, method: str, path: str) -> None:
        self.allow(method, path, "GET, HEAD")
        if path in self.server.static:
            self.send_page(*self.server.static[path])
        elif path == "/state":
            self.send(200, to_json(self.server.state.snapshot()), "application/json")
        elif path == "/events":
            self._stream(method)
        else:
            raise RequestError(404, f"no such page: {path}")

    def _stream(self, method: str) -> None:
        server, state = self.server, self.server.state
        if not server.open_stream():
            raise RequestError(503, f"too many open streams (at most {MAX_STREAMS})")
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


class LiveServer(LocalServer):
    """Serves one :class:`LiveState`; ``url`` is where it listens."""

    logger = logger

    def __init__(self, address: tuple[str, int], state: LiveState):
        self.state = state
        self.static = _static()
        self.stopping = False
        self._streams = 0
        self._streams_lock = threading.Condition()
        self._stop_event = threading.Event()
        super().__init__(address, _Handler)

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


def make_server(state: LiveState, host: str = "127.0.0.1", port: int = 0) -> LiveServer:
    """Bind (port 0 picks a free one) without serving yet; ``OSError`` naming
    the address when it cannot listen there."""
    return bind(LiveServer, host, port, state)
