"""What the demo and the live view share as small local web servers: one
request per connection (HTTP/1.0), JSON error answers, a strict
Content-Security-Policy for their static pages, and a server that logs
instead of printing and names where it listens.

A page server subclasses :class:`JSONHandler` (implementing ``route``) and
:class:`LocalServer`; :func:`bind` creates it with a one-line ``OSError``
naming the address when it cannot listen.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import urlsplit

SOCKET_TIMEOUT_S = 15
"""A client that sends nothing for this long is disconnected."""

# The pages load nothing from elsewhere, and no other site may frame them.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class RequestError(Exception):
    """A client error: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


class JSONHandler(BaseHTTPRequestHandler):
    """Routes every method to ``route(method, path)``; a RequestError becomes
    its JSON answer, a client that hangs up or stalls is dropped, a bug is a
    logged 500. Subclasses set ``logger`` and ``server_version``."""

    protocol_version = "HTTP/1.0"
    timeout = SOCKET_TIMEOUT_S
    error_content_type = "application/json"
    logger = logging.getLogger("gnet.web")

    def route(self, method: str, path: str) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def __getattr__(self, name: str) -> Any:
        # http.server answers 501 for a method without a do_* handler; a method
        # a page does not serve is a client error: 405 (or 404 for a bad path).
        if name.startswith("do_"):
            return lambda: self._dispatch(name[3:])
        raise AttributeError(name)

    def _dispatch(self, method: str) -> None:
        try:
            path = urlsplit(self.path).path
        except ValueError:  # e.g. "http://[" (a broken IPv6 host)
            path = None
        try:
            try:
                if path is None:
                    raise RequestError(400, f"malformed request target {self.path[:80]!r}")
                self.route(method, path)
            except RequestError as e:
                self.send_json(e.status, {"error": str(e)}, e.headers)
            except (TimeoutError, ConnectionError):
                raise
            except Exception:  # a bug: log it, answer 500, keep serving
                self.logger.exception("error answering %s %s", method, path)
                self.send_json(500, {"error": "internal error (see the server log)"})
        except (TimeoutError, ConnectionError, OSError) as e:  # the client left or stalled
            self.logger.info("%s: connection lost (%s)", self.address_string(), e)
            self.close_connection = True

    def allow(self, method: str, path: str, allowed: str) -> None:
        """RequestError 405 unless ``method`` is one of ``allowed`` ("GET, HEAD")."""
        if method not in allowed.split(", "):
            raise RequestError(
                405, f"{method} not allowed on {path}; use {allowed}", {"Allow": allowed}
            )

    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.send(status, json_bytes(obj), "application/json", headers)

    def send_page(self, body: bytes, ctype: str) -> None:
        self.send(200, body, ctype, {"Content-Security-Policy": CSP})

    def send(
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
        # Errors http.server finds itself (bad request line, headers too long):
        # the same JSON shape as ours.
        self.close_connection = True
        # http.server leaves out the status line for a request it could not
        # parse (it takes it for HTTP/0.9); a client learns more from one.
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self.send_response(code, message)
        body = json_bytes({"error": message or phrase})
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        self.logger.info("%s %s", self.address_string(), format % args)


class LocalServer(ThreadingHTTPServer):
    """A threading server that listens on IPv4 or IPv6, tells its ``url``, and
    logs (never prints) what escapes a handler."""

    daemon_threads = True  # a stalled client never keeps the process alive
    logger = logging.getLogger("gnet.web")

    def __init__(self, address: tuple[str, int], handler: type[JSONHandler]):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    @property
    def url(self) -> str:
        raw, port = self.server_address[:2]
        host = raw.decode() if isinstance(raw, bytes) else str(raw)
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up or stalls is routine, not a warning.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            self.logger.info("connection from %s lost (%s)", client_address[0], exc)
        else:
            self.logger.warning("request from %s failed", client_address[0], exc_info=True)


S = TypeVar("S", bound=LocalServer)


def bind(cls: type[S], host: str, port: int, *args: Any) -> S:
    """``cls((host, port), *args)``, bound but not serving yet (port 0 picks a
    free one); an ``OSError`` naming the address when it cannot listen there."""
    try:
        return cls((host, port), *args)
    except OSError as e:
        raise OSError(e.errno, f"cannot listen on {host}:{port}: {e.strerror or e}") from e
