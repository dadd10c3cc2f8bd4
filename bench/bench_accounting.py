"""Accounting under crashes: N records through the intake to the strict, faulty sandbox portal,
while worker processes are SIGKILLed and restarted and Redis is restarted once.

Run: ``.venv/bin/python bench/bench_accounting.py [--records 20000] [--workers 2]``

- a private ``redis-server`` (unix socket, AOF, ``appendfsync always``), restarted once, after
  the second kill (SHUTDOWN, then a new server on the same directory);
- the sandbox portal (strict profile; 503, 500/-1, applied-then-timeout, applied-then-drop,
  latency, sessions expiring every 100 calls) served on 127.0.0.1;
- ``--workers`` ``gateway worker`` processes on that Redis; one of them, picked at random, is
  killed with SIGKILL every 1–4 s during the first ``--chaos-seconds``, and restarted;
- the records (``--records / 8`` dossiers, four states and four steps each, 10 % of calls
  repeated verbatim) pushed through the DVCQG-compatible intake (the FastAPI app, in-process).

It waits until nothing is ready or leased (at most ``--deadline`` s), then prints lost,
duplicated, stale and dead-lettered, and the time. Loopback and unix sockets only; every child
is reaped.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import httpx

from gateway.api import create_app
from gateway.config import load_settings
from gateway.connectors.dvcqg import Service
from gateway.runtime import RedisServer
from gateway.sandbox import (
    AcceptedLog,
    DeadItem,
    Faults,
    SandboxPortal,
    SimulatorServer,
    check_portal,
    life_cycle,
)
from gateway.service import GatewayService

AGENCY = "000.00.01.H22"
CALL_RECORDS = 50
READ_TIMEOUT = 2.0
WORKER = "from gateway.cli import main; main()"


def dossier_no(i: int) -> str:
    day, seq = divmod(i, 9999)
    return f"{AGENCY}-2512{day + 1:02d}-{seq + 1:04d}"


def write_config(path: Path, redis_url: str, portal: SandboxPortal, portal_url: str) -> None:
    path.write_text(
        f"""redis_url = "{redis_url}"
namespace = "acct"
embedded_workers = false

[dvcqg]
base_url = "{portal_url}"
username = "{portal.username}"
password = "{portal.password}"
dstcode = "{portal.dstcode}"
batch_size = 10
connect_timeout = 1.0
read_timeout = {READ_TIMEOUT}
write_timeout = 2.0
pool_timeout = 2.0

[engine]
batch_size = 10
lease_seconds = 30

[retry]
initial = 0.2
cap = 5
budget = 900
max_attempts = 40

[worker]
threads = 4
sweep_interval = 1.0

[[clients]]
id = "bench"
username = "bench"
password = "bench-pass"
agencies = ["{AGENCY}"]
""",
        "utf-8",
    )


class Workers:
    """``gateway worker`` children: kill one at random, restart any that is gone."""

    def __init__(self, config: Path, count: int, log: Path) -> None:
        self.config = config
        self.log = log.open("ab")
        self.procs: list[subprocess.Popen[bytes]] = [self._spawn() for _ in range(count)]
        self.kills = 0
        self.restarts = 0

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "GATEWAY_CONFIG": str(self.config)}
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-c", WORKER, "worker"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def kill_one(self, rng: random.Random) -> None:
        i = rng.randrange(len(self.procs))
        proc = self.procs[i]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            self.kills += 1
        proc.wait()
        self.procs[i] = self._spawn()
        self.restarts += 1

    def revive(self) -> None:
        for i, proc in enumerate(self.procs):
            if proc.poll() is not None:
                self.procs[i] = self._spawn()
                self.restarts += 1

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.log.close()


class Intake:
    """The DVCQG-compatible intake, in-process over ASGI; a failed call is tried again."""

    def __init__(self, service: GatewayService) -> None:
        self.app = create_app(service)
        self.books = AcceptedLog()
        self.calls = 0
        self.retried = 0

    def _post(self, url: str, body: dict[str, Any]) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=("127.0.0.1", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as c:
                return await c.post(url, json=body, timeout=30)

        return anyio.run(go)

    def push(self, service: str, records: list[dict[str, Any]]) -> None:
        for _ in range(50):
            try:
                login = self._post("/dvcqg/auth", {"username": "bench", "password": "bench-pass"})
                body = {
                    "session": login.json()["session"],
                    "madonvi": AGENCY,
                    "service": service,
                    "data": records,
                }
                if service == "DongBoHoSoMC":
                    body["isUpdating"] = "False"
                reply = self._post("/dvcqg/integration", body)
            except Exception:  # a Redis restart under the intake: try the call again
                reply = None
            self.calls += 1
            if reply is not None and reply.status_code == 200:
                refused = self.books.note(service, records, reply.json()["result"])
                if refused:
                    raise RuntimeError(f"intake refused {refused} valid record(s): {reply.text}")
                return
            self.retried += 1
            time.sleep(0.5)
        raise RuntimeError("the intake kept failing")


def pending(service: GatewayService) -> int:
    """Subjects ready or leased on any channel (1 while Redis restarts under us)."""
    try:
        return sum(k["ready"] + k["in_flight"] for k in service.outbox.depth().values())
    except Exception:
        return 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=20_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--chaos-seconds", type=float, default=90.0)
    p.add_argument("--deadline", type=float, default=1200.0, help="give up after this many s")
    p.add_argument("--seed", type=int, default=6)
    args = p.parse_args()
    if args.records < 8 or args.records > 8 * 9999 * 28 or args.workers < 1:
        p.error("--records must be 8 … 2,239,776 and --workers at least 1")
    rng = random.Random(args.seed)
    faults = Faults(
        unavailable_rate=0.10,
        error_rate=0.02,
        timeout_rate=0.02,
        drop_rate=0.02,
        latency=0.005,
        latency_rate=0.05,
        seed=args.seed,
    )
    portal = SandboxPortal("strict", faults=faults, session_calls=100)
    dossiers = args.records // 8
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-acct-") as tmp:
        redis_server = RedisServer(Path(tmp) / "redis", appendfsync="always")
        redis_server.start()
        portal_server = SimulatorServer(portal, hold_seconds=READ_TIMEOUT + 1)
        portal_server.start()
        config = Path(tmp) / "gateway.toml"
        write_config(config, redis_server.url, portal, portal_server.url)
        service = GatewayService.open(load_settings(config))
        workers = Workers(config, args.workers, Path(tmp) / "workers.log")
        stop_chaos = threading.Event()
        restarted_redis = threading.Event()
        chaos_over = threading.Event()

        def chaos() -> None:
            end = time.monotonic() + args.chaos_seconds
            while not stop_chaos.wait(rng.uniform(1, 4)) and time.monotonic() < end:
                workers.kill_one(rng)
                if workers.kills == 2 and not restarted_redis.is_set():
                    print("  restarting redis-server", flush=True)
                    redis_server.stop()
                    redis_server.start()
                    restarted_redis.set()
                workers.revive()
            chaos_over.set()

        chaos_thread = threading.Thread(target=chaos, name="chaos", daemon=True)
        try:
            intake = Intake(service)
            numbers = [dossier_no(i) for i in range(dossiers)]
            plans = {no: life_cycle(no) for no in numbers}
            chaos_thread.start()
            print(f"pushing {dossiers * 8:,} records ({dossiers:,} dossiers) ...", flush=True)
            for round_no in range(8):
                batch: dict[str, list[dict[str, Any]]] = {}
                for no in numbers:
                    svc, record = plans[no][round_no]
                    batch.setdefault(svc, []).append(record)
                for svc, records in batch.items():
                    for start in range(0, len(records), CALL_RECORDS):
                        chunk = records[start : start + CALL_RECORDS]
                        intake.push(svc, chunk)
                        if rng.random() < 0.1:
                            intake.push(svc, copy.deepcopy(chunk))
            pushed = time.monotonic()
            print(f"  pushed in {pushed - started:.1f} s; delivering ...", flush=True)
            # Done when nothing is pending, but not before the Redis restart (while chaos runs).
            while time.monotonic() - started < args.deadline:
                if (restarted_redis.is_set() or chaos_over.is_set()) and not pending(service):
                    break
                time.sleep(1.0)
            finished = time.monotonic()
            stop_chaos.set()
            chaos_thread.join(timeout=30)
            dead = [
                DeadItem(
                    "state" if d.channel == Service.DOSSIER.value else "step", d.subject, d.record
                )
                for d in service.deadletters.iter_matching()
            ]
            reasons = Counter(d.reason for d in service.deadletters.iter_matching())
            left = pending(service)
        finally:
            stop_chaos.set()
            workers.stop()
            service.close()
            portal_server.stop()
            redis_server.stop()
    report = check_portal(intake.books.dossiers(), portal.ledger(), dead)
    rows = [
        ("machine", f"{platform.platform()}, {os.cpu_count()} cpu"),
        ("date", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())),
        ("records accepted", f"{intake.books.records:,} ({intake.calls:,} intake calls)"),
        ("workers", f"{args.workers}; {workers.kills} SIGKILLs, {workers.restarts} restarts"),
        ("redis restarts", "1" if restarted_redis.is_set() else "0 (chaos ended first)"),
        ("left undelivered", f"{left} subjects ready or leased"),
        ("portal outcomes", str(dict(portal.outcomes))),
        ("portal logins", f"{portal.logins:,}"),
        ("dead-letter reasons", str(dict(reasons))),
        ("push time", f"{pushed - started:.1f} s"),
        ("total time", f"{finished - started:.1f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(
        f"lost={report.lost} duplicated={report.duplicated} stale={report.stale}"
        f" dead_lettered={report.dead_lettered} (unexpected={report.unexpected},"
        f" delivered={report.delivered})"
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
