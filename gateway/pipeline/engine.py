"""The delivery loop: claim ready dossiers, send them in one batch, settle the outcome.

One ``flush(service, agency)`` drains a queue batch by batch. Outcomes:

- success → delivered (``complete``);
- transient failure → retry at ``now + backoff`` (full jitter, honours Retry-After), or
  dead-letter once the peer's attempts or time budget is spent;
- permanent failure of a batch of several dossiers → each is isolated and sent alone, so one bad
  record does not sink the others; permanent failure of a lone dossier → dead-letter now.

After an ambiguous failure (the request may have reached the portal) or a worker that died
mid-send, progress steps are reconciled with ``TraCuuHoSo`` first: steps the portal already holds
are marked delivered, never appended twice. Dossier records need no such check: sending the same
full state again is an update with the same effect.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.connectors.base import DeliveryConnector
from gateway.errors import PeerError, PermanentPeerError, TransientPeerError
from gateway.pipeline.metrics import MetricsRecorder
from gateway.pipeline.outbox import Claim, Outbox, Service
from gateway.pipeline.retry import RetryPolicy

__all__ = ["DeliveryEngine", "EngineSettings", "step_key"]

log = logging.getLogger("gateway.pipeline")

Trigger = Callable[[Service, str, int | None], None]
"""Ask for a ``flush(service, agency)`` after an optional delay in ms."""

_STEP_KEY_FIELDS = ("ThoiDiemXuLy", "TrangThai", "NoiDungXuLy", "NguoiXuLy")


def step_key(step: Mapping[str, Any]) -> tuple[str, ...]:
    """What identifies a progress step at the portal (its time, status, content and handler)."""
    return tuple(str(step.get(f, "")) for f in _STEP_KEY_FIELDS)


def held_steps(held: Mapping[str, Any] | None, list_fields: Sequence[str]) -> set[tuple[str, ...]]:
    """The step keys found in a ``TraCuuHoSo`` answer (its step list's name is configurable)."""
    if not held:
        return set()
    for name in list_fields:
        steps = held.get(name)
        if isinstance(steps, list):
            return {step_key(s) for s in steps if isinstance(s, Mapping)}
    return set()


@dataclass(frozen=True)
class EngineSettings:
    """Tuning of the delivery loop."""

    batch_size: int = 50
    lease_seconds: float = 300.0
    """Must outlast the slowest send (checked at start-up): a lease that lapses mid-send lets a
    second worker send the same dossier."""
    max_batches_per_flush: int = 20
    step_list_fields: tuple[str, ...] = ("TienDo", "QuaTrinhXuLy", "DanhSachTienDo")
    """Where a ``TraCuuHoSo`` answer lists the steps the portal holds (not public: configurable)."""


@dataclass
class DeliveryEngine:
    """Delivers outbox records to one peer through its connector."""

    outbox: Outbox
    connector: DeliveryConnector
    policy: RetryPolicy
    trigger: Trigger
    settings: EngineSettings = field(default_factory=EngineSettings)
    metrics: MetricsRecorder | None = None
    rng: Callable[[float, float], float] = random.uniform

    def flush(self, service: Service, agency: str) -> int:
        """Drain one queue; returns how many records were delivered."""
        self.outbox.clear_trigger(service, agency)
        token = uuid.uuid4().hex
        lease_ms = int(self.settings.lease_seconds * 1000)
        delivered = 0
        cap = min(self.settings.batch_size, self.connector.max_batch)
        for _ in range(self.settings.max_batches_per_flush):
            claims = self.outbox.claim(
                service, agency, self.settings.batch_size, lease_ms, token, max_records=cap
            )
            if not claims:
                # A claim scans a bounded window; leased or waiting dossiers there are dropped
                # from the ready set, so try again while due work remains further down.
                if self.outbox.has_due(service, agency):
                    continue
                return delivered
            # More waiting than this batch: let another worker thread take the next one now.
            if self.outbox.has_due(service, agency) and self.outbox.mark_triggered(service, agency):
                self.trigger(service, agency, None)
            delivered += self._deliver(service, agency, token, claims)
        if self.outbox.mark_triggered(service, agency):
            self.trigger(service, agency, None)
        return delivered

    # -- one batch -----------------------------------------------------------------------------

    def _deliver(self, service: Service, agency: str, token: str, claims: list[Claim]) -> int:
        # Stored JSON goes to the connector as-is (an orjson Fragment is embedded, not re-encoded).
        bodies = {i: b for c in claims for i, b in zip(c.ids, c.bodies, strict=True)}
        # Per dossier: ids to send, and ids the portal turned out to hold already.
        to_send: dict[str, list[str]] = {c.dossier_no: list(c.ids) for c in claims}
        sendable: list[Claim] = []
        for c in claims:
            if service is Service.PROGRESS and c.ambiguous:
                try:
                    held = held_steps(
                        self.connector.lookup(agency, c.dossier_no), self.settings.step_list_fields
                    )
                except PeerError as exc:
                    self._failed(service, agency, token, [c], exc)
                    continue
                to_send[c.dossier_no] = [
                    i for i in c.ids if step_key(orjson.loads(bodies[i])) not in held
                ]
            sendable.append(c)
        if not sendable:
            return 0

        groups: list[tuple[bool, list[Claim]]] = [(False, sendable)]
        if service is Service.DOSSIER:
            # The portal keeps created and updated dossiers apart ("isUpdating").
            groups = [(flag, [c for c in sendable if c.created is flag]) for flag in (True, False)]
        delivered = 0
        for updating, group in groups:
            if group:
                delivered += self._send(service, agency, token, group, to_send, bodies, updating)
        return delivered

    def _send(
        self,
        service: Service,
        agency: str,
        token: str,
        claims: list[Claim],
        to_send: dict[str, list[str]],
        bodies: dict[str, bytes],
        updating: bool,
    ) -> int:
        records: list[Any] = [
            orjson.Fragment(bodies[i]) for c in claims for i in to_send[c.dossier_no]
        ]
        try:
            if records:
                self.connector.send(service.national_name, agency, records, updating=updating)
        except PeerError as exc:
            self._failed(service, agency, token, claims, exc)
            return 0
        settled = self.outbox.complete(
            service, agency, token, [(c.dossier_no, c.ids) for c in claims]
        )
        self._wake(settled.woke)
        if self.metrics is not None:
            self.metrics.observe_latencies(self.outbox.now_ms(), settled.values)
        return len(settled)

    def _wake(self, queues: set[tuple[Service, str]]) -> None:
        for svc, agency in queues:
            if self.outbox.mark_triggered(svc, agency):
                self.trigger(svc, agency, None)

    def _failed(
        self,
        service: Service,
        agency: str,
        token: str,
        claims: list[Claim],
        exc: PeerError,
    ) -> None:
        items = [(c.dossier_no, c.ids) for c in claims]
        peer = self.connector.system
        if isinstance(exc, PermanentPeerError):
            if len(claims) > 1:
                log.info("%s batch of %d refused; isolating each dossier", peer, len(claims))
                self.outbox.isolate(service, agency, token, items)
                if self.outbox.mark_triggered(service, agency):
                    self.trigger(service, agency, None)
                return
            log.warning("%s refused %s: %s", peer, claims[0].dossier_no, exc.reason)
            settled = self.outbox.dead_letter(
                service, agency, token, items, peer=peer, reason=exc.reason, message=str(exc)
            )
            self._wake(settled.woke)
            return
        self._retry_or_bury(service, agency, token, claims, exc)

    def _retry_or_bury(
        self, service: Service, agency: str, token: str, claims: list[Claim], exc: PeerError
    ) -> None:
        now_ms = self.outbox.now_ms()
        now = now_ms / 1000
        retry_after = exc.retry_after if isinstance(exc, TransientPeerError) else None
        ambiguous = isinstance(exc, TransientPeerError) and exc.ambiguous
        ids = [i for c in claims for i in c.ids]
        history = dict(zip(ids, self.outbox.failures(ids), strict=True))
        retry: list[tuple[str, Sequence[str]]] = []
        bury: list[tuple[str, Sequence[str]]] = []
        worst = 0
        for c in claims:
            counts = [history[i] for i in c.ids]
            failures = max(n for n, _ in counts) + 1
            firsts = [f for _, f in counts if f is not None]
            first = min(firsts) if firsts else now
            if self.policy.exhausted(failures, first, now):
                bury.append((c.dossier_no, c.ids))
            else:
                retry.append((c.dossier_no, c.ids))
                worst = max(worst, failures)
        if bury:
            log.warning(
                "%s: retry budget spent for %d dossier(s)", self.connector.system, len(bury)
            )
            buried = self.outbox.dead_letter(
                service,
                agency,
                token,
                bury,
                peer=self.connector.system,
                reason="retry_budget_exhausted",
                message=f"{exc.reason}: {exc}",
            )
            self._wake(buried.woke)
        if retry:
            delay = self.policy.delay(worst, retry_after=retry_after, rng=self.rng)
            next_at = now_ms + int(delay * 1000)
            self.outbox.reschedule(
                service,
                agency,
                token,
                retry,
                next_at_ms=next_at,
                error=f"{exc.reason}: {exc}",
                ambiguous=ambiguous,
            )
            self.trigger(service, agency, next_at - now_ms)

    # -- maintenance ---------------------------------------------------------------------------

    def sweep(self) -> set[tuple[Service, str]]:
        """Release expired leases and trigger every queue with due work; returns those queues.

        Covers what a lost or stalled dramatiq message would otherwise leave behind: a worker
        killed mid-send, a crash between storing and enqueueing, delayed messages stalled after
        a Redis restart.
        """
        self.outbox.recover()
        due = self.outbox.due_queues()
        for service, agency in due:
            if self.outbox.mark_triggered(service, agency):
                self.trigger(service, agency, None)
        return due
