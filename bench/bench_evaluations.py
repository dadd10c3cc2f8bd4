"""Evaluations benchmark: scoring, the change feed, and the cost to the intake.

    .venv/bin/python bench/bench_evaluations.py [--records 1000000] [--feed 100000] [--intake 20000]

1. Scoring: one province-month of N synthetic evaluation records (a mix of every case the
   indicators distinguish), scored by the pure function, best of 3.
2. Feed: F records in a private redis-server (unix socket), paged through the HTTP route
   (``GET /v1/evaluations/feed``, in-process ASGI, 1,000 per page) by the portal's client.
3. Intake: ``GatewayService.accept`` of 500-record batches with evaluations on and off,
   alternating three times, ``appendfsync always`` like the embedded default. This is the
   pessimistic bound: the HTTP intake also parses and validates, which the hook does not touch.
   Then the drain that folds the intake's items into evaluation records (off the intake path).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anyio
import httpx
import redis

from gateway.api import create_app
from gateway.config import ClientConfig, Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.evaluations import (
    EvaluationRecord,
    EvaluationSettings,
    ProcedureRule,
    Scorer,
    parse_period,
)
from gateway.runtime import RedisServer
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from gateway.testing.records import national_dossier

AGENCY = "000.00.01.H22"
DAY = 86_400_000


def machine() -> str:
    py = platform.python_version()
    return f"{platform.machine()} {os.cpu_count()} CPU, {platform.system()}, Python {py}"


def synthetic(n: int) -> list[EvaluationRecord]:
    """N records of October 2026 across 20 child agencies, every rule's case represented."""
    rng = random.Random(766)
    start = parse_period("2026-10").start_ms
    empty: list[Any] = []  # shared: scoring never mutates a record
    out = []
    for i in range(n):
        received = start + rng.randrange(30 * DAY)
        finished = received + rng.randrange(20 * DAY) if rng.random() < 0.8 else None
        sup = [[received + DAY, received + 3 * DAY]] if rng.random() < 0.1 else empty
        if rng.random() < 0.02:
            sup = [[received + DAY, received + 2 * DAY], [received + 4 * DAY, None]]
        out.append(
            EvaluationRecord(
                no=f"{AGENCY}-261001-{i:07d}",
                agency=f"000.{i % 20:02d}.01.H22",
                procedure="2.000001" if rng.random() < 0.1 else "1.000001",
                channel="2" if rng.random() < 0.6 else "1",
                received_ms=received,
                due_ms=None if rng.random() < 0.1 else received + 10 * DAY,
                finished_ms=finished,
                finished_status="10" if finished else None,
                status="10" if finished else "4",
                has_dossier=True,
                supplements=sup,
                online_payment=rng.choice(["0", "1", "2", None]),
                fee_total=rng.choice([0, 0, 50_000]),
                fee_records=rng.choice([0, 1]),
                digitised_flag=rng.choice(["0", "1"]),
                docs=2,
                docs_digitised=rng.choice([0, 1, 2]),
                docs_reused=rng.choice([0, 1]),
                docs_from_store=rng.choice([0, 1]),
                results=1,
                result_links=rng.choice([0, 1]),
                db_codes=empty,
                idchecks={},
                flags=empty,
                rating_ms=received + DAY if rng.random() < 0.3 else None,
                verdict=rng.choice(["satisfied", "unsatisfied", "very_satisfied"]),
            )
        )
    return out


def bench_score(n: int) -> None:
    records = synthetic(n)
    parents = {f"000.{i:02d}.01.H22": "000.00.00.H22" for i in range(20)}
    settings = EvaluationSettings(
        parents=parents, procedures={"2.000001": ProcedureRule(max_days=5, fee_bearing=True)}
    )
    scorer = Scorer(settings)
    period = parse_period("2026-10")
    now = period.end_ms + 15 * DAY
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        card = scorer.score(records, agency="000.00.00.H22", period=period, now_ms=now)
        best = min(best, time.perf_counter() - t0)
    assert card.indicator("synced").numerator == n
    print(
        f"score: {n:,} records in {best:.2f} s (best of 3) = {n / best:,.0f} records/s;"
        f" total {card.total}"
    )


def _service(client: redis.Redis, **evals: Any) -> GatewayService:
    portal = FakePortal()
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    settings = Settings(
        clients=(ClientConfig(id="portal", api_key="portal-key"),),
        evaluations=EvaluationSettings(portal_clients=frozenset({"portal"}), **evals),
    )
    return GatewayService(settings, client, connector)


def bench_feed(client: redis.Redis, n: int) -> None:
    client.flushall()
    g = _service(client)
    records = synthetic(n)
    pipe_batch = 2000
    for i in range(0, n, pipe_batch):
        from gateway.evaluations import Update

        g.evaluations.store.apply(
            [Update(r.no, r.agency, lambda _e, r=r: r) for r in records[i : i + pipe_batch]]
        )
    app = create_app(g)

    async def page_through() -> tuple[int, float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as c:
            cursor, got = "", 0
            t0 = time.perf_counter()
            while True:
                r = await c.get(
                    f"/v1/evaluations/feed?limit=1000&cursor={cursor}",
                    headers={"Authorization": "Bearer portal-key"},
                )
                page = r.json()
                got += len(page["items"])
                cursor = page["next_cursor"]
                if not page["has_more"]:
                    return got, time.perf_counter() - t0

    got, took = anyio.run(page_through)
    assert got == n, (got, n)
    print(
        f"feed: {got:,} records paged over HTTP (1,000 per page) in {took:.2f} s"
        f" = {got / took:,.0f} records/s"
    )
    g.close()


def bench_intake(client: redis.Redis, n: int) -> None:
    batch = 500
    dossiers = [
        national_dossier(
            f"{AGENCY}-261005-{i % 9999 + 1:04d}".replace("261005", f"2610{i // 9999 + 10:02d}"),
            "2",
        )
        for i in range(n)
    ]
    rates: dict[bool, list[float]] = {True: [], False: []}
    drains: list[float] = []
    for _ in range(3):
        for enabled in (False, True):
            client.flushall()
            g = _service(client, enabled=enabled)
            t0 = time.perf_counter()
            for i in range(0, n, batch):
                g.accept(Service.DOSSIER, AGENCY, dossiers[i : i + batch], client="prov")
            rates[enabled].append(n / (time.perf_counter() - t0))
            if enabled:
                t0 = time.perf_counter()
                folded = g.evaluations.drain()
                drains.append(folded / (time.perf_counter() - t0))
                assert folded == n, (folded, n)
                assert g.evaluations.store.high_water() == n
            g.close()
    off = sorted(rates[False])[1]
    on = sorted(rates[True])[1]
    print(
        f"intake accept(): evaluations off {off:,.0f} records/s, on {on:,.0f} records/s"
        f" (medians of 3; rounds off {[round(r) for r in rates[False]]},"
        f" on {[round(r) for r in rates[True]]}); cost {100 * (1 - on / off):.1f} %"
    )
    print(
        f"drain (fold into evaluation records, 1,000 per batch): median"
        f" {sorted(drains)[1]:,.0f} records/s (rounds {[round(r) for r in drains]})"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--feed", type=int, default=100_000)
    ap.add_argument("--intake", type=int, default=20_000)
    args = ap.parse_args()
    print(machine())
    bench_score(args.records)
    with (
        tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp,
        RedisServer(Path(tmp), appendfsync="always") as srv,
    ):
        client = redis.Redis(unix_socket_path=str(srv.socket_path))
        bench_feed(client, args.feed)
        bench_intake(client, args.intake)
        client.close()


if __name__ == "__main__":
    main()
