"""The delivery loop of one peer: claim ready subjects, send them in one call, settle the outcome.

One ``flush(channel, partition)`` drains a queue batch by batch. Outcomes:

- success → delivered (``complete``);
- transient failure → retry at ``now + backoff`` (full jitter, honours Retry-After), or
  dead-letter once the peer's attempts or time budget is spent;
- permanent failure of a batch of several subjects (or items) → each is isolated and sent alone,
  so one bad item does not sink the others; permanent failure of a lone item → dead-letter now.

**Ambiguity.** An item that was on the wire in an attempt whose outcome is unknown (a read
timeout, a dropped connection, a worker that died mid-send) is flagged in the outbox, per item.
Before such an item goes out again, the connector is asked which of the subject's flagged items
the peer lacks (:meth:`Connector.reconcile`); the others are marked delivered. One answer settles
every flagged item of the subject, claimed or not, so there is one look-up per ambiguous failure.

**Breaker.** Transient failures feed the peer's circuit breaker. While it is open, flushes claim
nothing and come back when it half-opens; a peer that is down costs its own threads nothing and
other peers' threads nothing at all (each peer has its own worker threads, see broker.py).
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gateway.connectors.base import Connector, Item, Mode
from gateway.errors import PeerError, PermanentPeerError, TransientPeerError
from gateway.pipeline.breaker import CircuitBreaker
from gateway.pipeline.channels import Channel
from gateway.pipeline.metrics import MetricsRecorder
from gateway.pipeline.outbox import Claim, Outbox, Settled
from gateway.pipeline.retry import RetryPolicy

__all__ = ["DeliveryEngine", "EngineSettings"]

log = logging.getLogger("gateway.pipeline")

Trigger = Callable[[str, str, int | None], None]
"""Ask for a ``flush(channel, partition)`` after an optional delay in ms."""


@dataclass(frozen=True)
class EngineSettings:
    """Tuning of the delivery loop."""

    batch_size: int = 50
    lease_seconds: float = 300.0
    """Must outlast the slowest send (checked at start-up): a lease that lapses mid-send lets a
    second worker send the same subject."""
    max_batches_per_flush: int = 20


@dataclass
class DeliveryEngine:
    """Delivers outbox items of one peer's channels through its connector."""

    outbox: Outbox
    connector: Connector
    policy: RetryPolicy
    trigger: Trigger
    settings: EngineSettings = field(default_factory=EngineSettings)
    metrics: MetricsRecorder | None = None
    breaker: CircuitBreaker | None = None
    rng: Callable[[float, float], float] = random.uniform

    def __post_init__(self) -> None:
        # Worker threads share the engine; whether this thread's flush sent anything is its own.
        self._local = threading.local()
        self.peer = self.connector.system
        self._channels = {c.id: c for c in self.outbox.channels.of_peer(self.peer)}

    def channel(self, channel_id: str) -> Channel:
        """One of this peer's channels."""
        return self._channels[channel_id]

    def flush(self, channel_id: str, partition: str) -> int:
        """Drain one queue; returns how many items were delivered."""
        ch = self.channel(channel_id)
        probe = False
        if self.breaker is not None:
            allowed, probe = self.breaker.enter()
            if not allowed:
                self._defer(ch, partition)
                return 0
        self.outbox.clear_trigger(ch.id, partition)
        token = uuid.uuid4().hex
        lease_ms = int(self.settings.lease_seconds * 1000)
        delivered = 0
        cap = min(self.settings.batch_size, ch.spec.max_batch)
        self._local.sent = False
        try:
            for _ in range(self.settings.max_batches_per_flush):
                if self.breaker is not None and not self.breaker.would_allow() and self._local.sent:
                    self._defer(ch, partition)
                    return delivered
                # Never more subjects than items fit (each has one at least): a claim scans
                # twice its limit in candidates, 1,008 for each one-event webhook claim else.
                claims = self.outbox.claim(ch.id, partition, cap, lease_ms, token, max_records=cap)
                if not claims:
                    # A claim scans a bounded window; leased or waiting subjects there are
                    # dropped from the ready set, so try again while due work remains.
                    if self.outbox.has_due(ch.id, partition):
                        continue
                    return delivered
                # More waiting than this batch: let another worker thread take the next one.
                if self.outbox.has_due(ch.id, partition):
                    self._kick(ch.id, partition)
                delivered += self._deliver(ch, partition, token, claims)
            self._kick(ch.id, partition)
            return delivered
        finally:
            if self.breaker is not None and probe and not self._local.sent:
                self.breaker.release()  # our half-open probe sent nothing (only ours: see enter)

    def _defer(self, ch: Channel, partition: str) -> None:
        """The breaker is open: one message comes back when it lets a probe through."""
        assert self.breaker is not None  # noqa: S101  # only called with a breaker
        delay_ms = max(int(self.breaker.retry_after() * 1000), 50)
        self.outbox.clear_trigger(ch.id, partition)
        if self.outbox.mark_triggered(ch.id, partition, ttl_ms=delay_ms + 5_000):
            self.trigger(ch.id, partition, delay_ms)

    def _kick(self, channel_id: str, partition: str) -> None:
        if self.outbox.mark_triggered(channel_id, partition):
            self.trigger(channel_id, partition, None)

    def _wake(self, queues: set[tuple[str, str]]) -> None:
        for channel_id, partition in queues:
            self._kick(channel_id, partition)

    def _settled(self, settled: Settled) -> None:
        self._wake(settled.woke)
        if self.metrics is not None and settled.values:
            self.metrics.observe_latencies(self.outbox.now_ms(), settled.values)

    # -- one batch -----------------------------------------------------------------------------

    def _deliver(self, ch: Channel, partition: str, token: str, claims: list[Claim]) -> int:
        to_send: dict[str, list[int]] = {c.subject: list(range(len(c.ids))) for c in claims}
        sendable: list[Claim] = []
        delivered = 0
        for c in claims:
            if c.needs_lookup:
                try:
                    answer = self._reconcile(ch, partition, token, c)
                    if answer is None:
                        # The lease lapsed during the look-up and another worker holds the
                        # subject now (it asks and sends itself): sending here would repeat it.
                        log.warning("%s: lease on %s lapsed during a look-up", self.peer, c.subject)
                        continue
                    to_send[c.subject], found = answer
                    delivered += found
                except PeerError as exc:
                    self._local.sent = True
                    self._record(exc)
                    self._failed(ch, partition, token, [c], exc)
                    continue
            sendable.append(c)
        if not sendable:
            return delivered
        groups: list[list[Claim]] = [sendable]
        if ch.mode is Mode.LATEST:
            # A latest-state peer keeps creates and updates apart (DVCQG's "isUpdating").
            groups = [[c for c in sendable if c.exists is flag] for flag in (True, False)]
        for group in groups:
            if group:
                delivered += self._send(ch, partition, token, group, to_send)
        return delivered

    def _reconcile(
        self, ch: Channel, partition: str, token: str, c: Claim
    ) -> tuple[list[int], int] | None:
        """Ask the peer about the subject's flagged items; returns the claimed indexes to send
        and how many items the answer settled as delivered (None: the lease was lost)."""
        flagged = [i for i, amb in enumerate(c.ambiguous) if amb]
        candidates = [Item(c.subject, c.ids[i], c.bodies[i], c.exists) for i in flagged]
        candidates += [
            Item(c.subject, i, b, c.exists)
            for i, b in zip(c.extra_ids, c.extra_bodies, strict=True)
        ]
        delivered: tuple[Item, ...] = ()
        if ch.mode is Mode.APPEND:
            delivered = tuple(
                Item(c.subject, "", b, c.exists)
                for b in self.outbox.delivered_bodies(ch.id, c.subject)
            )
        lacking = set(
            self.connector.reconcile(ch.spec, partition, c.subject, candidates, delivered=delivered)
        )
        held = [it.key for n, it in enumerate(candidates) if n not in lacking]
        missing = [it.key for n, it in enumerate(candidates) if n in lacking]
        if self.breaker is not None:
            self.breaker.record_success()
        settled = self.outbox.resolve(
            ch.id,
            partition,
            token,
            c.subject,
            held=held,
            lacking=missing,
            lease_ms=int(self.settings.lease_seconds * 1000),
        )
        if not settled.owned:
            return None
        self._settled(settled)
        held_set = set(held)
        return [i for i, key in enumerate(c.ids) if key not in held_set], len(settled)

    def _send(
        self,
        ch: Channel,
        partition: str,
        token: str,
        claims: list[Claim],
        to_send: dict[str, list[int]],
    ) -> int:
        items = [
            Item(c.subject, c.ids[i], c.bodies[i], c.exists, None if c.cids is None else c.cids[i])
            for c in claims
            for i in to_send[c.subject]
        ]
        if items:
            self._local.sent = True
            try:
                self.connector.send(ch.spec, partition, items)
            except PeerError as exc:
                self._record(exc)
                if self.metrics is not None:
                    self.metrics.observe_send(self.peer, failed=True)
                self._failed(ch, partition, token, claims, exc, to_send)
                return 0
            if self.breaker is not None:
                self.breaker.record_success()
            if self.metrics is not None:
                self.metrics.observe_send(self.peer, failed=False)
        settled = self.outbox.complete(
            ch.id, partition, token, [(c.subject, c.ids) for c in claims]
        )
        self._settled(settled)
        return len(settled)

    # -- maintenance ---------------------------------------------------------------------------

    def sweep(self) -> set[tuple[str, str]]:
        """Release expired leases (any peer's) and trigger this peer's queues with due work;
        returns those queues. Covers what a lost or stalled dramatiq message would leave behind:
        a worker killed mid-send, a crash between storing and enqueueing, delayed messages
        stalled after a Redis restart."""
        self.outbox.recover()
        due = {q for q in self.outbox.due_queues() if q[0] in self._channels}
        self._wake(due)
        return due

    def _record(self, exc: PeerError) -> None:
        if self.breaker is None:
            return
        if isinstance(exc, TransientPeerError):
            self.breaker.record_failure()
        else:
            self.breaker.record_success()  # the peer is up: it answered with a refusal

    def _failed(
        self,
        ch: Channel,
        partition: str,
        token: str,
        claims: list[Claim],
        exc: PeerError,
        to_send: dict[str, list[int]] | None = None,
    ) -> None:
        # Only what was on the wire is settled with this failure; items the look-up settled are
        # delivered already (the scripts skip them).
        items: list[tuple[str, Sequence[str]]] = [
            (
                c.subject,
                c.ids if to_send is None else tuple(c.ids[i] for i in to_send[c.subject]),
            )
            for c in claims
        ]
        if isinstance(exc, PermanentPeerError):
            # A refused call of several items may owe the refusal to one of them: split it
            # (several items of one subject too, which then go one at a time) before anything
            # is dead-lettered, so that one bad item does not sink the others.
            if len(claims) > 1 or sum(len(ids) for _, ids in items) > 1:
                log.info("%s batch of %d refused; isolating each subject", self.peer, len(claims))
                self.outbox.isolate(ch.id, partition, token, items)
                self._kick(ch.id, partition)
                return
            log.warning("%s refused %s: %s", self.peer, claims[0].subject, exc.reason)
            settled = self.outbox.dead_letter(
                ch.id,
                partition,
                token,
                items,
                peer=self.peer,
                reason=exc.reason,
                message=str(exc),
            )
            self._wake(settled.woke)
            return
        self._retry_or_bury(ch, partition, token, items, exc)

    def _retry_or_bury(
        self,
        ch: Channel,
        partition: str,
        token: str,
        items: list[tuple[str, Sequence[str]]],
        exc: PeerError,
    ) -> None:
        now_ms = self.outbox.now_ms()
        now = now_ms / 1000
        retry_after = exc.retry_after if isinstance(exc, TransientPeerError) else None
        ambiguous = isinstance(exc, TransientPeerError) and exc.ambiguous
        ids = [i for _, group in items for i in group]
        history = dict(zip(ids, self.outbox.failures(ids), strict=True))
        retry: list[tuple[str, Sequence[str]]] = []
        bury: list[tuple[str, Sequence[str]]] = []
        worst = 0
        for subject, group in items:
            counts = [history[i] for i in group] or [(0, None)]
            failures = max(n for n, _ in counts) + 1
            firsts = [f for _, f in counts if f is not None]
            first = min(firsts) if firsts else now
            if self.policy.exhausted(failures, first, now):
                bury.append((subject, group))
            else:
                retry.append((subject, group))
                worst = max(worst, failures)
        if bury:
            log.warning("%s: retry budget spent for %d subject(s)", self.peer, len(bury))
            buried = self.outbox.dead_letter(
                ch.id,
                partition,
                token,
                bury,
                peer=self.peer,
                reason="retry_budget_exhausted",
                message=f"{exc.reason}: {exc}",
                ambiguous=ambiguous,
            )
            self._wake(buried.woke)
        if retry:
            delay = self.policy.delay(worst, retry_after=retry_after, rng=self.rng)
            next_at = now_ms + int(delay * 1000)
            self.outbox.reschedule(
                ch.id,
                partition,
                token,
                retry,
                next_at_ms=next_at,
                error=f"{exc.reason}: {exc}",
                ambiguous=ambiguous,
            )
            self.trigger(ch.id, partition, next_at - now_ms)
