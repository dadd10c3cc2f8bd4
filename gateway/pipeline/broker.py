"""dramatiq wiring: one broker and its actors per gateway instance, no module-level globals.

dramatiq normally keeps a global broker and declares actors at import time; we build both per
:class:`~gateway.service.GatewayService` instead (``dramatiq.actor(fn, broker=…)``), so tests and
embedded instances never share state. Messages are tiny — ``(service, agency)`` — and only mean
"this queue has work": the records themselves are in the outbox. Operator jobs (bulk replays)
have their own actor on their own queue, so a long replay never sits behind deliveries, nor
deliveries behind it; its messages carry only the job id.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, TimeLimit

from gateway.pipeline.outbox import Service

__all__ = [
    "OPERATIONS_QUEUE",
    "QUEUE_NAME",
    "REPLAY_TIME_LIMIT_MS",
    "WorkerPool",
    "build_broker",
    "declare_flush_actor",
    "declare_replay_actor",
]

QUEUE_NAME = "gateway-delivery"
OPERATIONS_QUEUE = "gateway-operations"
# A bulk replay lasts count / rate seconds, far beyond the 10 minutes a flush may take; past a
# day it is interrupted (and recorded as failed) rather than holding a worker thread for ever.
REPLAY_TIME_LIMIT_MS = 24 * 3600 * 1000
log = logging.getLogger("gateway.pipeline")


def build_broker(client: redis.Redis, *, namespace: str) -> RedisBroker:
    """A Redis broker on ``client`` whose keys live under ``<namespace>-dramatiq``.

    Middleware is explicit: no Prometheus exporter of dramatiq's own (ours reads Redis), and
    retries only for crashes of the flush itself (peer failures are handled by the engine).
    """
    middleware = [
        AgeLimit(),
        TimeLimit(time_limit=10 * 60 * 1000),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=20, min_backoff=500, max_backoff=60_000),
    ]
    broker: RedisBroker = RedisBroker(  # type: ignore[no-untyped-call]  # dramatiq's redis broker is untyped
        client=client, namespace=f"{namespace}-dramatiq", middleware=middleware
    )
    return broker


def declare_flush_actor(
    broker: RedisBroker, flush: Callable[[Service, str], int]
) -> dramatiq.Actor[Any, Any]:
    """Declare the actor that runs ``flush(service, agency)`` on ``broker``."""

    def gateway_flush(service: str, agency: str) -> None:
        # Returns nothing: dramatiq warns about results without a results backend.
        flush(Service(service), agency)

    decorate = dramatiq.actor(broker=broker, actor_name="gateway_flush", queue_name=QUEUE_NAME)
    return decorate(gateway_flush)


def declare_replay_actor(
    broker: RedisBroker, run: Callable[[str], object]
) -> dramatiq.Actor[Any, Any]:
    """Declare the actor that runs the bulk-replay job ``run(job_id)`` on ``broker``.

    ``run`` must be safe to call twice for one job: dramatiq delivers at least once.
    """

    def gateway_replay(job_id: str) -> None:
        run(job_id)

    decorate = dramatiq.actor(
        broker=broker,
        actor_name="gateway_replay",
        queue_name=OPERATIONS_QUEUE,
        time_limit=REPLAY_TIME_LIMIT_MS,
    )
    return decorate(gateway_replay)


class WorkerPool:
    """dramatiq worker threads plus the sweeper thread, started and stopped together.

    The sweeper releases expired leases and re-triggers queues with due work every
    ``sweep_interval`` seconds; it also refreshes this pool's heartbeat key in Redis, which
    readiness checks read.
    """

    def __init__(
        self,
        broker: RedisBroker,
        *,
        threads: int,
        prefetch: int,
        sweep: Callable[[], object],
        sweep_interval: float,
        heartbeat: Callable[[str, float], None],
    ) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
        # dramatiq reads prefetch from the environment at import; the attribute is what it uses.
        self.worker.queue_prefetch = prefetch
        self._sweep = sweep
        self._interval = sweep_interval
        self._heartbeat = heartbeat
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start consuming and sweeping."""
        self.worker.start()
        self._thread = threading.Thread(target=self._loop, name="gateway-sweeper", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._heartbeat(self.id, self._interval * 3)
                self._sweep()
            except Exception:  # the sweeper must outlive a Redis blip
                log.exception("sweep failed; trying again in %.1fs", self._interval)
            self._stop.wait(self._interval)

    def alive(self) -> bool:
        """True while the worker threads and the sweeper run."""
        threads_ok = all(t.is_alive() for t in self.worker.workers) and bool(self.worker.workers)
        return threads_ok and self._thread is not None and self._thread.is_alive()

    def join(self) -> None:
        """Wait until every message already taken has been processed (tests use this)."""
        self.worker.join()

    def stop(self) -> None:
        """Stop sweeping and consuming; messages in hand are finished or returned to Redis."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.worker.stop()
