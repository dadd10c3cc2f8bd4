"""A few hours of queue depths and delivery counters, sampled at most once a minute, for charts.

Prometheus keeps the real history; the console keeps its own small one so that it needs no
Prometheus to show the last hours. A sample is taken when the console is viewed or /metrics is
scraped, at most once a minute (a ``SET NX`` guard shared by every process), into a capped list
``<ns>:console:history`` (newest first, six hours).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import orjson

from gateway.pipeline.outbox import Outbox

__all__ = ["KEEP", "History"]

KEEP = 360
"""Samples kept: six hours at one a minute."""


class History:
    """Depth and counter samples of one outbox."""

    def __init__(self, outbox: Outbox, *, clock: Callable[[], float] = time.time) -> None:
        self.outbox = outbox
        self.key = f"{outbox.ns}:console:history"
        self._guard = f"{outbox.ns}:console:history:guard"
        self._clock = clock

    def sample(self, *, every_seconds: int = 60) -> bool:
        """Take a sample unless one was taken in the last ``every_seconds``; True if taken."""
        client = self.outbox.client
        if not client.set(self._guard, b"1", nx=True, ex=every_seconds):
            return False
        counters = self.outbox.metrics()
        doc = {
            "t": int(self._clock()),
            "depth": {ch: int(sum(kinds.values())) for ch, kinds in self.outbox.depth().items()},
            "delivered": {
                k.split("|", 1)[1]: v for k, v in counters.items() if k.startswith("delivered|")
            },
        }
        pipe = client.pipeline(transaction=False)
        pipe.lpush(self.key, orjson.dumps(doc))
        pipe.ltrim(self.key, 0, KEEP - 1)
        pipe.execute()
        return True

    def samples(self) -> list[dict[str, Any]]:
        """Every kept sample, oldest first."""
        raw = self.outbox.client.lrange(self.key, 0, -1)
        return [orjson.loads(r) for r in reversed(cast("list[bytes]", raw))]

    def series(self) -> dict[str, dict[str, list[tuple[int, float]]]]:
        """Per channel: ``depth`` and ``rate`` (deliveries per minute) as ``(time, value)``."""
        out: dict[str, dict[str, list[tuple[int, float]]]] = {}
        previous: dict[str, Any] | None = None
        for s in self.samples():
            for ch, depth in s["depth"].items():
                out.setdefault(ch, {"depth": [], "rate": []})["depth"].append((s["t"], depth))
            if previous is not None and s["t"] > previous["t"]:
                minutes = (s["t"] - previous["t"]) / 60
                for ch, count in s["delivered"].items():
                    before = previous["delivered"].get(ch, 0)
                    rate = max(count - before, 0) / minutes
                    out.setdefault(ch, {"depth": [], "rate": []})["rate"].append((s["t"], rate))
            previous = s
        return out
