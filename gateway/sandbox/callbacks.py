"""Provider callbacks with faults: duplicates, reordering, delays, a bad checksum, or none.

The payment simulators queue a callback when a payment is paid or cancelled; :meth:`flush`
sends what is due through ``send``. Faults are drawn from one seeded generator: a *missing*
callback is never sent (the gateway's stale-payment query must find the payment), a *delayed*
one waits for the next flush, a *bad checksum* one is sent with one field changed after signing
(and the genuine one is lost), a *duplicate* is sent twice; ``reorder`` shuffles each flush.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FLUSH_PATH", "Callback", "CallbackFaults", "CallbackQueue"]

FLUSH_PATH = "/_sandbox/callbacks/flush"
"""``POST`` here sends every callback a simulator holds (the delayed ones)."""


class CallbackFaults(BaseModel):
    """How often each callback fault happens (probabilities in [0, 1])."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    duplicate_rate: float = Field(0.0, ge=0, le=1)
    delay_rate: float = Field(0.0, ge=0, le=1)
    bad_checksum_rate: float = Field(0.0, ge=0, le=1)
    missing_rate: float = Field(0.0, ge=0, le=1)
    reorder: bool = False
    seed: int = 0


@dataclass
class Callback:
    """One callback: the signed payload and a tampered copy (same hash, one field changed)."""

    reference: str
    payload: dict[str, Any]
    tampered: dict[str, Any]
    delayed: bool = False


@dataclass
class _Sent:
    reference: str
    fate: str
    answer: str


@dataclass
class CallbackQueue:
    """Callbacks waiting to be sent, and what became of each (for the ledger)."""

    faults: CallbackFaults
    send: Callable[[dict[str, Any]], str] | None = None
    """Sends one payload, answering the receiver's code; ``None``: callbacks stay queued."""
    pending: list[Callback] = field(default_factory=list)
    log: list[_Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.faults.seed)  # noqa: S311 - fault injection
        self._lock = threading.Lock()

    def push(self, callback: Callback) -> None:
        """Queue a callback."""
        with self._lock:
            self.pending.append(callback)

    def flush(self) -> int:
        """Send what is due (with faults); returns the number of payloads sent."""
        if self.send is None:
            return 0
        with self._lock:
            batch, self.pending = self.pending, []
            if self.faults.reorder:
                self._rng.shuffle(batch)
            plan: list[tuple[Callback, str]] = []
            for cb in batch:
                f, r = self.faults, self._rng.random
                if r() < f.missing_rate:
                    self.log.append(_Sent(cb.reference, "missing", "-"))
                elif not cb.delayed and r() < f.delay_rate:
                    cb.delayed = True
                    self.pending.append(cb)
                    self.log.append(_Sent(cb.reference, "delayed", "-"))
                elif r() < f.bad_checksum_rate:
                    plan.append((cb, "bad_checksum"))
                else:
                    plan.append((cb, "duplicate" if r() < f.duplicate_rate else "sent"))
        sent = 0
        for cb, fate in plan:
            payloads = {"bad_checksum": [cb.tampered], "duplicate": [cb.payload, cb.payload]}
            for payload in payloads.get(fate, [cb.payload]):
                try:
                    answer = self.send(payload)
                except Exception as exc:  # a down receiver is a logged fate
                    answer = f"error:{type(exc).__name__}"
                sent += 1
                with self._lock:
                    self.log.append(_Sent(cb.reference, fate, answer))
        return sent

    def ledger(self) -> list[dict[str, str]]:
        """Every callback's fate and the receiver's answer."""
        with self._lock:
            return [
                {"reference": s.reference, "fate": s.fate, "answer": s.answer} for s in self.log
            ]
