"""An LLTP (Ministry of Justice judicial records) simulator behind a simulated LGSP.

- ``POST /token``: OAuth2 client credentials (``TokenDesk``), tokens of ``token_seconds``;
  every API call needs a live bearer token (401 otherwise).
- ``POST /apiLyLichTuPhap/nhanHoSoDangKy``: opens a case; with ``dedupe`` (the default) a
  second hand-over of one ``idReceivedDec`` returns the case it holds (counted as a repeat).
  ``dedupe=False`` opens a second case instead, so a test can prove the gateway never asks twice.
- ``traTrangThaiHs`` (STATUS 0 when it holds no case), ``traDsTrangThaiHs`` (cases whose status
  changed and was not acknowledged), ``danhDauHsThanhCong`` (acknowledge), ``traDanhMuc``
  (small catalogues 1–5).
- Cases move 3 → 4 → 5 every ``step_seconds`` on the simulator's clock: injectable, and moved
  forward by ``POST /_sandbox/advance {"seconds": n}``, so nothing has to sleep.
- Each change is also pushed to ``callback_url`` (when set) as a ``LISTCONTENT`` row, with the
  bearer ``callback_secret``; ``POST /_sandbox/callbacks/flush`` sends what is queued.

Faults: the sandbox's :class:`Faults` on every API call (500, 503, applied-then-timeout,
applied-then-drop), plus :class:`LltpFaults`: timeouts *before* applying, acknowledgements
answered STATUS 1 but not applied (lost), and duplicate callbacks. The ledger counts cases
opened per ``idReceivedDec`` (must stay 1), repeats, calls, faults, tokens and acknowledgements.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field

from gateway.sandbox.base import Answer, json_answer
from gateway.sandbox.callbacks import FLUSH_PATH
from gateway.sandbox.faults import FaultDice, Faults
from gateway.sandbox.ministry_cases import ADVANCE_PATH, TokenDesk

__all__ = ["ADVANCE_PATH", "API_PREFIX", "SAMPLE_PROCEDURE", "LltpFaults", "LltpSimulator"]

API_PREFIX = "/apiLyLichTuPhap/"
SAMPLE_PROCEDURE = "2.000488"
"""The procedure code the sandbox's configuration snippet routes to this simulator."""
_OPS = (
    "nhanHoSoDangKy",
    "traTrangThaiHs",
    "traDsTrangThaiHs",
    "danhDauHsThanhCong",
    "traDanhMuc",
)
_CATALOGUES: dict[int, list[dict[str, Any]]] = {
    1: [{"ID": 1, "NAME": "Thành phố Hà Nội"}, {"ID": 22, "NAME": "Tỉnh Quảng Ninh"}],
    2: [{"ID": 1, "NAME": "Việt Nam"}, {"ID": 2, "NAME": "Lào"}],
    3: [{"ID": 1, "NAME": "Kinh"}, {"ID": 2, "NAME": "Tày"}],
    4: [{"ID": "STP-H22", "NAME": "Sở Tư pháp tỉnh Quảng Ninh"}],
    5: [{"ID": "TTLLTP", "NAME": "Trung tâm Lý lịch tư pháp quốc gia"}],
}


class LltpFaults(BaseModel):
    """LLTP's own faults (probabilities in [0, 1]), drawn from their own seeded generator."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    early_timeout_rate: float = Field(0.0, ge=0, le=1)
    """No answer, and nothing applied (the request died on the way)."""
    lost_ack_rate: float = Field(0.0, ge=0, le=1)
    """``danhDauHsThanhCong`` answers STATUS 1 but marks nothing."""
    duplicate_callback_rate: float = Field(0.0, ge=0, le=1)
    refuse_rate: float = Field(0.0, ge=0, le=1)
    """``nhanHoSoDangKy`` answers STATUS 0 (refused), nothing applied."""
    seed: int = 0


@dataclass
class _Case:
    id: str
    received: str
    identify: str
    opened_at: float
    status: int = 3
    changed: bool = True
    """A change not yet acknowledged (listed by ``traDsTrangThaiHs``)."""
    history: list[int] = field(default_factory=lambda: [3])


class LltpSimulator:
    """The ministry's judicial-record service, locally (thread-safe)."""

    name = "lltp"

    def __init__(
        self,
        *,
        client_id: str = "gateway",
        client_secret: str = "lltp-sandbox-secret",  # noqa: S107 - the sandbox's test secret
        callback_url: str | None = None,
        callback_secret: str = "lltp-callback-secret",  # noqa: S107 - the sandbox's test secret
        step_seconds: float = 60.0,
        token_seconds: float = 3600.0,
        dedupe: bool = True,
        faults: Faults | None = None,
        lltp_faults: LltpFaults | None = None,
        clock: Callable[[], float] = time.time,
        send: Callable[[bytes], int] | None = None,
    ) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.callback_url, self.callback_secret = callback_url, callback_secret
        self.step_seconds, self.token_seconds, self.dedupe = step_seconds, token_seconds, dedupe
        self.faults = faults or Faults()
        self.lltp_faults = lltp_faults or LltpFaults()
        self._dice = FaultDice(self.faults)
        # One generator per kind of fault: the order in which worker threads reach the simulator
        # varies from run to run, and with one shared generator a kind drawn rarely (three
        # acknowledgements in a run) could then miss its fault altogether. Per kind, the n-th
        # draw of that kind is the same in every run with the same seed.
        seed = self.lltp_faults.seed
        self._rngs = {
            kind: random.Random(f"{seed}:{kind}")  # noqa: S311 - fault injection
            for kind in ("duplicate_callback", "early_timeout", "refuse", "lost_ack")
        }
        self._base_clock = clock
        self.send = send or self._post
        """Delivers one callback body, answering the HTTP status (default: POST it)."""
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget every case, token and count."""
        with getattr(self, "_lock", threading.RLock()):
            self.offset = 0.0
            self.cases: dict[str, list[_Case]] = {}
            self.by_id: dict[str, _Case] = {}
            self.tokens = TokenDesk(
                self.client_id, self.client_secret, clock=self.now, lifetime=self.token_seconds
            )
            self.calls: dict[str, int] = {}
            self.fault_counts: dict[str, int] = {}
            self.repeats = 0
            self.acks = {"applied": 0, "lost": 0}
            self.outbox: list[bytes] = []
            self.callbacks = {"sent": 0, "duplicates": 0, "failed": 0}
            self._seq = 0

    def set_faults(self, faults: Faults) -> None:
        """Change the API faults from now on (a test ends an outage)."""
        with self._lock:
            self.faults = faults
            self._dice = FaultDice(faults)

    def now(self) -> float:
        """The simulator's clock (the injected one plus what ``advance`` added)."""
        return self._base_clock() + self.offset

    def advance(self, seconds: float) -> int:
        """Move the clock on; returns how many cases changed status."""
        with self._lock:
            self.offset += seconds
            return self._move()

    # -- cases ---------------------------------------------------------------------------------

    def _move(self) -> int:
        changed = 0
        now = self.now()
        for case in self.by_id.values():
            target = min(5, 3 + int((now - case.opened_at) // self.step_seconds))
            while case.status < target:
                case.status += 1
                case.history.append(case.status)
                case.changed = True
                changed += 1
                self._queue_callback(case)
        return changed

    def _row(self, case: _Case) -> dict[str, Any]:
        row: dict[str, Any] = {
            "ID": case.id,
            "idReceivedDec": case.received,
            "DEC_STATUS_ID": case.status,
        }
        if case.status >= 4:
            row["APPROVE_DATE"] = time.strftime("%d/%m/%Y", time.gmtime(self.now() + 7 * 3600))
        if case.status == 5:
            row["ISSUE_DATE"] = row["APPROVE_DATE"]
            row["CERTIFICATE_NO"] = f"LLTP-{case.id}"
        return row

    def _queue_callback(self, case: _Case) -> None:
        if self.callback_url is None:
            return
        body = orjson.dumps(self._row(case))
        self.outbox.append(body)
        if self._rngs["duplicate_callback"].random() < self.lltp_faults.duplicate_callback_rate:
            self.outbox.append(body)
            self.callbacks["duplicates"] += 1

    def flush_callbacks(self) -> int:
        """Move the cases on the clock, then send every queued callback; returns how many were
        sent (failures are counted, not retried: the gateway polls what it missed)."""
        with self._lock:
            self._move()
            batch, self.outbox = self.outbox, []
        sent = 0
        for body in batch:
            try:
                status = self.send(body)
            except Exception:  # a gateway that is down is a counted fate, not a crash
                status = 0
            if 200 <= status < 300:
                sent += 1
            else:
                with self._lock:
                    self.callbacks["failed"] += 1
        with self._lock:
            self.callbacks["sent"] += sent
        return sent

    def _post(self, body: bytes) -> int:
        assert self.callback_url is not None  # noqa: S101 - only queued with a URL
        reply = httpx.post(
            self.callback_url,
            content=body,
            headers={
                "Authorization": f"Bearer {self.callback_secret}",
                "Content-Type": "application/json",
            },
            timeout=10,
        )
        return reply.status_code

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one request."""
        if method != "POST":
            return Answer(405, b"{}")
        if path == ADVANCE_PATH:
            seconds = float(orjson.loads(body or b"{}").get("seconds", self.step_seconds))
            return json_answer({"changed": self.advance(seconds)})
        if path == FLUSH_PATH:
            return json_answer({"sent": self.flush_callbacks()})
        if path == "/token":
            return self.tokens.issue(headers, body)
        if not path.startswith(API_PREFIX) or path[len(API_PREFIX) :] not in _OPS:
            return Answer(404, b"{}")
        op = path[len(API_PREFIX) :]
        if not self.tokens.valid(headers):
            return Answer(401, b'{"error":"invalid_token"}')
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            return json_answer({"STATUS": 0, "DESCRIPTION": "not JSON"}, 400)
        if not isinstance(message, dict):
            return json_answer({"STATUS": 0, "DESCRIPTION": "expected an object"}, 400)
        with self._lock:
            self.calls[op] = self.calls.get(op, 0) + 1
            if self._rngs["early_timeout"].random() < self.lltp_faults.early_timeout_rate:
                self._count("early_timeout")
                return Answer(200, b"", after="timeout")
        roll = self._dice.roll()
        self._dice.wait(roll)
        if roll.fault == "error":
            self._count("error")
            return json_answer({"STATUS": -1, "DESCRIPTION": "loi he thong"}, 500)
        if roll.fault == "unavailable":
            self._count("unavailable")
            return Answer(503, b"{}")
        with self._lock:
            self._move()
            reply = getattr(self, "_" + op)(message)
        if roll.fault in ("timeout", "drop"):
            self._count(f"applied_then_{roll.fault}")
            return Answer(200, b"", after=roll.fault)
        return json_answer(reply)

    def _count(self, kind: str) -> None:
        with self._lock:
            self.fault_counts[kind] = self.fault_counts.get(kind, 0) + 1

    def revoke_tokens(self) -> None:
        """Invalidate every token issued (the gateway must fetch a new one after one 401)."""
        self.tokens.revoke()

    # -- operations (called under the lock) ----------------------------------------------------

    def _nhanHoSoDangKy(self, m: dict[str, Any]) -> dict[str, Any]:
        received = str(m.get("idReceivedDec") or "")
        form = m.get("declarationWSForm")
        if not received or not isinstance(form, dict) or not form.get("identifyNo"):
            return {"STATUS": 0, "DESCRIPTION": "thieu idReceivedDec hoac identifyNo"}
        if self._rngs["refuse"].random() < self.lltp_faults.refuse_rate:
            self._count("refused")
            return {"STATUS": 0, "DESCRIPTION": "ho so khong hop le"}
        held = self.cases.get(received)
        if held and self.dedupe:
            self.repeats += 1
            return {"STATUS": 1, "DESCRIPTION": "da ton tai", "ID": held[0].id}
        self._seq += 1
        case = _Case(f"{self._seq:08d}", received, str(form["identifyNo"]), self.now())
        self.cases.setdefault(received, []).append(case)
        self.by_id[case.id] = case
        self._queue_callback(case)
        return {"STATUS": 1, "DESCRIPTION": "thanh cong", "ID": case.id}

    def _traTrangThaiHs(self, m: dict[str, Any]) -> dict[str, Any]:
        held = self.cases.get(str(m.get("idReceivedDec") or ""))
        if not held or (m.get("identifyNo") and m["identifyNo"] != held[0].identify):
            return {"STATUS": 0, "DESCRIPTION": "khong tim thay ho so"}
        return {"STATUS": 1, "DESCRIPTION": "thanh cong", **self._row(held[0])}

    def _traDsTrangThaiHs(self, m: dict[str, Any]) -> dict[str, Any]:
        rows = [self._row(c) for c in self.by_id.values() if c.changed]
        return {"STATUS": 1, "DESCRIPTION": "thanh cong", "LISTCONTENT": rows}

    def _danhDauHsThanhCong(self, m: dict[str, Any]) -> dict[str, Any]:
        ids = [i for i in str(m.get("declarationId") or "").split(";") if i]
        if self._rngs["lost_ack"].random() < self.lltp_faults.lost_ack_rate:
            self.acks["lost"] += len(ids)
            return {"STATUS": 1, "DESCRIPTION": "thanh cong"}
        for i in ids:
            case = self.by_id.get(i)
            if case is not None:
                case.changed = False
                self.acks["applied"] += 1
        return {"STATUS": 1, "DESCRIPTION": "thanh cong"}

    def _traDanhMuc(self, m: dict[str, Any]) -> dict[str, Any]:
        rows = _CATALOGUES.get(int(m.get("type") or 0))
        if rows is None:
            return {"STATUS": 0, "DESCRIPTION": "loai danh muc khong hop le"}
        return {"STATUS": 1, "DESCRIPTION": "thanh cong", "LISTCONTENT": rows}

    # -- ledger --------------------------------------------------------------------------------

    def ledger(self) -> dict[str, Any]:
        """Cases per ``idReceivedDec`` (``opened`` must stay 1), calls, faults, acks, callbacks."""
        with self._lock:
            return {
                "cases": {
                    r: {
                        "opened": len(cs),
                        "ids": [c.id for c in cs],
                        "status": cs[0].status,
                        "history": cs[0].history,
                    }
                    for r, cs in self.cases.items()
                },
                "opened_twice": sorted(r for r, cs in self.cases.items() if len(cs) > 1),
                "repeats": self.repeats,
                "calls": dict(self.calls),
                "faults": dict(self.fault_counts),
                "tokens_issued": self.tokens.issued,
                "acks": dict(self.acks),
                "callbacks": dict(self.callbacks),
                "clock_offset": self.offset,
            }
