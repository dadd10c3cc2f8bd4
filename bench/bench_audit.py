"""What the audit chain costs the intake's end-to-end throughput (target: at most 10 %).

Run: ``.venv/bin/python bench/bench_audit.py [--records N] [--rounds R]``

Uses ``bench_pipeline.py``'s end-to-end row (b): N national dossier records pushed by a child
process through the DVCQG-compatible HTTP intake (uvicorn on loopback, 4 connections, 500 records
per call) and delivered by 4 worker threads to the in-process fake portal, on a private
``redis-server`` with ``appendfsync always``. Rounds alternate the gateway with the audit chain on
(every portal exchange appended, the intake's audit gate and correlation ids active) and off
(``[audit] enabled = false``), Redis flushed between rounds; medians are compared. The chain is
verified after each "on" round.
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
from gateway.runtime import RedisServer

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
    figures: dict[bool, list[float]] = {True: [], False: []}
    entries: list[int] = []
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        server = RedisServer(Path(tmp), appendfsync="always")
        server.start()
        try:
            flush = redis.Redis.from_url(server.url)
            for r in range(1, args.rounds + 1):
                for audit in (False, True) if r % 2 else (True, False):
                    bp.AUDIT = audit
                    print(f"round {r}: audit {'on' if audit else 'off'} ...", flush=True)
                    out = bp.bench_gateway(server.url, args.records, factory, None)
                    figures[audit].append(out["per_s"])
                    if audit:
                        chain = AuditChain(flush, "bench")
                        result = chain.verify()
                        assert result.ok, result.broken
                        entries.append(result.entries)
                    flush.flushall()
            flush.close()
        finally:
            server.stop()
    on, off = statistics.median(figures[True]), statistics.median(figures[False])
    rows = [
        ("machine", platform.platform()),
        ("cpu_count", str(os.cpu_count())),
        ("python", sys.version.split()[0]),
        ("N, rounds", f"{args.records:,}, {args.rounds}"),
        ("audit off, end to end, median", f"{off:,.0f} records/s"),
        ("audit on, end to end, median", f"{on:,.0f} records/s"),
        ("cost of the audit chain", f"{(off - on) / off * 100:.1f} %"),
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
