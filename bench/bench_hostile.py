"""``/health/live`` latency while hostile 4 MB bodies arrive at the DVCQG intake (issue 7, F1).

Run: ``.venv/bin/python bench/bench_hostile.py [--seconds 15] [--attackers 4] [--rate 50]``

One ``gateway serve`` child process (its own private redis-server, embedded workers, the
in-process fake portal), exactly as ``./scripts/run`` starts it, on a loopback port. Three
phases of ``--seconds`` each, measured from this process:

  quiet        ``/health/live`` probed at ``--rate`` per second (open-loop pacing), nothing else;
  anonymous    the same probes while ``--attackers`` threads post, back to back, a 3.9 MB body of
               1.3 M ``{}`` records with a made-up session (the issue's F1 body), at
               ``--hostile-rate`` bodies per second in all (0: as fast as they can);
  logged-in    the same, with a valid session (the object count refuses it before parsing).

It prints p50/p95/p99/max of the probes, how many hostile bodies were answered and with which
statuses, and the gateway's peak resident memory (from /proc). Loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BODY_RECORDS = 1_300_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp: Path) -> Path:
    path = tmp / "bench.toml"
    path.write_text(
        f'data_dir = "{tmp / "data"}"\n'
        "[login]\nmax_failures = 1000000\nmax_failures_per_ip = 1000000\n"
        '[[clients]]\nid = "bench"\nusername = "bench"\npassword = "bench-password"\n'
        'agencies = ["*"]\n',
        encoding="utf-8",
    )
    return path


def _hostile(session: str) -> bytes:
    head = b'{"session":"' + session.encode() + b'","madonvi":"000.00.01.H22",'
    return head + b'"service":"DongBoHoSoMC","data":[' + b",".join([b"{}"] * BODY_RECORDS) + b"]}"


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _probe(base: str, seconds: float, rate: float) -> list[float]:
    """Open-loop probes: send at fixed times, whatever the previous answer took."""
    out: list[float] = []
    interval = 1.0 / rate
    with httpx.Client(base_url=base, timeout=30) as client:
        start = time.perf_counter()
        n = 0
        while True:
            due = start + n * interval
            now = time.perf_counter()
            if due - start >= seconds:
                break
            if due > now:
                time.sleep(due - now)
            t0 = time.perf_counter()
            answer = client.get("/health/live")
            # Latency counts from when the probe was due, so a stalled loop shows in full.
            out.append(time.perf_counter() - min(due, t0))
            assert answer.status_code == 200
            n += 1
    return out


def _attack(base: str, session: str, rate: float, stop: Any, results: Any) -> None:
    """One attacker process: post the hostile body ``rate`` times a second (0: back to back)."""
    body = _hostile(session)
    statuses: Counter[int] = Counter()
    start, n = time.perf_counter(), 0
    with httpx.Client(base_url=base, timeout=120) as client:
        while not stop.is_set():
            if rate > 0:
                wait = start + n / rate - time.perf_counter()
                n += 1
                if wait > 0:
                    time.sleep(wait)
            answer = client.post(
                "/dvcqg/integration", content=body, headers={"content-type": "application/json"}
            )
            statuses[answer.status_code] += 1
    results.put(dict(statuses))


def _phase(name: str, base: str, args: argparse.Namespace, session: str | None, pid: int) -> None:
    # Attackers are processes, so their work never competes with the probe for this GIL.
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_attack,
            args=(base, session, args.hostile_rate / max(1, args.attackers), stop, results),
            daemon=True,
        )
        for _ in range(args.attackers if session is not None else 0)
    ]
    for p in procs:
        p.start()
    if procs:
        time.sleep(3.0)  # let the attack reach its steady state
    lat = sorted(_probe(base, args.seconds, args.rate))
    stop.set()
    statuses: Counter[int] = Counter()
    for _ in procs:
        statuses.update(results.get(timeout=150))
    for p in procs:
        p.join(timeout=30)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000

    hostile = ", ".join(f"{k}×{v}" for k, v in sorted(statuses.items())) or "-"
    mean = statistics.mean(lat) * 1000
    print(
        f"{name:<10} probes={len(lat):5d}  p50={pct(0.50):6.1f} ms  p95={pct(0.95):6.1f} ms"
        f"  p99={pct(0.99):6.1f} ms  max={lat[-1] * 1000:6.1f} ms  mean={mean:5.1f} ms"
        f"  hostile answers: {hostile}  gateway peak RSS={_rss_kb(pid) / 1024:.0f} MB"
    )


def main() -> None:
    """Start a gateway, run the three phases, stop it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--attackers", type=int, default=4)
    parser.add_argument("--rate", type=float, default=50.0, help="health probes per second")
    parser.add_argument(
        "--hostile-rate", type=float, default=10.0, help="hostile bodies per second (0: flat out)"
    )
    args = parser.parse_args()
    print(
        f"{platform.machine()} {platform.system()} {os.cpu_count()} CPUs,"
        f" Python {platform.python_version()}; {args.attackers} attackers"
        f" at {args.hostile_rate:g} bodies/s in all (0: flat out),"
        f" {args.rate:g} probes/s, {args.seconds:g} s per phase"
    )
    with tempfile.TemporaryDirectory(prefix="gw-bench-hostile-") as tmp:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        gateway = ROOT / ".venv" / "bin" / "gateway"
        proc = subprocess.Popen(  # noqa: S603 - our own entry point
            [str(gateway), "serve", "--config", str(_config(Path(tmp))), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    sys.exit("the gateway did not start")
                time.sleep(0.1)
            login = httpx.post(
                f"{base}/dvcqg/auth", json={"username": "bench", "password": "bench-password"}
            )
            session = login.json()["session"]
            print(f"hostile body: {len(_hostile(session)):,} bytes, {BODY_RECORDS:,} records")
            _phase("quiet", base, args, None, proc.pid)
            _phase("anonymous", base, args, "made-up-session", proc.pid)
            _phase("logged-in", base, args, session, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
