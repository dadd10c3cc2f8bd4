"""Identity checks: offline rules on one core, and look-ups through the gateway with p99.

Run: ``.venv/bin/python bench/bench_identity.py [--seconds 5] [--concurrency 8] [--repeats 5]``

Rows:
  (a) offline checks alone: ``offline_violations`` of a validated query, one core, best of
      ``--repeats`` runs of 0.5 s;
  (b) (a) plus ``IdentityQuery.model_validate`` of the request dict (what the route does);
  (c) look-ups per second through the gateway, per profile (``lgsp``, ``soap``): uvicorn on
      127.0.0.1 in this process, a private ``redis-server`` with ``appendfsync always`` (an
      audit entry is written for every look-up), the population simulator in a child process
      on loopback (``python -m gateway.testing.population``), and a child process posting
      ``/v1/identity:verify`` over ``--concurrency`` keep-alive connections for ``--seconds``.
      Latency is per request as that client saw it: p50, p95, p99.

All processes share the machine's cores, so (c) is what one gateway process does when the
database answers at once; a real database adds its own latency on top.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_pipeline import LoopbackServer  # the sibling benchmarks (bench/ is on sys.path)
from bench_xml import rate

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = [
    {"id_number": "001090012345", "full_name": "Nguyễn Văn An", "birth_date": "1990-02-15"},
    {"id_number": "079301004567", "full_name": "Phạm Ngọc Hân", "birth_year": 2001},
    {"id_number": "048185000789", "full_name": "Trần Thị Thu Hà", "birth_date": "1985-11-20"},
]


# -- (a), (b): offline checks -----------------------------------------------------------------


def _pin_to_one_cpu() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def offline(repeats: int) -> dict[str, float]:
    from gateway.mappers.identity import offline_violations
    from gateway.schemas.identity import IdentityQuery

    raw = {**PEOPLE[0], "sex": "male", "dossier_no": "000.00.01.H22-250310-0007"}
    query = IdentityQuery.model_validate(raw)
    assert offline_violations(query) == []
    return {
        "a": rate(lambda: offline_violations(query), 0.5, repeats),
        "b": rate(lambda: offline_violations(IdentityQuery.model_validate(raw)), 0.5, repeats),
    }


# -- (c): look-ups through the gateway --------------------------------------------------------


def client_main(url: str, seconds: float, concurrency: int) -> None:
    """The load generator (a child process): prints one JSON line of results."""
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker(http: httpx.AsyncClient, index: int, deadline: float) -> None:
        i = index
        while time.perf_counter() < deadline:
            body = PEOPLE[i % len(PEOPLE)]
            i += 1
            t0 = time.perf_counter()
            r = await http.post("/v1/identity:verify", json=body)
            latencies.append(time.perf_counter() - t0)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    async def run() -> float:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        headers = {"Authorization": "Bearer bench-key"}
        async with httpx.AsyncClient(
            base_url=url, limits=limits, headers=headers, timeout=30
        ) as http:
            for person in PEOPLE:  # warm up: tokens, connections
                (await http.post("/v1/identity:verify", json=person)).raise_for_status()
            start = time.perf_counter()
            deadline = start + seconds
            await asyncio.gather(*(worker(http, k, deadline) for k in range(concurrency)))
            return time.perf_counter() - start

    elapsed = asyncio.run(run())
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(
        json.dumps(
            {
                "n": len(latencies),
                "per_s": len(latencies) / elapsed,
                "p50_ms": pct(0.50),
                "p95_ms": pct(0.95),
                "p99_ms": pct(0.99),
                "statuses": statuses,
            }
        ),
        flush=True,
    )


def through_gateway(profile: str, seconds: float, concurrency: int) -> dict[str, Any]:
    from gateway.api import create_app
    from gateway.config import ClientConfig, Settings
    from gateway.identity_settings import IdentitySettings
    from gateway.runtime import RedisServer
    from gateway.service import GatewayService
    from gateway.testing.population import PopulationSimulator

    sim_proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.testing.population", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert sim_proc.stdout is not None
        found = re.search(r"http://127\.0\.0\.1:[0-9]+", sim_proc.stdout.readline())
        assert found is not None, "the simulator did not print its URL"
        sim_url = found.group(0)
        # appendfsync always, as the embedded default: every audit entry is on disk.
        with (
            tempfile.TemporaryDirectory() as tmp,
            RedisServer(Path(tmp), appendfsync="always") as redis_server,
        ):
            settings = Settings(
                redis_url=redis_server.url,
                clients=(ClientConfig(id="bench", api_key="bench-key"),),
                identity=IdentitySettings(
                    population=PopulationSimulator([]).config(profile, sim_url),
                    entitlements={"bench": ("HoVaTen", "ThuongTru")},
                ),
            )
            service = GatewayService.open(settings)
            try:
                with LoopbackServer(create_app(service)) as server:
                    cpu_before = time.process_time()
                    out = subprocess.run(  # noqa: S603 - this script, fixed arguments
                        [
                            sys.executable,
                            __file__,
                            "--client",
                            server.base_url,
                            "--seconds",
                            str(seconds),
                            "--concurrency",
                            str(concurrency),
                        ],
                        capture_output=True,
                        text=True,
                        check=True,
                        cwd=ROOT,
                    )
                    gateway_cpu = time.process_time() - cpu_before
                audit = service.client.xlen(f"{settings.namespace}:audit:identity")
            finally:
                service.close()
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        result["audit_entries"] = audit
        result["gateway_cpu_ms"] = 1000 * gateway_cpu / (result["n"] + len(PEOPLE))
        result["sim_cpu_ms"] = 1000 * _cpu_seconds(sim_proc.pid) / (result["n"] + len(PEOPLE))
        return result
    finally:
        sim_proc.terminate()
        sim_proc.wait()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live child process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args.client, args.seconds, args.concurrency)
        return
    rows = [
        ("machine", platform.platform()),
        ("cpu_count", str(os.cpu_count())),
        ("python", sys.version.split()[0]),
        ("load average at start", " ".join(f"{x:.2f}" for x in os.getloadavg())),
    ]
    for profile in ("lgsp", "soap"):
        r = through_gateway(profile, args.seconds, args.concurrency)
        ok = r["statuses"].get("200", 0)
        assert ok == r["n"], f"{profile}: not every look-up answered 200: {r['statuses']}"
        assert r["audit_entries"] == r["n"] + len(PEOPLE), "one audit entry per look-up"
        rows.append(
            (
                f"(c) {profile}: look-ups through the gateway, {args.concurrency} connections",
                f"{r['per_s']:,.0f} look-ups/s (n={r['n']:,}); p50 {r['p50_ms']:.1f} ms,"
                f" p95 {r['p95_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms",
            )
        )
        rows.append(
            (
                f"(c) {profile}: CPU per look-up",
                f"gateway process {r['gateway_cpu_ms']:.2f} ms, simulator {r['sim_cpu_ms']:.2f} ms",
            )
        )
    pinned = _pin_to_one_cpu()
    rates = offline(args.repeats)
    rows.append((f"(a) offline checks alone ({pinned})", f"{rates['a']:,.0f} checks/s"))
    rows.append(("(b) model_validate + offline checks", f"{rates['b']:,.0f} checks/s"))
    rows.append(("load average at end", " ".join(f"{x:.2f}" for x in os.getloadavg())))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
