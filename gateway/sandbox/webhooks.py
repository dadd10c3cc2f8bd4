"""The sandbox webhook receiver: a provincial system's endpoint that verifies and counts.

Each client has a path ``/hooks/<client_id>`` and one or more secrets (two during a rotation).
A delivery is verified as Standard Webhooks (:mod:`gateway.connectors.webhook_signing`), then
parsed as a gateway event ``{"type", "timestamp", "data": {"delivery_id", ...}}`` and kept in the
ledger, every receipt, duplicates included, so a checker can tell a redelivery of one
``webhook-id`` from a second message about the same event.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from gateway.connectors.webhook_signing import new_secret, verify
from gateway.errors import WebhookSignatureError
from gateway.sandbox.base import Answer, SimulatorTransport, json_answer
from gateway.sandbox.faults import FaultDice, Faults

__all__ = ["EVENT_TYPES", "WebhookReceiver"]

EVENT_TYPES = frozenset(
    {
        "delivery.delivered",
        "delivery.dead_lettered",
        "delivery.replayed",
        "payment.paid",
        "ministry.status",
    }
)
_PREFIX = "/hooks/"


class WebhookReceiver:
    """Receives signed gateway events for several clients; thread-safe.

    ``down`` answers every delivery 503 until cleared. Faults: ``error`` answers 500,
    ``unavailable`` 503 (neither keeps the event), ``timeout`` and ``drop`` keep it and then give
    the sender no answer.
    """

    name = "webhooks"

    def __init__(
        self,
        clients: Mapping[str, Sequence[str]] | None = None,
        *,
        faults: Faults | None = None,
        tolerance_seconds: int = 300,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.faults = faults if faults is not None else Faults()
        self._dice = FaultDice(self.faults, sleep=sleep)
        self.tolerance_seconds = tolerance_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._secrets: dict[str, tuple[str, ...]] = {
            c: tuple(s) for c, s in (clients or {}).items()
        }
        self._down = False
        self._events: list[dict[str, Any]] = []
        self._deliveries: Counter[str] = Counter()
        self._outcomes: Counter[str] = Counter()
        self._bad_signatures = 0

    # -- arranging -----------------------------------------------------------------------------

    def add_client(self, client_id: str, secrets: Sequence[str] | None = None) -> tuple[str, ...]:
        """Register ``client_id`` (a fresh secret unless given); returns its secrets."""
        chosen = tuple(secrets) if secrets else (new_secret(),)
        with self._lock:
            self._secrets[client_id] = chosen
        return chosen

    def secrets(self, client_id: str) -> tuple[str, ...]:
        """The secrets ``client_id`` is verified with."""
        with self._lock:
            return self._secrets[client_id]

    @property
    def clients(self) -> tuple[str, ...]:
        """Registered client ids."""
        with self._lock:
            return tuple(self._secrets)

    def set_down(self, down: bool = True) -> None:
        """Answer every delivery 503 (``True``) or serve again (``False``)."""
        with self._lock:
            self._down = down

    # -- inspection ----------------------------------------------------------------------------

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event kept, in arrival order: ``client``, ``id``, ``type``, ``timestamp``,
        ``data``; a redelivery appears again."""
        with self._lock:
            return copy.deepcopy(self._events)

    def deliveries(self, webhook_id: str) -> int:
        """How many times the message ``webhook_id`` was received and kept."""
        with self._lock:
            return self._deliveries[webhook_id]

    @property
    def bad_signatures(self) -> int:
        """Deliveries refused for a missing, stale or wrong signature."""
        with self._lock:
            return self._bad_signatures

    @property
    def outcomes(self) -> Counter[str]:
        """Deliveries by outcome: ``ok``, ``bad_signature``, ``bad_event``, ``unknown_client``,
        ``down``, the faults, and ``delayed`` (latency, on top)."""
        with self._lock:
            return Counter(self._outcomes)

    def ledger(self) -> dict[str, Any]:
        """Every event received, deliveries per ``webhook-id``, refusals and outcomes."""
        with self._lock:
            return {
                "simulator": self.name,
                "clients": sorted(self._secrets),
                "down": self._down,
                "events": copy.deepcopy(self._events),
                "deliveries": dict(self._deliveries),
                "bad_signatures": self._bad_signatures,
                "outcomes": dict(self._outcomes),
            }

    def reset(self) -> None:
        """Forget events and counts (clients, secrets and ``down`` stay)."""
        with self._lock:
            self._events.clear()
            self._deliveries.clear()
            self._outcomes.clear()
            self._bad_signatures = 0

    def transport(self) -> SimulatorTransport:
        """An in-process transport for an httpx client that posts webhooks."""
        return SimulatorTransport(self)

    # -- answering -----------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Answer one delivery."""
        if method != "POST" or not path.startswith(_PREFIX):
            return json_answer({"error": "not found"}, 404)
        client = path[len(_PREFIX) :]
        roll = self._dice.roll()
        self._dice.wait(roll)
        with self._lock:
            if roll.delay:
                self._outcomes["delayed"] += 1
            secrets = self._secrets.get(client)
            if secrets is None:
                self._outcomes["unknown_client"] += 1
                return json_answer({"error": "unknown client"}, 404)
            if self._down or roll.fault == "unavailable":
                self._outcomes["down" if self._down else "unavailable"] += 1
                return Answer(503, b"Service Unavailable", (("Content-Type", "text/plain"),))
            if roll.fault == "error":
                self._outcomes["error"] += 1
                return json_answer({"error": "internal error"}, 500)
        try:
            verify(
                secrets, headers, body, tolerance_seconds=self.tolerance_seconds, now=self._clock()
            )
        except WebhookSignatureError as exc:
            with self._lock:
                self._bad_signatures += 1
                self._outcomes["bad_signature"] += 1
            return json_answer({"error": "signature", "reason": exc.reason}, 401)
        event = self._event(body)
        with self._lock:
            if event is None:
                self._outcomes["bad_event"] += 1
                return json_answer({"error": "not a gateway event"}, 400)
            msg_id = next(v for k, v in headers.items() if k.lower() == "webhook-id")
            self._events.append({"client": client, "id": msg_id, **event})
            self._deliveries[msg_id] += 1
            answer = json_answer({"received": msg_id})
            if roll.fault in ("timeout", "drop"):
                self._outcomes[roll.fault] += 1
                return dataclasses.replace(answer, after=roll.fault)
            self._outcomes["ok"] += 1
            return answer

    @staticmethod
    def _event(body: bytes) -> dict[str, Any] | None:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(payload, dict) or payload.get("type") not in EVENT_TYPES:
            return None
        data = payload.get("data")
        # Delivery events name their delivery; payment events their payment; ministry events
        # their dossier.
        kind = str(payload["type"])
        key = (
            "payment_id"
            if kind.startswith("payment.")
            else "dossier_no"
            if kind.startswith("ministry.")
            else "delivery_id"
        )
        if not isinstance(data, dict) or not isinstance(data.get(key), str):
            return None
        return {"type": payload["type"], "timestamp": payload.get("timestamp"), "data": data}
