"""What one span costs: a peer call through :class:`~gateway.pipeline.traced.TracedConnector`
and an intake request through :class:`~gateway.api.gates.TraceIntake`, traces on vs off.

Run: ``.venv/bin/python bench/bench_traces.py [--calls N]`` (needs the ``otel`` extra). Each
side is a no-op (a connector that answers at once, an ASGI app that answers 202 at once), so
the difference is the span alone: started, attributed, ended and queued for the batch span
processor, whose thread encodes each span to JSON into /dev/null as the pipeline benchmark's
``BENCH_TRACES=on`` does. The Redis round trips of the link across the queue (a SET per
accept call, an MGET per peer call) are not in it; the pipeline benchmark has them. That
benchmark makes one intake span per 500-record call and one delivery span per 500-record
portal call: 40 of each for 20,000 records.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import SPANS, span_sink

from gateway.api.gates import TraceIntake
from gateway.connectors.base import ChannelSpec, Item, Mode, PeerReply
from gateway.observability.correlation import bind
from gateway.observability.trace_settings import TraceSettings
from gateway.observability.traces import Tracing, open_tracing
from gateway.pipeline.traced import TracedConnector, TraceLinks

CHANNEL = ChannelSpec("dvcqg", "DongBoHoSoMC", Mode.LATEST, max_batch=500)
ITEMS = [Item("000.00.01.H22-250101-0001", "000000000001", b"{}", cid="c" * 32)]


class Quiet:
    """A connector that answers every call at once."""

    system = "dvcqg"
    channels = (CHANNEL,)
    max_call_seconds = 1.0

    def send(self, channel: ChannelSpec, partition: str, items: Sequence[Item]) -> PeerReply:
        return PeerReply("0", "")

    def reconcile(self, *args: Any, **kwargs: Any) -> Sequence[int]:
        return ()

    def close(self) -> None:
        pass


class NoLinks(TraceLinks):
    """No Redis here: the link look-up (one MGET per call) is in the pipeline benchmark."""

    def __init__(self) -> None:
        pass

    def of(self, cids: str | None) -> list[str]:
        return []


async def accepted(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def per_call(fn: Callable[[], None], calls: int, flush: Callable[[], None]) -> float:
    """Microseconds per call, best of 5, the export of the spans made included."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        flush()
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e6


def intake(app: Any, calls: int, flush: Callable[[], None]) -> float:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/dvcqg/integration",
        "headers": [(b"content-type", b"application/json")],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        pass

    async def many() -> None:
        for _ in range(calls):
            await app(dict(scope), receive, send)

    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        with bind("c" * 32):
            asyncio.run(many())
        flush()
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e6


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Fewer than the batch processor's queue (2,048), so no span is dropped: all are encoded.
    p.add_argument("--calls", type=int, default=2000)
    n = p.parse_args().calls
    print(f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    tracing: Tracing | None = open_tracing(
        TraceSettings(enabled=True, exporter="console"), exporter=span_sink()
    )
    assert tracing is not None
    bare, traced = Quiet(), TracedConnector(Quiet(), tracing, NoLinks())

    def nothing() -> None:
        pass

    with bind("c" * 32):
        off = per_call(lambda: bare.send(CHANNEL, "p", ITEMS), n, nothing)
        on = per_call(lambda: traced.send(CHANNEL, "p", ITEMS), n, tracing.flush)
    print(f"peer call, off {off:6.2f} µs, on {on:6.2f} µs: a delivery span costs {on - off:.1f} µs")
    off = intake(accepted, n, nothing)
    on = intake(TraceIntake(accepted, tracing=tracing), n, tracing.flush)
    print(f"intake,    off {off:6.2f} µs, on {on:6.2f} µs: an intake span costs {on - off:.1f} µs")
    tracing.shutdown()
    print(f"spans encoded: {dict(SPANS)} (of {5 * n} each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
