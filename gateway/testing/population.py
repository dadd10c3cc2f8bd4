"""A population-database simulator for both profiles, for tests, benchmarks and the sandbox.

Citizens come from a seed file (``contracts/samples/population/citizens.json`` by default:
fictional people, national field names). It answers:

- ``POST /token``: OAuth2 client credentials (HTTP Basic or form fields) → a bearer token;
- ``POST /api/dancu/tracuu``: the LGSP JSON look-up → ``{error_code, message}``, the message a
  SOAP envelope holding ``CongdanCollection``;
- ``POST /soap``: the plain SOAP profile of ``contracts/population.wsdl``.

It is a sandbox :class:`~gateway.sandbox.base.Simulator` (``name``, ``handle``, ``ledger``,
``reset``): serve it with :class:`~gateway.sandbox.server.SimulatorServer`, or in-process with
:meth:`PopulationSimulator.transport`. Faults: random rates from
:class:`~gateway.sandbox.faults.Faults` (``error`` is a SOAP fault), and deterministic ones for
tests: :meth:`set_latency`, :meth:`timeout_next`, :meth:`soap_fault_next`, :meth:`fail_next`,
:meth:`expire_tokens`, :meth:`set_down`. Every call lands in the ledger (:attr:`calls`) with
the ID number masked. ``python -m gateway.testing.population --port 9300`` serves it from a
shell.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
from lxml import etree

from gateway.connectors.population.config import CONTRACTS_DIR, PopulationConfig
from gateway.errors import ContractError
from gateway.mappers.citizen_xml import CITIZEN_NAMESPACE
from gateway.mappers.xml_safety import parse_xml
from gateway.sandbox.base import Answer, SimulatorTransport, json_answer
from gateway.sandbox.faults import FaultDice, Faults
from gateway.sandbox.server import SimulatorServer
from gateway.schemas.identifiers import mask_id

__all__ = [
    "DEFAULT_SEED",
    "LOOKUP_PATH",
    "SOAP_PATH",
    "TOKEN_PATH",
    "PopulationCall",
    "PopulationSimulator",
]

DEFAULT_SEED = CONTRACTS_DIR / "samples" / "population" / "citizens.json"
LOOKUP_PATH = "/api/dancu/tracuu"
SOAP_PATH = "/soap"
TOKEN_PATH = "/token"  # noqa: S105 - a URL path, not a secret
_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_REQUEST_NS = "http://dancuquocgia.bca"
_XML = (("Content-Type", "text/xml; charset=utf-8"),)
_TEXT = (("Content-Type", "text/plain"),)
_LEDGER_CALLS = 200


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


class PopulationSimulator:
    """An in-memory population database. Thread-safe.

    ``client_id``/``client_secret`` are the credentials the token endpoint accepts;
    ``token_lifetime`` the ``expires_in`` it grants (seconds). ``faults`` draws random faults
    for look-ups (token calls are never faulted).
    """

    name = "population"

    def __init__(
        self,
        citizens: Iterable[Mapping[str, Any]],
        *,
        faults: Faults | None = None,
        client_id: str = "gateway",
        client_secret: str = "simulator-secret",  # noqa: S107 - a simulator's fixed credential
        token_lifetime: int = 3600,
        namespace: str = CITIZEN_NAMESPACE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._citizens = {str(c["SoDinhDanh"]): dict(c) for c in citizens}
        self.faults = faults if faults is not None else Faults()
        self._dice = FaultDice(self.faults, sleep=sleep)
        self._sleep = sleep
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.namespace = namespace
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._calls: list[PopulationCall] = []
        self._outcomes: Counter[str] = Counter()
        self._queued: deque[tuple[str, Any]] = deque()
        self._down = False
        self.latency = 0.0

    @classmethod
    def from_seed(cls, path: Path = DEFAULT_SEED, **options: Any) -> PopulationSimulator:
        """A simulator whose citizens are the JSON list in ``path``."""
        return cls(json.loads(Path(path).read_text("utf-8")), **options)

    # -- deterministic faults (tests) -----------------------------------------------------------

    def set_latency(self, seconds: float) -> None:
        """Delay every look-up by ``seconds`` (on top of ``faults.latency``)."""
        self.latency = seconds

    def timeout_next(self, count: int = 1) -> None:
        """The next ``count`` look-ups never answer (in-process: ``httpx.ReadTimeout``)."""
        with self._lock:
            self._queued.extend(("timeout", None) for _ in range(count))

    def soap_fault_next(self, count: int = 1, *, code: str = "Server") -> None:
        """The next ``count`` look-ups answer a SOAP fault with ``faultcode`` ``soap:<code>``."""
        with self._lock:
            self._queued.extend(("fault", code) for _ in range(count))

    def fail_next(self, count: int = 1, *, status: int = 503) -> None:
        """The next ``count`` look-ups answer HTTP ``status`` with a plain-text body."""
        with self._lock:
            self._queued.extend(("status", status) for _ in range(count))

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (401), as after an early revocation."""
        with self._lock:
            self._tokens.clear()

    def set_down(self, down: bool = True) -> None:
        """Answer every call 503 (``True``), tokens included, or serve again (``False``)."""
        with self._lock:
            self._down = down

    def clear_faults(self) -> None:
        """Drop queued faults and the fixed latency (the random ``faults`` stay)."""
        with self._lock:
            self._queued.clear()
        self.latency = 0.0

    # -- ledger ---------------------------------------------------------------------------------

    @property
    def calls(self) -> tuple[PopulationCall, ...]:
        """Every call so far, oldest first."""
        with self._lock:
            return tuple(self._calls)

    def ledger(self) -> dict[str, Any]:
        """Counts by outcome and the latest calls (numbers masked), JSON-ready."""
        with self._lock:
            return {
                "citizens": len(self._citizens),
                "outcomes": dict(self._outcomes),
                "calls": [dataclasses.asdict(c) for c in self._calls[-_LEDGER_CALLS:]],
            }

    def reset(self) -> None:
        """Forget calls, tokens and queued faults (the citizens and settings stay)."""
        with self._lock:
            self._calls.clear()
            self._outcomes.clear()
            self._tokens.clear()
            self._queued.clear()
        self.latency = 0.0

    def _record(self, profile: str, operation: str, number: str, status: int, outcome: str) -> None:
        with self._lock:
            self._outcomes[outcome] += 1
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

    def snippet(self, base_url: str, client_id: str, *, profile: str = "lgsp") -> str:
        """TOML for a gateway configuration: ``[identity]`` pointing at this simulator, with
        ``client_id`` entitled to the name, birth date and permanent address."""
        q = json.dumps
        return "\n".join(
            [
                "[identity.population]",
                f"profile = {q(profile)}",
                f"base_url = {q(base_url)}",
                f"soap_url = {q(base_url.rstrip('/') + SOAP_PATH)}",
                f"client_id = {q(self.client_id)}",
                f"client_secret = {q(self.client_secret)}",
                "",
                "[identity.entitlements]",
                f'{q(client_id)} = ["HoVaTen", "NgayThangNamSinh", "ThuongTru"]',
            ]
        )

    # -- answering ------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one raw request (``headers`` with lower-case names)."""
        if method != "POST":
            return Answer(405, b"method not allowed", _TEXT)
        with self._lock:
            down = self._down
        if down:
            self._record("down", path, "", 503, "down")
            return Answer(503, b"Service Unavailable", _TEXT)
        if path == TOKEN_PATH:
            return self._token(headers, body)
        if path == LOOKUP_PATH:
            return self._lgsp(headers, body)
        if path == SOAP_PATH:
            return self._soap(body)
        return Answer(404, b"not found", _TEXT)

    def _token(self, headers: Mapping[str, str], body: bytes) -> Answer:
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
            return json_answer({"error": "invalid_client"}, 401)
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token)
        self._record("token", "token", "", 200, "token")
        return json_answer(
            {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime}
        )

    def _fault(self) -> tuple[str, Any] | None:
        """The queued fault, else a random one from ``faults``; sleeps out any latency."""
        roll = self._dice.roll()
        delay = roll.delay + self.latency
        if delay:
            self._sleep(delay)
        with self._lock:
            if self._queued:
                return self._queued.popleft()
        if roll.fault == "error":
            return ("fault", "Server")
        if roll.fault == "unavailable":
            return ("status", 503)
        if roll.fault is not None:
            return (roll.fault, None)  # "timeout" or "drop"
        return None

    def _lgsp(self, headers: Mapping[str, str], body: bytes) -> Answer:
        op = "TraCuuThongTinCongDan"
        try:
            query = orjson.loads(body)
            number = str(query["SoDinhDanh"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self._record("lgsp", op, "", 400, "bad_request")
            return json_answer({"error_code": "400", "message": "bad request"}, 400)
        scheme, _, token = headers.get("authorization", "").partition(" ")
        with self._lock:
            known = token in self._tokens
        if scheme.lower() != "bearer" or not known:
            self._record("lgsp", op, number, 401, "expired_token" if token else "unauthorized")
            return json_answer({"error": "invalid_token"}, 401)
        fault = self._fault()
        if fault is not None:
            answer = self._faulted("lgsp", op, number, fault)
            if fault[0] != "fault":
                return answer
            # The platform relays the database's fault inside an ordinary reply.
            return json_answer({"error_code": "0", "message": answer.body.decode()})
        envelope, outcome = self._envelope(op, number)
        self._record("lgsp", op, number, 200, outcome)
        return json_answer({"error_code": "0", "message": envelope.decode()})

    def _soap(self, body: bytes) -> Answer:
        try:
            root = parse_xml(body)
            request = next(e for e in root.iter() if etree.QName(e).namespace == _REQUEST_NS)
            op = etree.QName(request).localname
            number = next(
                (e.text or "" for e in request if etree.QName(e).localname == "SoDinhDanh"), ""
            )
        except (ContractError, StopIteration, ValueError):
            self._record("soap", "?", "", 400, "bad_request")
            return Answer(400, b"bad request", _TEXT)
        fault = self._fault()
        if fault is not None:
            return self._faulted("soap", op, number, fault)
        envelope, outcome = self._envelope(op, number)
        self._record("soap", op, number, 200, outcome)
        return Answer(200, envelope, _XML)

    def _faulted(self, profile: str, op: str, number: str, fault: tuple[str, Any]) -> Answer:
        kind, value = fault
        if kind in ("timeout", "drop"):
            self._record(profile, op, number, 0, kind)
            envelope, _ = self._envelope(op, number)
            return Answer(200, envelope, _XML, after="timeout" if kind == "timeout" else "drop")
        if kind == "status":
            self._record(profile, op, number, int(value), f"http_{value}")
            return Answer(int(value), b"unavailable", _TEXT)
        self._record(profile, op, number, 500, "soap_fault")
        return Answer(500, _fault_envelope(str(value)), _XML)

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

    def transport(self) -> SimulatorTransport:
        """An in-process httpx transport; a timeout fault raises ``httpx.ReadTimeout`` at once."""
        return SimulatorTransport(self)


def _fill(parent: etree._Element, value: Mapping[str, Any], ns: str) -> None:
    for name, child in value.items():
        element = etree.SubElement(parent, f"{{{ns}}}{name}")
        if isinstance(child, Mapping):
            _fill(element, child, ns)
        elif child is not None:
            element.text = str(child)


def _fault_envelope(code: str) -> bytes:
    env = etree.Element(f"{{{_SOAP_ENV}}}Envelope", nsmap={"soap": _SOAP_ENV})
    body = etree.SubElement(env, f"{{{_SOAP_ENV}}}Body")
    fault = etree.SubElement(body, f"{{{_SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap:{code}"
    etree.SubElement(fault, "faultstring").text = "Hệ thống đang bận (simulated fault)"
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the population-database simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9300)
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    args = parser.parse_args(argv)
    sim = PopulationSimulator.from_seed(args.seed)
    sim.set_latency(args.latency)
    server = SimulatorServer(sim, host=args.host, port=args.port)
    server.start()
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
