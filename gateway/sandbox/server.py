"""Serve any simulator over real HTTP on loopback, with its ledger at ``GET /_sandbox/ledger``."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, cast

import orjson

from gateway.sandbox.base import QUERY_HEADER, Simulator

__all__ = ["LEDGER_PATH", "RESET_PATH", "SimulatorServer"]

LEDGER_PATH = "/_sandbox/ledger"
RESET_PATH = "/_sandbox/reset"
_MAX_BODY = 16 * 1024 * 1024


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: Simulator, hold: float) -> None:
        self.simulator = simulator
        self.hold = hold
        self.closing = threading.Event()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-answer (a killed worker) is expected; anything else prints."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # Keep-alive, so clients reuse connections as they would against the real peer.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; Nagle plus delayed ACKs would add ~40 ms each.
    disable_nagle_algorithm = True
    timeout = 30

    def do_POST(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        server = cast(_HTTPServer, self.server)
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self._send(413, b"too large", "text/plain")
            return
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if path == LEDGER_PATH and self.command == "GET":
            self._send(200, orjson.dumps(server.simulator.ledger(), option=orjson.OPT_INDENT_2))
            return
        if path == RESET_PATH and self.command == "POST":
            server.simulator.reset()
            self._send(200, b'{"reset":true}')
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        headers[QUERY_HEADER] = self.path.partition("?")[2]
        answer = server.simulator.handle(self.command, path, headers, body)
        if answer.after == "timeout":
            # Applied; now keep the client waiting past its read timeout, then hang up.
            server.closing.wait(server.hold)
            self.close_connection = True
            return
        if answer.after == "drop":
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the ledger is the record, not a line per request."""


class SimulatorServer:
    """Runs one simulator on ``host`` (a free port unless ``port`` is given) in a thread.

    ``hold_seconds`` is how long a ``timeout`` fault keeps the client waiting: make it longer
    than the client's read timeout. Opens a real socket: tests need ``@pytest.mark.network``.
    """

    def __init__(
        self,
        simulator: Simulator,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        hold_seconds: float = 35.0,
    ) -> None:
        self.simulator = simulator
        self._host = host
        self._port = port
        self._hold = hold_seconds
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, like ``http://127.0.0.1:9100``; only while running."""
        if self._httpd is None:
            raise RuntimeError(f"the {self.simulator.name} simulator is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Bind and serve; idempotent."""
        if self._httpd is not None:
            return
        self._httpd = _HTTPServer((self._host, self._port), self.simulator, self._hold)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{self.simulator.name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, release held answers, close the socket; idempotent."""
        if self._httpd is None:
            return
        self._httpd.closing.set()
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
