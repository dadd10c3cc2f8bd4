"""dramatiq wiring: one broker and its actors per gateway instance, no module-level globals.

dramatiq normally keeps a global broker and declares actors at import time; we build both per
:class:`~gateway.service.GatewayService` instead (``dramatiq.actor(fn, broker=…)``), so tests and
embedded instances never share state. Messages are tiny — ``(channel, partition)`` — and only mean
"this queue has work": the items themselves are in the outbox. Each peer has its own dramatiq
queue and its own worker threads (its concurrency limit), so a peer that is slow or down never
holds a thread that another peer's deliveries need. Operator jobs (bulk replays)
have their own actor on their own queue, so a long replay never sits behind deliveries, nor
deliveries behind it; its messages carry only the job id.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, TimeLimit

from gateway.pipeline.periodic import Periodics

__all__ = [
    "OPERATIONS_QUEUE",
    "QUEUE_NAME",
    "REPLAY_TIME_LIMIT_MS",
    "WorkerPool",
    "build_broker",
    "declare_flush_actor",
    "declare_replay_actor",
    "delivery_queue",
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


def delivery_queue(peer: str) -> str:
    """The dramatiq queue of one peer's flush messages."""
    return f"{QUEUE_NAME}-{peer}"


def declare_flush_actor(
    broker: RedisBroker, peer: str, flush: Callable[[str, str], int]
) -> dramatiq.Actor[Any, Any]:
    """Declare the actor that runs ``flush(channel, partition)`` of ``peer`` on ``broker``."""

    def gateway_flush(channel: str, partition: str) -> None:
        # Returns nothing: dramatiq warns about results without a results backend.
        flush(channel, partition)

    decorate = dramatiq.actor(
        broker=broker, actor_name=f"gateway_flush_{peer}", queue_name=delivery_queue(peer)
    )
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


class _SameTypeTwice(logging.Filter):
    """Drops dramatiq's warning about a second worker middleware (see :meth:`WorkerPool.start`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "same type twice" not in record.getMessage()


class WorkerPool:
    """dramatiq worker threads plus the sweeper thread, started and stopped together.

    The sweeper releases expired leases and re-triggers queues with due work every
    ``sweep_interval`` seconds; it also refreshes this pool's heartbeat key in Redis, which
    readiness checks read, and runs the ``periodic`` tasks that are due (each at its own
    interval: the payments' stale sweep, for one).
    """

    def __init__(
        self,
        broker: RedisBroker,
        *,
        threads: Mapping[str, int],
        prefetch: int,
        sweep: Callable[[], object],
        sweep_interval: float,
        heartbeat: Callable[[str, float], None],
        periodic: Periodics | None = None,
    ) -> None:
        """``threads`` maps each dramatiq queue to the worker threads that consume it alone."""
        self.id = uuid.uuid4().hex[:12]
        self.broker = broker
        self.workers: list[dramatiq.Worker] = []
        for queue, count in threads.items():
            worker = dramatiq.Worker(
                broker, queues={queue}, worker_threads=count, worker_timeout=100
            )
            # dramatiq reads prefetch from the environment at import; the attribute is used.
            worker.queue_prefetch = prefetch
            self.workers.append(worker)
        self._sweep = sweep
        self._interval = sweep_interval
        self._heartbeat = heartbeat
        self.periodic = periodic if periodic is not None else Periodics()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start consuming and sweeping."""
        # One dramatiq Worker per queue, so a slow peer's threads never serve another peer. Each
        # Worker adds its own _WorkerMiddleware to the shared broker as it starts, and dramatiq
        # warns at every one after the first ("the same type twice"). Harmless here: each one
        # starts consumers only for its own Worker's whitelisted queue. Silenced for these only.
        quiet = _SameTypeTwice()
        self.broker.logger.addFilter(quiet)
        try:
            for worker in self.workers:
                worker.start()
        finally:
            self.broker.logger.removeFilter(quiet)
        self._thread = threading.Thread(target=self._loop, name="gateway-sweeper", daemon=True)
        self._thread.start()

    def tick(self) -> None:
        """One round of the sweeper: heartbeat, sweep, then the periodic tasks that are due."""
        try:
            self._heartbeat(self.id, self._interval * 3)
            self._sweep()
        except Exception:  # the sweeper must outlive a Redis blip
            log.exception("sweep failed; trying again in %.1fs", self._interval)
        self.periodic.run_due()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self._interval)

    def alive(self) -> bool:
        """True while the worker threads and the sweeper run."""
        threads = [t for w in self.workers for t in w.workers]
        threads_ok = bool(threads) and all(t.is_alive() for t in threads)
        return threads_ok and self._thread is not None and self._thread.is_alive()

    def join(self) -> None:
        """Wait until every message already taken has been processed (tests use this)."""
        for worker in self.workers:
            worker.join()

    def stop(self) -> None:
        """Stop sweeping and consuming; messages in hand are finished or returned to Redis."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for worker in self.workers:
            worker.stop()
