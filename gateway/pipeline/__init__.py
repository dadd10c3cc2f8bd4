"""The delivery pipeline: accept records durably, deliver them exactly once, in order.

- :mod:`~gateway.pipeline.outbox`: accepted records in Redis and their atomic state changes.
- :mod:`~gateway.pipeline.engine`: the delivery loop (claim, send, settle, retry, dead-letter).
- :mod:`~gateway.pipeline.retry`: the per-peer retry policy.
- :mod:`~gateway.pipeline.metrics`: Redis-backed counters and the Prometheus collector.
"""

from gateway.pipeline.engine import DeliveryEngine, EngineSettings
from gateway.pipeline.metrics import MetricsCollector, MetricsRecorder
from gateway.pipeline.outbox import (
    DeliveryState,
    DeliveryStatus,
    Outbox,
    Outcome,
    Service,
    fingerprint,
)
from gateway.pipeline.retry import RetryPolicy

__all__ = [
    "DeliveryEngine",
    "DeliveryState",
    "DeliveryStatus",
    "EngineSettings",
    "MetricsCollector",
    "MetricsRecorder",
    "Outbox",
    "Outcome",
    "RetryPolicy",
    "Service",
    "fingerprint",
]
