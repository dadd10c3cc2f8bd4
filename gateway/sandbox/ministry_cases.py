"""What the sandbox ministries share: a book of cases that move through stages on a drivable
clock, scripted and random faults, and the ledger that shows a duplicate case.

A case is opened under its **receipt key** (the one-stop receipt number, or a profile's
idempotency key). A ministry that de-duplicates (``dedupe=True``) returns the case it holds for
a key; one that does not opens another case for the same key, which is how the real hộ tịch
service is assumed to behave. Either way the ledger counts ``submissions`` and ``cases`` per
key: an accounting run asserts ``cases`` is never above 1.

Stages are generic (``received``, ``supplement``, ``processing``, ``completed``, ``refused``);
each simulator writes them in its ministry's codes. A case reaches a stage when the clock passes
its opening time plus the stage's offset. The clock is :class:`SandboxClock`: real time plus
whatever ``POST /_sandbox/advance`` (or :meth:`SandboxClock.advance`) added, or a fixed base in
tests, so nothing ever sleeps to see a case progress.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

import orjson

from gateway.sandbox.base import Answer, json_answer
from gateway.sandbox.faults import Fault, FaultDice, Faults

__all__ = [
    "ADVANCE_PATH",
    "DEFAULT_SCHEDULE",
    "UNAPPLIED_TIMEOUT",
    "CaseBook",
    "FaultPlan",
    "MinistrySimulator",
    "SandboxClock",
    "SimCase",
    "Stage",
    "TokenDesk",
    "advance_answer",
]

ADVANCE_PATH = "/_sandbox/advance"
"""``POST`` ``{"seconds": N}`` moves a sandbox ministry's clock forward by N seconds."""

UNAPPLIED_TIMEOUT = "timeout_unapplied"
"""A scripted fault every sandbox ministry knows: no answer, and nothing applied (the request
was lost before the ministry acted), unlike the shared ``timeout`` (applied, then no answer)."""

Stage = Literal["received", "supplement", "processing", "completed", "refused"]

DEFAULT_SCHEDULE: tuple[tuple[float, Stage], ...] = (
    (0.0, "received"),
    (60.0, "processing"),
    (120.0, "completed"),
)
"""Received at once, processing after a minute, completed after two."""


class SandboxClock:
    """Seconds since the epoch: ``base()`` plus the time advanced so far (thread-safe)."""

    def __init__(self, base: Callable[[], float] = time.time) -> None:
        self._base = base
        self._offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._base() + self._offset

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (never back); returns the new time."""
        with self._lock:
            self._offset += max(0.0, seconds)
            return self._base() + self._offset


@dataclass
class SimCase:
    """One case at the sandbox ministry."""

    key: str
    case_id: str
    opened_at: float
    payload: dict[str, Any]
    schedule: tuple[tuple[float, Stage], ...]
    result_no: str

    def stage(self, now: float) -> Stage:
        """The stage reached at ``now``."""
        reached: Stage = self.schedule[0][1]
        for offset, stage in self.schedule:
            if now >= self.opened_at + offset:
                reached = stage
        return reached

    def changed_at(self, now: float) -> float:
        """When the current stage was reached."""
        at = self.opened_at
        for offset, _ in self.schedule:
            if now >= self.opened_at + offset:
                at = self.opened_at + offset
        return at


@dataclass
class CaseBook:
    """Cases by receipt key, thread-safe."""

    clock: Callable[[], float]
    dedupe: bool = True
    schedule: tuple[tuple[float, Stage], ...] = DEFAULT_SCHEDULE
    prefix: str = "BO"
    cases: dict[str, list[SimCase]] = field(default_factory=dict)
    submissions: dict[str, int] = field(default_factory=dict)
    schedules: dict[str, tuple[tuple[float, Stage], ...]] = field(default_factory=dict)
    """Per-key schedules set before the case opens (a supplement, a refusal …)."""

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self._next = 0

    def plan(self, key: str, schedule: Sequence[tuple[float, Stage]]) -> None:
        """The case opened under ``key`` will follow ``schedule`` instead of the default."""
        with self.lock:
            self.schedules[key] = tuple(schedule)

    def open(self, key: str, payload: Mapping[str, Any]) -> tuple[SimCase, bool]:
        """The case for ``key`` and whether it was opened now (a de-duplicated repeat: False)."""
        with self.lock:
            self.submissions[key] = self.submissions.get(key, 0) + 1
            held = self.cases.get(key)
            if held and self.dedupe:
                return held[-1], False
            self._next += 1
            case = SimCase(
                key=key,
                case_id=f"{self.prefix}{self._next:08d}",
                opened_at=self.clock(),
                payload=dict(payload),
                schedule=self.schedules.get(key, self.schedule),
                result_no=f"{self.prefix}-KQ-{self._next:06d}",
            )
            self.cases.setdefault(key, []).append(case)
            return case, True

    def find(self, key: str) -> SimCase | None:
        """The newest case under ``key``."""
        with self.lock:
            held = self.cases.get(key)
            return held[-1] if held else None

    def by_id(self, case_id: str) -> SimCase | None:
        """The case with the ministry's ``case_id``."""
        with self.lock:
            for held in self.cases.values():
                for case in held:
                    if case.case_id == case_id:
                        return case
            return None

    def changed_since(self, since: float) -> list[SimCase]:
        """Every case whose current stage was reached at or after ``since``."""
        now = self.clock()
        with self.lock:
            return [c for held in self.cases.values() for c in held if c.changed_at(now) >= since]

    def ledger(self) -> dict[str, Any]:
        """Cases per key (with their stage now), submissions, and the duplicates."""
        now = self.clock()
        with self.lock:
            return {
                "cases": {
                    key: [
                        {"case_id": c.case_id, "stage": c.stage(now), "opened_at": c.opened_at}
                        for c in held
                    ]
                    for key, held in self.cases.items()
                },
                "submissions": dict(self.submissions),
                "cases_opened": sum(len(h) for h in self.cases.values()),
                "duplicate_cases": sorted(k for k, h in self.cases.items() if len(h) > 1),
            }

    def reset(self) -> None:
        """Forget every case and count (keeps plans)."""
        with self.lock:
            self.cases.clear()
            self.submissions.clear()


class FaultPlan:
    """Faults for a simulator's calls: scripted ones first (``inject``), then the dice."""

    def __init__(self, faults: Faults | None = None) -> None:
        self.dice = FaultDice(faults or Faults())
        self._script: deque[tuple[Fault | str, str | None]] = deque()
        self._lock = threading.Lock()

    def inject(self, fault: Fault | str, *, operation: str | None = None, count: int = 1) -> None:
        """The next ``count`` calls (of ``operation``, or any) get ``fault``: one of the shared
        :data:`~gateway.sandbox.faults.Fault` names, or a simulator's own (a SOAP fault code,
        a ministry error code)."""
        with self._lock:
            self._script.extend([(fault, operation)] * count)

    def draw(self, operation: str) -> Fault | str | None:
        """The fault of one call of ``operation`` (``None``: answer normally)."""
        with self._lock:
            for i, (fault, op) in enumerate(self._script):
                if op is None or op == operation:
                    del self._script[i]
                    return fault
        roll = self.dice.roll()
        self.dice.wait(roll)
        return roll.fault

    def set_faults(self, faults: Faults) -> None:
        """Change the random faults from now on."""
        self.dice = FaultDice(faults)


def advance_answer(clock: SandboxClock, body: bytes) -> Answer:
    """Answer ``POST /_sandbox/advance`` ``{"seconds": N}``."""
    try:
        seconds = float(orjson.loads(body or b"{}").get("seconds", 0))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return json_answer({"error": 'body must be {"seconds": N}'}, 400)
    return json_answer({"now": clock.advance(seconds)})


class TokenDesk:
    """The LGSP's OAuth2 client-credentials endpoint, locally: ``POST /token`` (Basic or form
    credentials) issues bearer tokens that :meth:`valid` accepts until they expire."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        clock: Callable[[], float] = time.time,
        lifetime: float = 3600.0,
    ) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self._clock = clock
        self._lifetime = lifetime
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def issue(self, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer a token request."""
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        cid, secret = form.get("client_id"), form.get("client_secret")
        basic = headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                cid, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                cid = secret = None
        if form.get("grant_type") != "client_credentials":
            return json_answer({"error": "unsupported_grant_type"}, 400)
        if cid != self.client_id or secret != self.client_secret:
            return json_answer({"error": "invalid_client"}, 401)
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = self._clock() + self._lifetime
            self.issued += 1
        return json_answer(
            {"access_token": token, "token_type": "Bearer", "expires_in": int(self._lifetime)}
        )

    def revoke(self) -> None:
        """Invalidate every token issued (the caller must fetch a new one after one 401)."""
        with self._lock:
            self._tokens.clear()

    def valid(self, headers: Mapping[str, str]) -> bool:
        """True when the request carries a live token we issued."""
        value = headers.get("authorization", "")
        if not value.lower().startswith("bearer "):
            return False
        with self._lock:
            expires = self._tokens.get(value[7:].strip())
        return expires is not None and self._clock() < expires


class MinistrySimulator:
    """What every sandbox ministry but LLTP (which has faults and tokens of its own) is made of:
    a drivable clock, the LGSP token desk, a book of cases under receipt keys with ``prefix``,
    scripted and random faults, and call counts by operation."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        prefix: str,
        dedupe: bool = True,
        faults: Faults | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.clock = SandboxClock(clock) if clock is not None else SandboxClock()
        self.tokens = TokenDesk(client_id, client_secret, clock=self.clock)
        self.book = CaseBook(clock=self.clock, dedupe=dedupe, prefix=prefix)
        self.faults = FaultPlan(faults)
        self.calls: Counter[str] = Counter()

    def inject(self, fault: str, *, operation: str | None = None, count: int = 1) -> None:
        """The next ``count`` calls (of ``operation``, or any) get ``fault``."""
        self.faults.inject(fault, operation=operation, count=count)

    def case(self, key: str) -> SimCase | None:
        """The newest case under receipt key ``key`` (for tests)."""
        return self.book.find(key)

    def ledger(self) -> dict[str, Any]:
        """Cases per receipt key (a second one is a duplicate), submissions, calls, tokens."""
        return {**self.book.ledger(), "calls": dict(self.calls), "tokens": self.tokens.issued}

    def reset(self) -> None:
        """Forget cases and counts."""
        self.book.reset()
        self.calls.clear()
