"""The running gateway: Redis, outbox, connectors, engines, broker and workers, built from Settings.

The HTTP API and the CLI hold one :class:`GatewayService` and call it; they never build pipeline
parts themselves. Everything per peer (engine, breaker, retry policy, worker threads, dramatiq
queue) comes from the connectors given and the peers' configuration; nothing here names a channel
except the DVCQG intake's :meth:`GatewayService.accept`, which maps DVCQG records to the DVCQG
channels.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gateway.audit import AuditChain, AuditedDeadLetters, audit_http
from gateway.config import Settings
from gateway.connectors.base import Connector, Entry
from gateway.connectors.dvcqg import DvcqgConnector, Service, entries
from gateway.connectors.ministry.connector import MinistryConnector, handover_entry
from gateway.connectors.webhook import EVENT_CHANNEL, Subscriber, WebhookConfig, WebhookConnector
from gateway.errors import ConfigurationError, PipelineError
from gateway.evaluations import Evaluations
from gateway.ministry import CaseStore, MinistryService, build_connectors
from gateway.observability.correlation import current as current_cid
from gateway.observability.delivery import CorrelatedConnector
from gateway.observability.propagation import propagate_http
from gateway.observability.traces import Tracing, open_tracing
from gateway.pipeline.breaker import CircuitBreaker
from gateway.pipeline.broker import (
    OPERATIONS_QUEUE,
    WorkerPool,
    build_broker,
    declare_flush_actor,
    declare_replay_actor,
    delivery_queue,
)
from gateway.pipeline.channels import Channels
from gateway.pipeline.deadletters import DeadLetters
from gateway.pipeline.engine import DeliveryEngine
from gateway.pipeline.metrics import MetricsCollector, MetricsRecorder
from gateway.pipeline.outbox import Accepted, Outbox, PinsChanged
from gateway.pipeline.peers import PeerDelivery
from gateway.pipeline.periodic import Periodics
from gateway.pipeline.replayjobs import ReplayJobs
from gateway.pipeline.traced import TracedConnector, TraceLinks
from gateway.runtime.store import RedisHandle, open_redis
from gateway.schemas.codes import DossierStatus, OnlinePayment
from gateway.schemas.lifecycle import Lifecycle
from gateway.schemas.national import DossierRecord, ProgressRecord

__all__ = [
    "GatewayService",
    "Outcome",
    "allowed_transitions",
    "keep_payment_flags",
    "outcome",
]

# A ministry gets a dossier once the one-stop desk has received it and while it is open.
_HANDED_OVER = frozenset(
    {
        DossierStatus.RECEIVED,
        DossierStatus.PROCESSING,
        DossierStatus.SUPPLEMENT_REQUESTED,
        DossierStatus.PAYMENT_REQUESTED,
    }
)

log = logging.getLogger("gateway")
# A pin changes once per paid dossier: more conflicts than this in one request are not a race.
_PIN_ATTEMPTS = 20


@dataclass(frozen=True, slots=True)
class Outcome:
    """What intake did with one DVCQG record: accepted (new or duplicate) or refused, and why."""

    index: int
    dossier_no: str
    delivery_id: str | None
    duplicate: bool = False
    refused_rule: str | None = None
    refused_message: str | None = None
    flags: tuple[str, ...] = ()
    """Intake quirks the record was accepted with, and the life cycle's own (``status_skip``)."""

    @property
    def accepted(self) -> bool:
        """True when the record is (or already was) in the outbox."""
        return self.refused_rule is None


def outcome(lifecycle: Lifecycle, rec: DossierRecord | ProgressRecord, a: Accepted) -> Outcome:
    """The intake's answer for one DVCQG record from what the outbox did with its entry."""
    no = rec.dossier_no
    if a.accepted:
        flags = tuple(a.extra.split(",")) if a.code == "new" and a.extra not in ("", "-") else ()
        return Outcome(a.index, no, a.delivery_id, duplicate=a.duplicate, flags=flags)
    if a.code == "order":
        when = rec.handled_at if isinstance(rec, ProgressRecord) else ""
        return Outcome(
            a.index,
            no,
            None,
            refused_rule="step_out_of_order",
            refused_message=(
                f"ThoiDiemXuLy {when} is before a step already accepted for {no}"
                f" (at {a.extra}); steps must reach the portal in time order"
            ),
        )
    if a.code == "stale":
        return Outcome(
            a.index,
            no,
            None,
            refused_rule="state_out_of_order",
            refused_message=f"{no}: older than the state already accepted ({a.extra})",
        )
    old = lifecycle.explain(type(rec.status)(a.extra), rec.status)
    return Outcome(
        a.index, no, None, refused_rule="status_transition", refused_message=f"{no}: {old}"
    )


def keep_payment_flags(
    records: Sequence[DossierRecord], pins: Mapping[str, str]
) -> list[DossierRecord]:
    """The records, each paid dossier's with ``DuocThanhToanTrucTuyen`` kept as pinned.

    Once a payment was reflected in a dossier's national record, a later province state that
    says nothing of it (absent, "" or "0") must not take the flag back: the portal holds only
    the latest state. A province that sends another non-zero code says something else on
    purpose (it knows of a payment the gateway did not take), and that is kept as sent.
    """
    out = []
    for r in records:
        pin = pins.get(r.dossier_no, "")
        if pin and r.online_payment in (None, "", OnlinePayment.NO):
            r = r.model_copy(update={"online_payment": OnlinePayment(pin)})
        out.append(r)
    return out


def allowed_transitions(lifecycle: Lifecycle) -> str:
    """The life cycle as the outbox scripts read it: ``",old>new,…,"``, then the pairs accepted
    only as a quirk, ``"|,old>new:rule,…,"`` (a plain search for ``",old>new,"`` never matches
    one of those, since ``:`` follows the pair)."""
    pairs = (
        f"{old.value}>{new.value}" for old, news in lifecycle.transitions.items() for new in news
    )
    flagged = (f"{o.value}>{n.value}:{rule}" for (o, n), rule in lifecycle.flagged.items())
    return "," + ",".join(pairs) + ",|," + ",".join(flagged) + ","


@dataclass
class GatewayService:
    """One gateway instance. Build with :meth:`open` (or the constructor, in tests).

    ``connectors`` are the peers to deliver to (one connector, or several); a client with a
    ``webhook_url`` adds the webhook peer unless one is given.
    """

    settings: Settings
    client: redis.Redis
    connectors: Connector | Sequence[Connector]
    clock: Callable[[], float] = time.time
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    handle: RedisHandle | None = None
    fake_portal: object | None = None
    webhook_transport: Any = None
    """An httpx transport for the webhook peer (tests and the sandbox)."""
    ministry_transports: Any = None
    """``{system: httpx transport}`` for ministry systems (tests and the sandbox)."""
    span_exporter: Any = None
    """An OpenTelemetry ``SpanExporter`` in place of the configured one (tests, benchmarks)."""

    def __post_init__(self) -> None:
        given = (
            [self.connectors] if isinstance(self.connectors, Connector) else list(self.connectors)
        )
        self.cases: CaseStore | None = None
        ministry = self.settings.ministry
        if ministry is not None:
            systems = {n: self.settings.ministry_system(n) for n in ministry.systems}
            self.cases = CaseStore(
                self.client,
                namespace=self.settings.namespace,
                poll_seconds=lambda n: float(systems[n].poll_seconds),
                clock=self.clock,
            )
            present = {c.system for c in given}
            given += [
                c
                for c in build_connectors(
                    ministry,
                    systems,
                    self.cases,
                    transports=self.ministry_transports,
                    clock=self.clock,
                    rules=self.settings.wire.rules(),
                )
                if c.system not in present
            ]
        subscribers = {
            c.id: Subscriber(url=c.webhook_url, secrets=c.webhook_secrets)
            for c in self.settings.clients
            if c.webhook_url is not None
        }
        if subscribers and not any(c.system == "webhook" for c in given):
            config, _ = self.settings.peer_config("webhook")
            base = config if isinstance(config, WebhookConfig) else WebhookConfig()
            given.append(
                WebhookConnector(
                    base.model_copy(update={"subscribers": subscribers}),
                    transport=self.webhook_transport,
                    clock=self.clock,
                )
            )
        self.peers: dict[str, Connector] = {c.system: c for c in given}
        self.audit = self._audit_chain()
        if self.audit is not None:
            for c in given:
                audit_http(c, self.audit, c.system)
        lease = self.settings.engine.lease_seconds
        for c in given:
            if lease <= c.max_call_seconds:
                raise ConfigurationError(
                    f"engine.lease_seconds ({lease:g}) must exceed the slowest {c.system}"
                    f" send ({c.max_call_seconds:g} s with the configured timeouts):"
                    " a lease that lapses mid-send lets a second worker send the same subject"
                )
        # None unless [traces] enabled: then nothing of OpenTelemetry is even imported.
        self.tracing: Tracing | None = open_tracing(
            self.settings.traces, exporter=self.span_exporter
        )
        self.trace_links = TraceLinks(self.client, self.settings.namespace)
        if self.tracing is not None:
            for c in given:
                propagate_http(c, self.tracing)
        # Skips and reopenings whose quirk the [intake] policy refuses leave the life cycle.
        policy = self.settings.intake.policy()
        self.lifecycle = self.lifecycle.under(q for q in policy.policies if policy.refuses(q))
        allowed = allowed_transitions(self.lifecycle)
        self.channels = Channels(
            [spec for c in given for spec in c.channels],
            allowed={Service.DOSSIER.value: allowed, Service.PROGRESS.value: allowed},
        )
        notify = EVENT_CHANNEL if EVENT_CHANNEL in self.channels and subscribers else None
        ns = self.settings.namespace
        self.outbox = Outbox(
            self.client,
            self.channels,
            namespace=ns,
            clock=self.clock,
            notify_channel=notify,
            subscribers=sorted(subscribers),
        )
        self.outbox.mark_layout()
        self.recorder = MetricsRecorder(self.outbox)
        self.broker = build_broker(self.client, namespace=ns)
        self.delivery: dict[str, PeerDelivery] = {}
        self.breakers: dict[str, CircuitBreaker] = {}
        self.engines: dict[str, DeliveryEngine] = {}
        self._actors: dict[str, Any] = {}
        for name, connector in self.peers.items():
            _, delivery = self.settings.peer_config(name)
            self.delivery[name] = delivery
            self.breakers[name] = CircuitBreaker(name, delivery.breaker)
            self.engines[name] = DeliveryEngine(
                outbox=self.outbox,
                connector=CorrelatedConnector(self._traced(connector), self.client, ns),
                policy=delivery.retry or self.settings.retry,
                trigger=self.trigger,
                settings=self.settings.engine,
                metrics=self.recorder,
                breaker=self.breakers[name],
            )
            self._actors[name] = declare_flush_actor(self.broker, name, self.engines[name].flush)
        self.deadletters: DeadLetters = AuditedDeadLetters(
            self.outbox, on_replayed=self._wake, chain=self.audit
        )
        self.replayjobs = ReplayJobs(
            self.deadletters, enqueue=self._enqueue_replay, clock=self.clock
        )
        self.replay_actor = declare_replay_actor(self.broker, self.replayjobs.run)
        self.collector = MetricsCollector(self.outbox, breakers=self.breakers)
        self.workers: WorkerPool | None = None
        # Tasks of higher layers (payments' stale sweep) that the workers' sweeper runs.
        self.periodic = Periodics(clock=self.clock)
        self.evaluations = Evaluations(
            self.client,
            namespace=ns,
            settings=self.settings.evaluations,
            clock=self.clock,
            busy=self.delivering,
        )
        self.ministry: MinistryService | None = None
        if ministry is not None and self.cases is not None:
            self.ministry = MinistryService(
                self,
                ministry,
                self.cases,
                [c for c in given if isinstance(c, MinistryConnector)],
                self.breakers,
                client=self.client,
                namespace=ns,
                clock=self.clock,
            )

    def _traced(self, connector: Connector) -> Connector:
        if self.tracing is None:
            return connector
        return TracedConnector(connector, self.tracing, self.trace_links)

    def _audit_chain(self) -> AuditChain | None:
        audit = self.settings.audit
        if not audit.enabled:
            return None
        store = (
            self.client
            if audit.redis_url is None
            # Bounded, so a probe of a store that went away cannot hold a request for long.
            else redis.Redis.from_url(
                audit.redis_url,
                socket_timeout=2.0,
                socket_connect_timeout=2.0,
                retry=Retry(NoBackoff(), 1),
            )
        )
        return AuditChain(
            store, self.settings.namespace, clock=self.clock, probe_seconds=audit.probe_seconds
        )

    @property
    def connector(self) -> Connector:
        """The DVCQG connector (the first peer given)."""
        return self.peers.get("dvcqg") or next(iter(self.peers.values()))

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings) -> GatewayService:
        """Connect (or start) Redis and build the connectors the settings ask for."""
        from gateway.connectors.registry import peer_types
        from gateway.pipeline.migrate import migrate_if_needed

        data_dir = Path(settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = open_redis(
            settings.redis_url,
            data_dir,
            appendfsync=settings.appendfsync,
            timeout=settings.redis_timeout_seconds,
        )
        migrate_if_needed(handle.client, settings.namespace)
        fake = None
        connectors: list[Connector] = []
        for name, peer in peer_types().items():
            if name == "webhook":
                continue  # built from the clients' webhooks in __post_init__
            config, _ = settings.peer_config(name)
            if config is not None:
                connectors.append(peer.build(config))
        if "dvcqg" not in {c.system for c in connectors}:
            from gateway.testing.fake_portal import FakePortal

            log.warning(
                "no [dvcqg] section configured: delivering to an IN-PROCESS FAKE PORTAL."
                " Nothing reaches the national portal."
            )
            fake = FakePortal()
            connectors.insert(
                0,
                DvcqgConnector(
                    fake.connector_config("http://fake-portal.invalid"),
                    transport=fake.transport(),
                ),
            )
        return cls(settings, handle.client, connectors, handle=handle, fake_portal=fake)

    # -- intake --------------------------------------------------------------------------------

    def accept(
        self,
        service: Service,
        agency: str,
        records: Sequence[DossierRecord] | Sequence[ProgressRecord],
        *,
        client: str,
        flags: Sequence[Sequence[str]] | None = None,
    ) -> list[Outcome]:
        """Store valid DVCQG records durably, then make sure a worker will deliver them.

        ``flags`` are, per record, the intake rules it raised (accepted and flagged).
        """
        if not records:
            return []
        if flags is not None and len(flags) != len(records):
            raise ValueError(f"{len(flags)} flag lists for {len(records)} records")
        pins: dict[str, str] | None = None
        for _ in range(_PIN_ATTEMPTS):
            if service is Service.DOSSIER and self.settings.payments is not None:
                pins = self.outbox.pins(service.value, (r.dossier_no for r in records))
                records = keep_payment_flags(records, pins)  # type: ignore[arg-type]  # DOSSIER: DossierRecords
            items = entries(service, records, flags)
            try:
                accepted = self.accept_entries(
                    service.value, agency, items, client=client, pins=pins
                )
                break
            except PinsChanged:
                continue  # a dossier of the batch was paid meanwhile: read the pins again
        else:
            raise PipelineError("dossiers of the batch kept being paid meanwhile; send it again")
        outcomes = [outcome(self.lifecycle, records[a.index], a) for a in accepted]
        if service is Service.DOSSIER and self.ministry is not None:
            self._hand_over(agency, records, outcomes, client)  # type: ignore[arg-type]  # DOSSIER means DossierRecords
        bodies = [e.body for e in items]
        self.evaluations.observe(
            service, agency, records, outcomes, channel=service.value, bodies=bodies
        )
        return outcomes

    def _hand_over(
        self,
        agency: str,
        records: Sequence[DossierRecord],
        outcomes: Sequence[Outcome],
        client: str,
    ) -> None:
        """Queue the hand-over of every accepted dossier whose procedure has a ministry route.

        A second accept, after the dossier's, rather than one script for both: its entry's
        fingerprint is fixed per dossier and route, so it is a duplicate however often it runs,
        and it runs for duplicates of the dossier too. A crash between the two accepts happens
        before the intake answered, so the sender sends again, the dossier is a duplicate and
        the hand-over is stored then. A dossier is handed over once the one-stop desk has
        received it (and not refused, withdrawn or stopped it); later states with the same
        ministry forms are duplicates here, and one with corrected forms is stored but opens
        no second case (see ``handover_entry``).
        """
        assert self.settings.ministry is not None  # noqa: S101 - self.ministry implies it
        by_channel: dict[str, list[Entry]] = {}
        for o in outcomes:
            if not o.accepted:
                continue
            record = records[o.index]
            if record.status not in _HANDED_OVER:
                continue
            route = self.settings.ministry.route_for(record.procedure_code)
            if route is None:
                continue
            connector = self.peers[route.system]
            channel = connector.channels[0].id
            by_channel.setdefault(channel, []).append(handover_entry(route, agency, record, client))
        for channel, items in by_channel.items():
            self.accept_entries(channel, agency, items, client=client)

    def pin_payment_flag(self, dossier_no: str, value: OnlinePayment) -> None:
        """From now on, states of ``dossier_no`` accepted without the payment flag get
        ``value`` (see :func:`keep_payment_flags`); accepts already reading pins conflict."""
        self.outbox.pin(Service.DOSSIER.value, dossier_no, value.value)

    def accept_entries(
        self,
        channel_id: str,
        partition: str,
        items: Sequence[Entry],
        *,
        client: str,
        pins: Mapping[str, str] | None = None,
    ) -> list[Accepted]:
        """Store entries on any channel durably, then make sure a worker will deliver them.

        ``pins``: see :meth:`Outbox.accept` (raises :class:`PinsChanged`)."""
        # The request's correlation id is stored with each new item in the same atomic write,
        # and goes with it to the peer call, its dead letter and the webhook event
        # (gateway/observability/delivery.py).
        cid = current_cid()
        if self.tracing is not None and cid is not None:
            # Before the items are stored: a worker may claim them at once.
            traceparent = self.tracing.traceparent()
            if traceparent is not None:
                self.trace_links.keep(cid, traceparent)
        accepted = self.outbox.accept(
            channel_id, partition, items, client=client, pins=pins, cid=cid
        )
        if any(a.code == "new" for a in accepted):
            self._wake({(channel_id, partition)})
        return accepted

    # -- delivery ------------------------------------------------------------------------------

    def sync_satisfaction(self, agency: str, month: str) -> list[Accepted]:
        """Queue ``agency``'s ``DongBoDanhGia`` summary of ``month`` (``2026-10``) for DVCQG.

        One latest-state subject per agency, month and procedure: syncing the month again
        after more ratings replaces what the portal holds; an unchanged summary is a duplicate.
        """
        import hashlib

        import orjson

        from gateway.connectors.dvcqg import RATINGS_CHANNEL

        criterion = self.settings.evaluations.satisfaction_service_criterion
        rows = self.evaluations.satisfaction_rows(agency, month, service_criterion=criterion)
        items = []
        for row in rows:
            body = orjson.dumps(row)
            items.append(
                Entry(
                    subject=f"{agency}/{row['NgayTongHop']}/{row['MaThuTuc']}",
                    fingerprint=hashlib.sha256(body).hexdigest()[:32],
                    body=body,
                    order=self.outbox.now_ms(),
                )
            )
        if not items:
            return []
        return self.accept_entries(RATINGS_CHANNEL, agency, items, client="gateway")

    def _wake(self, queues: set[tuple[str, str]]) -> None:
        for channel_id, partition in queues:
            if self.outbox.mark_triggered(channel_id, partition):
                self.trigger(channel_id, partition, None)

    def trigger(self, channel_id: str, partition: str, delay_ms: int | None) -> None:
        """Enqueue a flush of one queue on its peer's dramatiq queue, now or after ``delay_ms``."""
        peer = self.channels[channel_id].peer
        self._actors[peer].send_with_options(args=(channel_id, partition), delay=delay_ms)

    def flush(self, channel_id: str, partition: str) -> int:
        """Drain one queue in this thread (tests and tools); returns items delivered."""
        return self.engines[self.channels[channel_id].peer].flush(channel_id, partition)

    def sweep(self) -> set[tuple[str, str]]:
        """Release expired leases and trigger every queue with due work; returns those queues.

        Covers what a lost or stalled dramatiq message would otherwise leave behind: a worker
        killed mid-send, a crash between storing and enqueueing, delayed messages stalled after
        a Redis restart. Queues of channels this process does not serve are left alone.
        """
        due: set[tuple[str, str]] = set()
        for engine in self.engines.values():
            due |= engine.sweep()
        return due

    def _enqueue_replay(self, job_id: str) -> None:
        self.replay_actor.send(job_id)

    # -- workers and health --------------------------------------------------------------------

    def start_workers(self) -> WorkerPool:
        """Run delivery workers in this process (embedded mode and ``gateway worker``)."""
        w = self.settings.worker
        threads = {
            delivery_queue(name): self.delivery[name].concurrency or w.threads
            for name in self.peers
        }
        threads[OPERATIONS_QUEUE] = 1
        self.workers = WorkerPool(
            self.broker,
            threads=threads,
            prefetch=w.prefetch,
            sweep=self.sweep,
            sweep_interval=w.sweep_interval,
            heartbeat=self._heartbeat,
            periodic=self.periodic,
        )
        self.workers.start()
        self.evaluations.start()
        if self.ministry is not None:
            self.ministry.start(w.sweep_interval)
        return self.workers

    def delivering(self) -> bool:
        """True while a delivery is in flight, or due on a peer whose breaker lets claims
        through (the evaluations drain waits meanwhile). A peer that is down keeps its work
        due, and must not hold the fold back: its breaker is open, so it does not count."""
        # Due work first, then leases: a claim moves a subject from one to the other in one
        # step, so asked in this order a claim in between is seen as a lease.
        for channel_id, _ in self.outbox.due_queues():
            if channel_id in self.channels:
                breaker = self.breakers.get(self.channels[channel_id].peer)
                if breaker is None or breaker.would_allow():
                    return True
        return bool(self.outbox.in_flight())

    def _heartbeat(self, worker_id: str, ttl: float) -> None:
        self.client.set(self.outbox.keys.workers(worker_id), b"1", px=int(ttl * 1000))

    def live_workers(self) -> int:
        """Worker pools (in any process) whose heartbeat is fresh."""
        return sum(1 for _ in self.client.scan_iter(self.outbox.keys.workers()))

    def peer_health(self) -> dict[str, dict[str, Any]]:
        """Per peer, in this process: breaker state, consecutive failures, last success."""
        out: dict[str, dict[str, Any]] = {}
        for name, b in self.breakers.items():
            out[name] = {
                "circuit": b.state.value,
                "consecutive_failures": b.consecutive_failures,
                "last_success": b.last_success,
                "last_failure": b.last_failure,
                "channels": [c.id for c in self.channels.of_peer(name)],
            }
        return out

    def audit_failure(self) -> str | None:
        """Why the audit chain cannot be written (the intake then refuses work), or None."""
        if self.audit is None or self.audit.writable():
            return None
        return self.audit.failure or "audit store not writable"

    def redis_ok(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        """Stop workers, close the connectors and Redis (stopping an embedded server)."""
        self.evaluations.stop()
        if self.ministry is not None:
            self.ministry.stop()
        if self.workers is not None:
            self.workers.stop()
            self.workers = None
        for connector in self.peers.values():
            connector.close()
        self.broker.close()
        if self.audit is not None and self.audit.client is not self.client:
            self.audit.client.close()
        if self.tracing is not None:
            self.tracing.shutdown()
        if self.handle is not None:
            self.handle.close()
