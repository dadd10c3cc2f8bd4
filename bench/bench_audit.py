"""What the audit chain costs the intake's end-to-end throughput (target: at most 10 %).

Run: ``.venv/bin/python bench/bench_audit.py [--records N] [--rounds R]``

Uses ``bench_pipeline.py``'s end-to-end row (b): N national dossier records pushed by a child
process through the DVCQG-compatible HTTP intake (uvicorn on loopback, 4 connections, 500 records
per call) and delivered by 4 worker threads to the in-process fake portal, on a private
``redis-server`` with ``appendfsync always``. Rounds alternate the gateway with the audit chain on
(every portal exchange appended, the intake's audit gate and correlation ids active) and off
(``[audit] enabled = false``), Redis flushed between rounds; medians are compared. The chain is
verified after each "on" round.

Measured as shipped and alike for every round:

- the garbage collector as ``gateway serve`` and ``gateway worker`` set it
  (:func:`gateway.runtime.tune_collector`), as ``bench_pipeline.py`` does;
- one unmeasured warm-up run first (audit on): the first run of a process is otherwise the only
  one without first-use costs (script loads, connection set-up, allocator growth);
- the append-only file compacted after each flush (``BGREWRITEAOF``, waited for, untimed).
  FLUSHALL only appends to the AOF, so without it each run starts above Redis's automatic
  rewrite threshold left by the previous run's data and pays a rewrite (a fork and a 60 MB
  write on a 2-CPU machine) that the very first run does not: the first, always "off", run was
  the one without. ``aof rewrites during runs`` says whether one still happened.

Besides throughput it reports CPU seconds per record of the gateway process (intake and
workers: this process) and of ``redis-server``, the steadier figures on a shared machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import redis

from gateway.audit import AuditChain
from gateway.runtime import RedisServer, tune_collector

_HERE = Path(__file__).resolve().parent


def _pipeline() -> Any:
    spec = importlib.util.spec_from_file_location("bench_pipeline", _HERE / "bench_pipeline.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_pipeline"] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    logging.basicConfig(level=logging.ERROR)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    bp = _pipeline()
    factory = bp.load_app_factory("gateway.api.app:create_app")
    # As the gateway's entry points run (gateway/runtime/collector.py), like bench_pipeline.py.
    tune_collector()
    figures: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, dict[str, list[float]]] = {
        a: {"gateway": [], "redis": []} for a in (True, False)
    }
    entries: list[int] = []
    rewritten = 0
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        server = RedisServer(Path(tmp), appendfsync="always")
        server.start()
        rpid = server.process.pid if server.process is not None else None
        try:
            flush = redis.Redis.from_url(server.url)
            runs = [(0, True)]  # the warm-up, not measured
            for r in range(1, args.rounds + 1):
                runs += [(r, a) for a in ((False, True) if r % 2 else (True, False))]
            for r, audit in runs:
                bp.AUDIT = audit
                label = f"round {r}" if r else "warm-up"
                print(f"{label}: audit {'on' if audit else 'off'} ...", flush=True)
                flush.config_resetstat()
                out = bp.bench_gateway(server.url, args.records, factory, None, redis_pid=rpid)
                if audit:
                    chain = AuditChain(flush, "bench")
                    result = chain.verify()
                    assert result.ok, result.broken
                if r:
                    figures[audit].append(out["per_s"])
                    for k in ("gateway", "redis"):
                        cpu[audit][k].append(out["cpu"][k] / args.records * 1e6)
                    rewritten += bp.rewrites(flush)
                    if audit:
                        entries.append(result.entries)
                flush.flushall()
                bp.compact(flush)
            flush.close()
        finally:
            server.stop()
    on, off = statistics.median(figures[True]), statistics.median(figures[False])

    def per_record(audit: bool, k: str) -> str:
        return f"{statistics.median(cpu[audit][k]):.1f} µs"

    rows = [
        ("machine", platform.platform()),
        ("cpu_count", str(os.cpu_count())),
        ("python", sys.version.split()[0]),
        ("N, rounds", f"{args.records:,}, {args.rounds}"),
        ("audit off, end to end, median", f"{off:,.0f} records/s"),
        ("audit on, end to end, median", f"{on:,.0f} records/s"),
        ("cost of the audit chain", f"{(off - on) / off * 100:.1f} %"),
        (
            "CPU per record, gateway, off / on",
            f"{per_record(False, 'gateway')} / {per_record(True, 'gateway')}",
        ),
        (
            "CPU per record, redis-server, off / on",
            f"{per_record(False, 'redis')} / {per_record(True, 'redis')}",
        ),
        ("aof rewrites during runs", str(rewritten)),
        ("chain entries per round (verified)", ", ".join(str(e) for e in entries)),
        ("rounds off", ", ".join(f"{x:,.0f}" for x in figures[False])),
        ("rounds on", ", ".join(f"{x:,.0f}" for x in figures[True])),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
