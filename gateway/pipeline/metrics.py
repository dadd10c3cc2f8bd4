"""Delivery metrics kept in Redis, so every process (API or worker) reports cluster-wide figures.

Counters are incremented by the outbox scripts in ``ns:metrics`` (``accepted|<channel>``,
``delivered|<channel>``, ``retried|<channel>``, ``dead|<channel>|<reason>``,
``flagged|<channel>|<rule>`` …); the latency histogram (accepted → delivered) is kept here in
``ns:latency``. :class:`MetricsCollector` turns both, plus queue depths and each peer's breaker,
into Prometheus metrics at scrape time. Labels are channel ids and peer names, never services.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from gateway.pipeline.breaker import BreakerState, CircuitBreaker
from gateway.pipeline.outbox import Outbox, text

__all__ = ["LATENCY_BUCKETS", "RECENT_BUCKET_SECONDS", "MetricsCollector", "MetricsRecorder"]

LATENCY_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)
"""Seconds from acceptance to delivery; the portal being down for hours is a real case."""


RECENT_BUCKET_SECONDS = 60
"""Send outcomes are counted per peer and minute (``ns:recent:<peer>:<minute>``), kept an hour."""
_RECENT_KEEP_SECONDS = 3600


class MetricsRecorder:
    """Records delivery latencies into the Redis histogram, and each send's outcome into small
    per-minute buckets that give the console a recent error rate (the counters above are
    cumulative since they began)."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.key = outbox.keys.latency

    def _recent_key(self, peer: str, minute: int) -> str:
        return f"{self.outbox.ns}:recent:{peer}:{minute}"

    def observe_send(self, peer: str, *, failed: bool) -> None:
        """One send to ``peer`` (a batch call): answered, or failed as the breaker counts it."""
        minute = self.outbox.now_ms() // 1000 // RECENT_BUCKET_SECONDS
        key = self._recent_key(peer, minute)
        pipe = self.outbox.client.pipeline(transaction=False)
        pipe.hincrby(key, "failed" if failed else "ok", 1)
        pipe.expire(key, _RECENT_KEEP_SECONDS)
        pipe.execute()

    def recent_sends(self, peer: str, *, minutes: int = 15) -> tuple[int, int]:
        """``(sends, failed)`` to ``peer`` over the last ``minutes`` (this one included)."""
        now = self.outbox.now_ms() // 1000 // RECENT_BUCKET_SECONDS
        pipe = self.outbox.client.pipeline(transaction=False)
        for m in range(now - minutes + 1, now + 1):
            pipe.hmget(self._recent_key(peer, m), "ok", "failed")
        ok = failed = 0
        for row in pipe.execute():
            ok += int(row[0] or 0)
            failed += int(row[1] or 0)
        return ok + failed, failed

    def observe_latencies(self, now_ms: int, accepted_at_ms: Sequence[int]) -> None:
        """Add one observation per delivered item."""
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


_BREAKER_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class MetricsCollector(Collector):
    """A Prometheus collector reading the gateway's Redis counters at scrape time."""

    def __init__(
        self, outbox: Outbox, *, breakers: Mapping[str, CircuitBreaker] | None = None
    ) -> None:
        self.outbox = outbox
        self.breakers = dict(breakers or {})

    def _peer(self, channel_id: str) -> str:
        if channel_id in self.outbox.channels:
            return self.outbox.channels[channel_id].peer
        return channel_id.split(".", 1)[0]

    def collect(self) -> Iterator[Any]:
        """Yield the metric families (called by the registry on every scrape)."""
        labels = ["channel", "peer"]
        families = {
            "accepted": CounterMetricFamily(
                "gateway_accepted_records", "Items accepted", labels=labels
            ),
            "duplicate": CounterMetricFamily(
                "gateway_duplicate_records", "Items pushed again and recognised", labels=labels
            ),
            "delivered": CounterMetricFamily(
                "gateway_delivered_records", "Items delivered to the peer", labels=labels
            ),
            "retried": CounterMetricFamily(
                "gateway_retried_records", "Failed sends rescheduled", labels=labels
            ),
            "reconciled": CounterMetricFamily(
                "gateway_reconciled_records",
                "Items found at the peer by a look-up after an ambiguous failure",
                labels=labels,
            ),
        }
        dead = CounterMetricFamily(
            "gateway_dead_lettered_records",
            "Items moved to the dead-letter queue",
            labels=[*labels, "reason"],
        )
        flagged = CounterMetricFamily(
            "gateway_intake_flags",
            "Items accepted with an intake flag, by rule",
            labels=[*labels, "rule"],
        )
        for key, value in self.outbox.metrics().items():
            kind, _, rest = key.partition("|")
            channel, _, detail = rest.partition("|")
            peer = self._peer(channel)
            if kind in families:
                families[kind].add_metric([channel, peer], value)
            elif kind == "dead" and detail:
                dead.add_metric([channel, peer, detail], value)
            elif kind == "flagged" and detail:
                flagged.add_metric([channel, peer, detail], value)
        yield from families.values()
        yield dead
        yield flagged

        depth = GaugeMetricFamily(
            "gateway_queue_depth",
            "Subjects waiting (ready) and leased (in_flight), per channel",
            labels=[*labels, "kind"],
        )
        for channel, kinds in self.outbox.depth().items():
            for kind, value in kinds.items():
                depth.add_metric([channel, self._peer(channel), kind], value)
        yield depth
        letters = GaugeMetricFamily("gateway_dead_letters", "Dead letters waiting for an operator")
        letters.add_metric([], self.outbox.dead_letter_count())
        yield letters

        state = GaugeMetricFamily(
            "gateway_peer_breaker_state",
            "Circuit breaker per peer in this process: 0 closed, 1 half-open, 2 open",
            labels=["peer"],
        )
        for peer, breaker in sorted(self.breakers.items()):
            state.add_metric([peer], _BREAKER_VALUE[breaker.state])
        yield state
        yield self._latency()

    def _latency(self) -> HistogramMetricFamily:
        raw = {
            text(k) or "": float(v)
            for k, v in self.outbox.client.hgetall(self.outbox.keys.latency).items()
        }
        buckets: list[tuple[str, float]] = []
        running = 0.0
        for b in (*[str(x) for x in LATENCY_BUCKETS], "+Inf"):
            running += raw.get(b, 0.0)
            buckets.append((b, running))
        hist = HistogramMetricFamily(
            "gateway_delivery_latency_seconds", "Time from acceptance to delivery"
        )
        hist.add_metric([], buckets=buckets, sum_value=raw.get("sum", 0.0))
        return hist
