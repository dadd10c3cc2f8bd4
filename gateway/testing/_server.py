"""Serve a :class:`~gateway.testing.fake_portal.FakePortal` over real HTTP on loopback."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast

from gateway.connectors.dvcqg import DvcqgConfig
from gateway.testing.fake_portal import FakePortal

__all__ = ["FakePortalServer"]


class _PortalHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], portal: FakePortal) -> None:
        self.portal = portal
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, so a connector's pool reuses connections as it would against the real portal.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; Nagle plus delayed ACKs would add ~40 ms each.
    disable_nagle_algorithm = True
    # An idle keep-alive connection ends its thread after this many seconds.
    timeout = 30

    def do_POST(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        portal = cast(_PortalHTTPServer, self.server).portal
        answer = portal.handle(
            self.command, self.path.split("?", 1)[0], self.headers.get("dstcode"), body
        )
        if answer.disconnect:
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: test output and benchmarks do not want a line per request."""


class FakePortalServer:
    """Runs a fake portal on ``127.0.0.1`` (a free port unless ``port`` is given) in a thread.

    Use as a context manager; ``url`` is the base URL and :meth:`config` a matching
    :class:`DvcqgConfig`. Opens a real socket: tests need ``@pytest.mark.network``.
    """

    def __init__(
        self, portal: FakePortal | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.portal = portal if portal is not None else FakePortal()
        self._host = host
        self._port = port
        self._httpd: _PortalHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, like ``http://127.0.0.1:54321``; only while running."""
        if self._httpd is None:
            raise RuntimeError("the fake portal server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def config(self, **overrides: Any) -> DvcqgConfig:
        """A connector config pointing at this server with the portal's credentials."""
        return self.portal.connector_config(self.url, **overrides)

    def start(self) -> None:
        """Bind and start serving; idempotent."""
        if self._httpd is not None:
            return
        self._httpd = _PortalHTTPServer((self._host, self._port), self.portal)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-dvcqg-portal",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket; idempotent."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
