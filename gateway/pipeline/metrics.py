"""Delivery metrics kept in Redis, so every process (API or worker) reports cluster-wide figures.

Counters are incremented by the outbox scripts in ``ns:metrics`` (``accepted|D``,
``delivered|P``, ``retried|D``, ``dead|D|dvcqg|http_400`` …); the latency histogram (accepted →
delivered) is kept here in ``ns:latency``. :class:`MetricsCollector` turns both, plus the queue
depth, into Prometheus metrics at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from gateway.pipeline.outbox import Outbox, Service, text

__all__ = ["LATENCY_BUCKETS", "MetricsCollector", "MetricsRecorder"]

LATENCY_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)
"""Seconds from acceptance to delivery; the portal being down for hours is a real case."""


class MetricsRecorder:
    """Records delivery latencies into the Redis histogram."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.key = f"{outbox.ns}:latency"

    def observe_latencies(self, now_ms: int, accepted_at_ms: Sequence[int]) -> None:
        """Add one observation per delivered record."""
        if not accepted_at_ms:
            return
        counts: dict[str, int] = {}
        total = 0.0
        for acc in accepted_at_ms:
            seconds = max(now_ms - acc, 0) / 1000
            total += seconds
            bucket = next((str(b) for b in LATENCY_BUCKETS if seconds <= b), "+Inf")
            counts[bucket] = counts.get(bucket, 0) + 1
        pipe = self.outbox.client.pipeline(transaction=False)
        for bucket, n in counts.items():
            pipe.hincrby(self.key, bucket, n)
        pipe.hincrbyfloat(self.key, "sum", total)
        pipe.hincrby(self.key, "count", len(accepted_at_ms))
        pipe.execute()


_SERVICE_LABEL = {s.value: s.national_name for s in Service}


class MetricsCollector(Collector):
    """A Prometheus collector reading the gateway's Redis counters at scrape time."""

    def __init__(self, outbox: Outbox, *, peer: str = "dvcqg") -> None:
        self.outbox = outbox
        self.peer = peer

    def collect(self) -> Iterator[Any]:
        """Yield the metric families (called by the registry on every scrape)."""
        counters = self.outbox.metrics()
        accepted = CounterMetricFamily(
            "gateway_accepted_records", "Records accepted at intake", labels=["service"]
        )
        duplicates = CounterMetricFamily(
            "gateway_duplicate_records", "Records pushed again and recognised", labels=["service"]
        )
        delivered = CounterMetricFamily(
            "gateway_delivered_records", "Records delivered to the peer", labels=["service", "peer"]
        )
        retried = CounterMetricFamily(
            "gateway_retried_records", "Failed sends rescheduled", labels=["service", "peer"]
        )
        dead = CounterMetricFamily(
            "gateway_dead_lettered_records",
            "Records moved to the dead-letter queue",
            labels=["service", "peer", "reason"],
        )
        for key, value in counters.items():
            kind, _, rest = key.partition("|")
            parts = rest.split("|")
            svc = _SERVICE_LABEL.get(parts[0], parts[0])
            if kind == "accepted":
                accepted.add_metric([svc], value)
            elif kind == "duplicate":
                duplicates.add_metric([svc], value)
            elif kind == "delivered":
                delivered.add_metric([svc, self.peer], value)
            elif kind == "retried":
                retried.add_metric([svc, self.peer], value)
            elif kind == "dead" and len(parts) >= 3:
                dead.add_metric([svc, parts[1], "|".join(parts[2:])], value)
        yield from (accepted, duplicates, delivered, retried, dead)

        depth = GaugeMetricFamily(
            "gateway_queue_depth", "Undelivered work by kind", labels=["kind"]
        )
        for kind, value in self.outbox.depth().items():
            depth.add_metric([kind], value)
        yield depth
        yield self._latency()

    def _latency(self) -> HistogramMetricFamily:
        raw = {
            text(k) or "": float(v)
            for k, v in self.outbox.client.hgetall(f"{self.outbox.ns}:latency").items()
        }
        buckets: list[tuple[str, float]] = []
        running = 0.0
        for b in (*[str(x) for x in LATENCY_BUCKETS], "+Inf"):
            running += raw.get(b, 0.0)
            buckets.append((b, running))
        hist = HistogramMetricFamily(
            "gateway_delivery_latency_seconds", "Time from acceptance to delivery"
        )
        hist.add_metric([], buckets=_cumulative(buckets), sum_value=raw.get("sum", 0.0))
        return hist


def _cumulative(buckets: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
    return list(buckets)
