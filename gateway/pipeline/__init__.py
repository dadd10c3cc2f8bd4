"""The delivery core: accept items durably, deliver them exactly once, in order, to any peer.

- :mod:`~gateway.pipeline.channels`: the running gateway's channels (peer, operation, mode).
- :mod:`~gateway.pipeline.outbox`: accepted items in Redis and their atomic state changes
  (Lua in ``lua/``, key layout in :mod:`~gateway.pipeline.keys`).
- :mod:`~gateway.pipeline.engine`: the delivery loop (claim, reconcile, send, settle, retry,
  dead-letter), one per peer.
- :mod:`~gateway.pipeline.breaker`, :mod:`~gateway.pipeline.retry`,
  :mod:`~gateway.pipeline.peers`: per-peer circuit breaker, retry policy and settings.
- :mod:`~gateway.pipeline.metrics`: Redis-backed counters and the Prometheus collector.
- :mod:`~gateway.pipeline.periodic`: other layers' tasks that the workers' sweeper runs.
"""

from gateway.pipeline.breaker import BreakerConfig, BreakerState, CircuitBreaker
from gateway.pipeline.channels import Channel, Channels
from gateway.pipeline.engine import DeliveryEngine, EngineSettings
from gateway.pipeline.metrics import MetricsCollector, MetricsRecorder
from gateway.pipeline.outbox import Accepted, Claim, DeliveryState, DeliveryStatus, Outbox
from gateway.pipeline.peers import PeerDelivery
from gateway.pipeline.periodic import Periodic, Periodics
from gateway.pipeline.retry import RetryPolicy

__all__ = [
    "Accepted",
    "BreakerConfig",
    "BreakerState",
    "Channel",
    "Channels",
    "CircuitBreaker",
    "Claim",
    "DeliveryEngine",
    "DeliveryState",
    "DeliveryStatus",
    "EngineSettings",
    "MetricsCollector",
    "MetricsRecorder",
    "Outbox",
    "PeerDelivery",
    "Periodic",
    "Periodics",
    "RetryPolicy",
]
