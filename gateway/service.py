"""The running gateway: Redis, outbox, connector, engine, broker and workers, built from Settings.

The HTTP API and the CLI hold one :class:`GatewayService` and call it; they never build pipeline
parts themselves.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

from gateway.config import Settings
from gateway.connectors.base import DeliveryConnector
from gateway.connectors.dvcqg import DvcqgConnector
from gateway.errors import ConfigurationError
from gateway.pipeline.broker import (
    WorkerPool,
    build_broker,
    declare_flush_actor,
    declare_replay_actor,
)
from gateway.pipeline.deadletters import DeadLetters
from gateway.pipeline.engine import DeliveryEngine
from gateway.pipeline.metrics import MetricsCollector, MetricsRecorder
from gateway.pipeline.outbox import Outbox, Outcome, Service
from gateway.pipeline.replayjobs import ReplayJobs
from gateway.runtime.store import RedisHandle, open_redis
from gateway.schemas.lifecycle import Lifecycle
from gateway.schemas.national import DossierRecord, ProgressRecord

__all__ = ["GatewayService"]

log = logging.getLogger("gateway")


@dataclass
class GatewayService:
    """One gateway instance. Build with :meth:`open` (or the constructor, in tests)."""

    settings: Settings
    client: redis.Redis
    connector: DeliveryConnector
    clock: Callable[[], float] = time.time
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    handle: RedisHandle | None = None
    fake_portal: object | None = None

    def __post_init__(self) -> None:
        lease = self.settings.engine.lease_seconds
        if lease <= self.connector.max_call_seconds:
            raise ConfigurationError(
                f"engine.lease_seconds ({lease:g}) must exceed the slowest {self.connector.system}"
                f" send ({self.connector.max_call_seconds:g} s with the configured timeouts):"
                " a lease that lapses mid-send lets a second worker send the same dossier"
            )
        ns = self.settings.namespace
        self.outbox = Outbox(self.client, namespace=ns, lifecycle=self.lifecycle, clock=self.clock)
        self.recorder = MetricsRecorder(self.outbox)
        self.broker = build_broker(self.client, namespace=ns)
        self.engine = DeliveryEngine(
            outbox=self.outbox,
            connector=self.connector,
            policy=self.settings.retry,
            trigger=self.trigger,
            settings=self.settings.engine,
            metrics=self.recorder,
        )
        self.actor = declare_flush_actor(self.broker, self.engine.flush)
        self.deadletters = DeadLetters(self.outbox, on_replayed=self._kick)
        self.replayjobs = ReplayJobs(
            self.deadletters, enqueue=self._enqueue_replay, clock=self.clock
        )
        self.replay_actor = declare_replay_actor(self.broker, self.replayjobs.run)
        self.collector = MetricsCollector(self.outbox, peer=self.connector.system)
        self.workers: WorkerPool | None = None

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def open(cls, settings: Settings) -> GatewayService:
        """Connect (or start) Redis and build the connector the settings ask for."""
        data_dir = Path(settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        handle = open_redis(settings.redis_url, data_dir, appendfsync=settings.appendfsync)
        fake = None
        if settings.dvcqg is not None:
            connector: DeliveryConnector = DvcqgConnector(settings.dvcqg)
        else:
            from gateway.testing.fake_portal import FakePortal

            log.warning(
                "no [dvcqg] section configured: delivering to an IN-PROCESS FAKE PORTAL."
                " Nothing reaches the national portal."
            )
            fake = FakePortal()
            connector = DvcqgConnector(
                fake.connector_config("http://fake-portal.invalid"), transport=fake.transport()
            )
        return cls(settings, handle.client, connector, handle=handle, fake_portal=fake)

    # -- intake --------------------------------------------------------------------------------

    def accept(
        self,
        service: Service,
        agency: str,
        records: Sequence[DossierRecord] | Sequence[ProgressRecord],
        *,
        client: str,
    ) -> list[Outcome]:
        """Store valid records durably, then make sure a worker will deliver them."""
        if not records:
            return []
        outcomes = self.outbox.accept(service, agency, records, client=client)
        if any(o.accepted and not o.duplicate for o in outcomes):
            self._kick(service, agency)
        return outcomes

    def _kick(self, service: Service, agency: str) -> None:
        if self.outbox.mark_triggered(service, agency):
            self.trigger(service, agency, None)

    def trigger(self, service: Service, agency: str, delay_ms: int | None) -> None:
        """Enqueue a flush of one queue, now or after ``delay_ms``."""
        self.actor.send_with_options(args=(service.value, agency), delay=delay_ms)

    def _enqueue_replay(self, job_id: str) -> None:
        self.replay_actor.send(job_id)

    # -- workers and health --------------------------------------------------------------------

    def start_workers(self) -> WorkerPool:
        """Run delivery workers in this process (embedded mode and ``gateway worker``)."""
        w = self.settings.worker
        self.workers = WorkerPool(
            self.broker,
            threads=w.threads,
            prefetch=w.prefetch,
            sweep=self.engine.sweep,
            sweep_interval=w.sweep_interval,
            heartbeat=self._heartbeat,
        )
        self.workers.start()
        return self.workers

    def _heartbeat(self, worker_id: str, ttl: float) -> None:
        self.client.set(f"{self.settings.namespace}:workers:{worker_id}", b"1", px=int(ttl * 1000))

    def live_workers(self) -> int:
        """Worker pools (in any process) whose heartbeat is fresh."""
        return sum(1 for _ in self.client.scan_iter(f"{self.settings.namespace}:workers:*"))

    def redis_ok(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        """Stop workers, close the connector and Redis (stopping an embedded server)."""
        if self.workers is not None:
            self.workers.stop()
            self.workers = None
        self.connector.close()
        self.broker.close()
        if self.handle is not None:
            self.handle.close()
