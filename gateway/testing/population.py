"""A population-database simulator for both profiles, for tests, benchmarks and the sandbox.

Citizens come from a seed file (``contracts/samples/population/citizens.json`` by default:
fictional people, national field names). It answers:

- ``POST /token``: OAuth2 client credentials (HTTP Basic or form fields) → a bearer token;
- ``POST /api/dancu/tracuu``: the LGSP JSON look-up → ``{error_code, message}``, the message a
  SOAP envelope holding ``CongdanCollection``;
- ``POST /soap``: the plain SOAP profile of ``contracts/population.wsdl``.

Faults are configurable: :meth:`set_latency`, :meth:`timeout_next`, :meth:`soap_fault_next`,
:meth:`fail_next` and :meth:`expire_tokens`. Every call lands in a ledger (:attr:`calls`) with
the ID number masked. Use it in-process with :meth:`transport` (an ``httpx`` transport for the
connectors), or on a loopback port with :class:`PopulationServer`; ``python -m
gateway.testing.population --port 9300`` serves it from a shell.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qs

import httpx
import orjson
from lxml import etree

from gateway.connectors.population.config import CONTRACTS_DIR, PopulationConfig
from gateway.errors import ContractError
from gateway.mappers.citizen_xml import CITIZEN_NAMESPACE
from gateway.mappers.xml_safety import parse_xml
from gateway.schemas.identifiers import mask_id

__all__ = [
    "DEFAULT_SEED",
    "PopulationAnswer",
    "PopulationCall",
    "PopulationServer",
    "PopulationSimulator",
]

DEFAULT_SEED = CONTRACTS_DIR / "samples" / "population" / "citizens.json"
LOOKUP_PATH = "/api/dancu/tracuu"
SOAP_PATH = "/soap"
TOKEN_PATH = "/token"  # noqa: S105 - a URL path, not a secret
_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_REQUEST_NS = "http://dancuquocgia.bca"
_JSON = (("Content-Type", "application/json; charset=utf-8"),)
_XML = (("Content-Type", "text/xml; charset=utf-8"),)


@dataclass(frozen=True, slots=True)
class PopulationCall:
    """One call in the ledger. ``outcome``: ``token``, ``token_refused``, ``found``,
    ``not_found``, ``expired_token``, ``unauthorized``, ``soap_fault``, ``timeout``,
    ``http_<status>`` or ``bad_request``."""

    at: float
    profile: str  # "token", "lgsp" or "soap"
    operation: str
    id_number: str  # masked
    status: int
    outcome: str


@dataclass(frozen=True, slots=True)
class PopulationAnswer:
    """A reply: status, headers and body; ``hang`` means answer nothing (a timeout)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = _JSON
    hang: bool = False


class PopulationSimulator:
    """An in-memory population database. Thread-safe.

    ``client_id``/``client_secret`` are the credentials the token endpoint accepts;
    ``token_lifetime`` the ``expires_in`` it grants (seconds). ``hang_seconds`` is how long
    :class:`PopulationServer` holds a call that :meth:`timeout_next` made time out.
    """

    def __init__(
        self,
        citizens: Iterable[Mapping[str, Any]],
        *,
        client_id: str = "gateway",
        client_secret: str = "simulator-secret",  # noqa: S107 - a simulator's fixed credential
        token_lifetime: int = 3600,
        hang_seconds: float = 30.0,
        namespace: str = CITIZEN_NAMESPACE,
    ) -> None:
        self._citizens = {str(c["SoDinhDanh"]): dict(c) for c in citizens}
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.hang_seconds = hang_seconds
        self.namespace = namespace
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._calls: list[PopulationCall] = []
        self._faults: deque[tuple[str, Any]] = deque()
        self.latency = 0.0

    @classmethod
    def from_seed(cls, path: Path = DEFAULT_SEED, **options: Any) -> PopulationSimulator:
        """A simulator whose citizens are the JSON list in ``path``."""
        return cls(json.loads(Path(path).read_text("utf-8")), **options)

    # -- faults ---------------------------------------------------------------------------------

    def set_latency(self, seconds: float) -> None:
        """Delay every answer by ``seconds``."""
        self.latency = seconds

    def timeout_next(self, count: int = 1) -> None:
        """The next ``count`` look-ups never answer (in-process: ``httpx.ReadTimeout``)."""
        with self._lock:
            self._faults.extend(("timeout", None) for _ in range(count))

    def soap_fault_next(self, count: int = 1, *, code: str = "Server") -> None:
        """The next ``count`` look-ups answer a SOAP fault with ``faultcode`` ``soap:<code>``."""
        with self._lock:
            self._faults.extend(("fault", code) for _ in range(count))

    def fail_next(self, count: int = 1, *, status: int = 503) -> None:
        """The next ``count`` look-ups answer HTTP ``status`` with a plain-text body."""
        with self._lock:
            self._faults.extend(("status", status) for _ in range(count))

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (401), as after an early revocation."""
        with self._lock:
            self._tokens.clear()

    def clear_faults(self) -> None:
        """Drop pending faults and the latency."""
        with self._lock:
            self._faults.clear()
        self.latency = 0.0

    # -- ledger ---------------------------------------------------------------------------------

    @property
    def calls(self) -> tuple[PopulationCall, ...]:
        """Every call so far, oldest first."""
        with self._lock:
            return tuple(self._calls)

    def _record(self, profile: str, operation: str, number: str, status: int, outcome: str) -> None:
        with self._lock:
            self._calls.append(
                PopulationCall(time.time(), profile, operation, mask_id(number), status, outcome)
            )

    # -- connector configuration ----------------------------------------------------------------

    def config(self, profile: str, base_url: str, **overrides: Any) -> PopulationConfig:
        """A connector config of ``profile`` pointing at this simulator served at ``base_url``."""
        values: dict[str, Any] = {
            "profile": profile,
            "base_url": base_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "lookup_path": LOOKUP_PATH,
            "token_path": TOKEN_PATH,
            "soap_url": base_url.rstrip("/") + SOAP_PATH,
            "integration_code": "SIM",
            "service_code": "SIM",
        }
        values.update(overrides)
        return PopulationConfig.model_validate(values)

    # -- answering ------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> PopulationAnswer:
        """Answer one raw request (``headers`` with lower-case names)."""
        if method != "POST":
            return PopulationAnswer(405, b"method not allowed", (("Content-Type", "text/plain"),))
        if path == TOKEN_PATH:
            return self._token(headers, body)
        if path == LOOKUP_PATH:
            return self._lgsp(headers, body)
        if path == SOAP_PATH:
            return self._soap(body)
        return PopulationAnswer(404, b"not found", (("Content-Type", "text/plain"),))

    def _token(self, headers: Mapping[str, str], body: bytes) -> PopulationAnswer:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, client_secret = base64.b64decode(encoded).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                client_id = None
        ok = (
            form.get("grant_type") == "client_credentials"
            and client_id == self.client_id
            and client_secret is not None
            and secrets.compare_digest(client_secret.encode(), self.client_secret.encode())
        )
        if not ok:
            self._record("token", "token", "", 401, "token_refused")
            return PopulationAnswer(401, orjson.dumps({"error": "invalid_client"}))
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token)
        self._record("token", "token", "", 200, "token")
        return PopulationAnswer(
            200,
            orjson.dumps(
                {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime}
            ),
        )

    def _fault(self) -> tuple[str, Any] | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _lgsp(self, headers: Mapping[str, str], body: bytes) -> PopulationAnswer:
        op = "TraCuuThongTinCongDan"
        try:
            query = orjson.loads(body)
            number = str(query["SoDinhDanh"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self._record("lgsp", op, "", 400, "bad_request")
            return PopulationAnswer(400, orjson.dumps({"error_code": "400", "message": "bad"}))
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            known = token in self._tokens
        if scheme.lower() != "bearer" or not known:
            self._record("lgsp", op, number, 401, "expired_token" if token else "unauthorized")
            return PopulationAnswer(401, orjson.dumps({"error": "invalid_token"}))
        fault = self._fault()
        if fault is not None:
            answer = self._faulted("lgsp", op, number, fault)
            if fault[0] != "fault":
                return answer
            return PopulationAnswer(
                200, orjson.dumps({"error_code": "0", "message": answer.body.decode()})
            )
        envelope, outcome = self._envelope(op, number)
        self._record("lgsp", op, number, 200, outcome)
        return PopulationAnswer(
            200, orjson.dumps({"error_code": "0", "message": envelope.decode()})
        )

    def _soap(self, body: bytes) -> PopulationAnswer:
        try:
            root = parse_xml(body)
            request = next(e for e in root.iter() if etree.QName(e).namespace == _REQUEST_NS)
            op = etree.QName(request).localname
            number = next(
                (e.text or "" for e in request if etree.QName(e).localname == "SoDinhDanh"), ""
            )
        except (ContractError, StopIteration, ValueError):
            self._record("soap", "?", "", 400, "bad_request")
            return PopulationAnswer(400, b"bad request", (("Content-Type", "text/plain"),))
        fault = self._fault()
        if fault is not None:
            return self._faulted("soap", op, number, fault)
        envelope, outcome = self._envelope(op, number)
        self._record("soap", op, number, 200, outcome)
        return PopulationAnswer(200, envelope, _XML)

    def _faulted(
        self, profile: str, op: str, number: str, fault: tuple[str, Any]
    ) -> PopulationAnswer:
        kind, value = fault
        if kind == "timeout":
            self._record(profile, op, number, 0, "timeout")
            return PopulationAnswer(0, b"", hang=True)
        if kind == "status":
            self._record(profile, op, number, int(value), f"http_{value}")
            return PopulationAnswer(int(value), b"unavailable", (("Content-Type", "text/plain"),))
        self._record(profile, op, number, 500, "soap_fault")
        return PopulationAnswer(500, _fault_envelope(str(value)), _XML)

    def _envelope(self, op: str, number: str) -> tuple[bytes, str]:
        citizen = self._citizens.get(number)
        env = etree.Element(f"{{{_SOAP_ENV}}}Envelope", nsmap={"soap": _SOAP_ENV})
        body = etree.SubElement(env, f"{{{_SOAP_ENV}}}Body")
        wrapper = etree.SubElement(
            body,
            f"{{{_REQUEST_NS}}}{op}Response",
            nsmap={None: _REQUEST_NS},  # type: ignore[dict-item]  # None: the default namespace
        )
        collection = etree.SubElement(
            wrapper,
            f"{{{self.namespace}}}CongdanCollection",
            nsmap={None: self.namespace},  # type: ignore[dict-item]  # as above
        )
        if citizen is not None:
            _fill(
                etree.SubElement(collection, f"{{{self.namespace}}}CongDan"),
                citizen,
                self.namespace,
            )
        xml = etree.tostring(env, xml_declaration=True, encoding="utf-8")
        return xml, ("found" if citizen is not None else "not_found")

    # -- in-process transport -------------------------------------------------------------------

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport answering in-process; a timeout fault raises ``httpx.ReadTimeout``."""

        async def handler(request: httpx.Request) -> httpx.Response:
            if self.latency:
                await asyncio.sleep(self.latency)
            answer = self.handle(
                request.method,
                request.url.path,
                {k.lower(): v for k, v in request.headers.items()},
                await request.aread(),
            )
            if answer.hang:
                raise httpx.ReadTimeout("the simulator never answered", request=request)
            return httpx.Response(answer.status, headers=list(answer.headers), content=answer.body)

        return httpx.MockTransport(handler)


def _fill(parent: etree._Element, value: Mapping[str, Any], ns: str) -> None:
    for name, child in value.items():
        element = etree.SubElement(parent, f"{{{ns}}}{name}")
        if isinstance(child, Mapping):
            _fill(element, child, ns)
        elif child is not None:
            element.text = str(child)


def _fault_envelope(code: str) -> bytes:
    env = etree.Element(f"{{{_SOAP_ENV}}}Envelope", nsmap={"soap": _SOAP_ENV})
    fault = etree.SubElement(etree.SubElement(env, f"{{{_SOAP_ENV}}}Body"), f"{{{_SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = "Hệ thống đang bận (simulated fault)"
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


# -- loopback server ---------------------------------------------------------------------------


class _SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: PopulationSimulator) -> None:
        self.simulator = simulator
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 30

    def do_POST(self) -> None:
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        sim = cast(_SimHTTPServer, self.server).simulator
        if sim.latency:
            time.sleep(sim.latency)
        answer = sim.handle(
            self.command,
            self.path.split("?", 1)[0],
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        if answer.hang:
            time.sleep(sim.hang_seconds)
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per request would drown tests and benchmarks."""


class PopulationServer:
    """Serves a simulator on ``host`` (loopback) at ``port`` (0: a free one) in a thread.

    A context manager; :attr:`url` is the base URL while running, :meth:`config` a matching
    connector config. Opens a real socket: tests need ``@pytest.mark.network``.
    """

    def __init__(
        self,
        simulator: PopulationSimulator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.simulator = simulator if simulator is not None else PopulationSimulator.from_seed()
        self._address = (host, port)
        self._httpd: _SimHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Like ``http://127.0.0.1:54321``."""
        if self._httpd is None:
            raise RuntimeError("the population simulator is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def config(self, profile: str, **overrides: Any) -> PopulationConfig:
        """A connector config of ``profile`` pointing at this server."""
        return self.simulator.config(profile, self.url, **overrides)

    def start(self) -> None:
        """Bind and serve; idempotent."""
        if self._httpd is not None:
            return
        self._httpd = _SimHTTPServer(self._address, self.simulator)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="population-simulator",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket; idempotent."""
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


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the population-database simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9300)
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    args = parser.parse_args(argv)
    server = PopulationServer(
        PopulationSimulator.from_seed(args.seed), host=args.host, port=args.port
    )
    server.simulator.set_latency(args.latency)
    server.start()
    sim = server.simulator
    print(
        f"population simulator on {server.url}: token {TOKEN_PATH}, LGSP {LOOKUP_PATH},"
        f" SOAP {SOAP_PATH}; client_id={sim.client_id} client_secret={sim.client_secret}",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    _main()
