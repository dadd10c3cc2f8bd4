"""End-to-end throughput of the delivery pipeline, a bare dramatiq baseline, and peer isolation.

Run: ``.venv/bin/python bench/bench_pipeline.py [--records N] [--rounds R] [--profile]``

One private ``redis-server`` (unix socket, ``appendfsync always``; ``--appendfsync everysec`` to
compare, never the default) serves every row. Each round
runs the rows below in this order, Redis flushed between them; the report gives each row's median
round (the machine is shared: alternating rows and comparing medians cancels slow drifts).

  (a) baseline: a no-op dramatiq actor, N messages enqueued first, then one
      ``dramatiq.Worker(worker_threads=8)`` with ``queue_prefetch = 64``; timed from worker start
      until ``broker.join`` + ``worker.join`` return;
  (b) gateway end to end: N national dossier records pushed by a child process (its own GIL)
      through the DVCQG-compatible HTTP intake (uvicorn on 127.0.0.1,
      ``gateway.api.app.create_app``), 500 records a call over 4 connections, and delivered by
      the gateway's workers to the in-process fake portal; timed from the first push until the
      gateway's counter ``delivered|dvcqg.DongBoHoSoMC`` reaches N, then the portal must hold N;
  (b:proc) (b) with the fake portal in its own process (loopback HTTP), as the real portal runs
      on its own servers; it still shares the machine's CPUs;
  (w:STATE) peer isolation: (b) again, with the client's webhook configured, so the gateway
      creates one webhook event per delivered record and delivers it on its own peer
      (``gateway-delivery-webhook``). The sandbox webhook receiver runs in a child process on
      loopback, in one STATE during the timed part: ``healthy``; ``refused`` (nothing listens:
      connection refused); ``503`` (the receiver answers 503); ``hang`` (a socket that accepts
      and never answers, so each post waits out the read timeout). Timed like (b): DVCQG alone.
      Then the receiver is made healthy and the run is driven to completion: every one of the N
      events must reach it (counted by distinct ``webhook-id``), none dead-lettered.
  (c) intake latency (last round): single-record pushes paced at ``--rate`` requests/s for
      ``--seconds`` s from a child process; p50/p95/p99.

``--profile`` adds one more (b) round with ``py-spy`` (the ``bench`` extra) sampling the gateway
process (``--gil``: only the thread holding the GIL, i.e. where the gateway's CPU goes), and prints
the time by part. It also reads Redis's own ``INFO commandstats`` and the CPU time of the gateway
process, the pusher child and ``redis-server`` for that round. The profiled round is not part of
the medians. Everything is bounded in time and touches only loopback and unix sockets.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib
import json
import logging
import os
import platform
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

import gateway
from gateway.config import ClientConfig, Settings, WorkerSettings
from gateway.connectors.dvcqg import DvcqgConnector
from gateway.pipeline.engine import EngineSettings
from gateway.runtime import RedisServer

try:
    from gateway.runtime import tune_collector
except ImportError:  # a core from before the collector settings
    tune_collector = None  # type: ignore[assignment]  # then CPython's defaults
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from gateway.testing.records import national_dossier

try:
    from gateway.audit import AuditSettings
except ImportError:  # a core from before the audit chain
    AuditSettings = None  # type: ignore[assignment,misc]  # then there is nothing to turn off
try:
    from gateway.connectors.dvcqg import Service
except ImportError:  # a core from before 2026-12-01 (PYTHONPATH=<git archive of it>)
    from gateway.pipeline.outbox import Service  # type: ignore[attr-defined,no-redef]  # old core
try:
    from gateway.connectors.webhook import EVENT_CHANNEL
    from gateway.connectors.webhook_signing import new_secret
except ImportError:  # a core from before the webhook peer: (a), (b) and (c) still run
    EVENT_CHANNEL, new_secret = "", None  # type: ignore[assignment]  # (w) is refused below

AGENCY = "000.00.01.H22"
CLIENT = "bench"
CHUNK = 500
PUSHERS = 4  # concurrent intake connections in (b)
GW_THREADS = int(os.environ.get("BENCH_GW_THREADS", "4"))  # worker threads per peer
GW_BATCH = int(os.environ.get("BENCH_GW_BATCH", "500"))  # records per portal call in (b)
PORTAL_PROCESS = os.environ.get("BENCH_PORTAL", "inprocess") == "process"  # else in-process
DELIVERY_TIMEOUT = 150.0  # seconds: a timed row gives up after this
DRAIN_TIMEOUT = 240.0  # seconds: driving the webhook events to completion gives up after this
STATES = ("healthy", "refused", "503", "hang")
AUDIT = os.environ.get("BENCH_AUDIT", "on") != "off"  # the audit chain (bench_audit.py flips it)
# Decision 766 evaluations folded from every accepted record (off: what they cost the intake).
EVALUATIONS = os.environ.get("BENCH_EVALUATIONS", "on") != "off"
# OpenTelemetry spans ([traces], off by default): on, the batch span processor's thread
# serialises every span to JSON and writes it to /dev/null, as an exporter encodes it before
# posting (the post itself is the collector's side). Needs the otel extra.
TRACES = os.environ.get("BENCH_TRACES", "off") == "on"
SPANS: Counter[str] = Counter()  # spans exported, by the first word of their name
DOSSIER_COUNTER = f"delivered|{Service.DOSSIER.value}"
EVENT_COUNTER = f"delivered|{EVENT_CHANNEL}"
# The webhook peer in (w): probe a down receiver every 2 s and back off at most 2 s, so the run
# drains within seconds of the receiver's return (the defaults, 30 s and 300 s, would only make
# the bench wait). This probes a down peer more often than the defaults: harder on isolation.
WEBHOOK_PEER = {
    "batch_size": 10,
    "retry": {"initial": 0.25, "cap": 2.0},
    "breaker": {"failure_threshold": 5, "reset_seconds": 2.0},
}


# 10 events per claim, posted one after another (the default is 1): a failure mid-batch resends
# the posted ones under the same webhook-id, which the sandbox receiver de-duplicates (and counts:
# "redelivered" below). 10 posts, every timeout spent, fit in the default 300 s lease.

# -- records --------------------------------------------------------------------------------------


def dossier_no(i: int) -> str:
    """The i-th distinct valid MaHoSo: 9999 sequence numbers per day, 28 days a month, 2025."""
    day_index, seq = divmod(i, 9999)
    month, day = divmod(day_index, 28)
    if month >= 12:
        raise ValueError("at most 12 * 28 * 9999 distinct dossier numbers")
    return f"{AGENCY}-25{month + 1:02d}{day + 1:02d}-{seq + 1:04d}"


def build_records(start: int, count: int) -> list[Any]:
    return [national_dossier(dossier_no(i)) for i in range(start, start + count)]


# -- (a) baseline ---------------------------------------------------------------------------------


def bench_baseline(url: str, n: int) -> dict[str, float]:
    client = redis.Redis.from_url(url)
    broker = RedisBroker(client=client, namespace="bench-noop")  # type: ignore[no-untyped-call]
    queue = "bench-noop"

    @dramatiq.actor(broker=broker, queue_name=queue, actor_name="noop", max_retries=0)
    def noop(i: int) -> None:
        return None

    t0 = time.perf_counter()
    for i in range(n):
        noop.send(i)
    enqueue_s = time.perf_counter() - t0

    worker = dramatiq.Worker(broker, worker_threads=8)
    worker.queue_prefetch = 64
    t0 = time.perf_counter()
    worker.start()
    try:
        broker.join(queue, timeout=120_000)
        worker.join()
        elapsed = time.perf_counter() - t0
    finally:
        worker.stop()
        broker.close()
        client.close()
    return {"enqueue_per_s": n / enqueue_s, "elapsed": elapsed, "per_s": n / elapsed}


# -- HTTP intake ----------------------------------------------------------------------------------


class LoopbackServer:
    """uvicorn serving ``app`` in a thread on 127.0.0.1 (a port the kernel picks)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, name="bench-uvicorn"
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def dvcqg_login(http: Any) -> str:
    r = http.post("/dvcqg/auth", json={"username": "bench", "password": "pw"})
    r.raise_for_status()
    return str(r.json()["session"])


def dvcqg_push(http: Any, session: str, wires: list[dict[str, Any]]) -> None:
    r = http.post(
        "/dvcqg/integration",
        json={
            "session": session,
            "madonvi": AGENCY,
            "service": "DongBoHoSoMC",
            "isUpdating": "False",
            "data": wires,
        },
    )
    if r.status_code != 200:
        raise RuntimeError(f"intake answered {r.status_code}: {r.text[:500]}")
    body = r.json()
    if str(body.get("error_code")) not in ("0", "None"):
        raise RuntimeError(f"intake refused the call: {str(body)[:500]}")


# -- children: portal, webhook receiver, pusher, load generator ----------------------------------


class PortalChild:
    """The fake portal in its own process (``BENCH_PORTAL=process``), as the remote portal would
    be: its parsing runs on its own GIL. ``finish()`` returns what it holds."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own script
            [sys.executable, __file__, "--_portal"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = str(json.loads(self.proc.stdout.readline())["url"])

    def finish(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.close()
        out = self.proc.stdout.read()
        self.proc.wait(timeout=60)
        return dict(json.loads(out.strip().splitlines()[-1]))


def serve_portal() -> None:
    """Child mode: serve a fake portal on loopback until stdin closes, then report."""
    from gateway.testing import FakePortalServer

    portal = FakePortal()
    with FakePortalServer(portal) as server:
        print(json.dumps({"url": server.url}), flush=True)
        sys.stdin.read()
        me = resource.getrusage(resource.RUSAGE_SELF)
        cpu = me.ru_utime + me.ru_stime
        held = {"dossiers": portal_count(portal), "calls": len(portal.calls), "cpu_s": cpu}
        print(json.dumps(held))


class _BlackHole:
    """A listening socket that accepts connections and never answers (a hung receiver)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(128)
        self.sock.settimeout(0.1)
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        for conn in self.held:
            conn.close()


def serve_webhooks(port: int, secret: str) -> None:
    """Child mode: the sandbox webhook receiver on ``port``, put in a state by stdin commands.

    Commands (one a line; each answered by one JSON line): ``healthy``, ``refused``, ``503``,
    ``hang``, ``report`` (distinct ``webhook-id`` received, receipts, outcomes), ``reset``.
    """
    from gateway.sandbox.server import SimulatorServer
    from gateway.sandbox.webhooks import WebhookReceiver

    receiver = WebhookReceiver({CLIENT: [secret]})
    server: SimulatorServer | None = None
    hole: _BlackHole | None = None
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        answer: dict[str, Any] = {"ok": cmd}
        if cmd in STATES:
            if hole is not None:
                hole.close()
                hole = None
            if cmd in ("refused", "hang") and server is not None:
                server.stop()
                server = None
            if cmd == "hang":
                hole = _BlackHole(port)
            if cmd in ("healthy", "503"):
                if server is None:
                    server = SimulatorServer(receiver, port=port, hold_seconds=1.0)
                    server.start()
                receiver.set_down(cmd == "503")
        elif cmd == "report":
            ledger = receiver.ledger()
            answer = {
                "distinct": len(ledger["deliveries"]),
                "receipts": sum(ledger["deliveries"].values()),
                "outcomes": ledger["outcomes"],
                "bad_signatures": ledger["bad_signatures"],
            }
        elif cmd == "reset":
            receiver.reset()
        else:
            answer = {"error": f"unknown command {cmd!r}"}
        print(json.dumps(answer), flush=True)
    if server is not None:
        server.stop()
    if hole is not None:
        hole.close()


class WebhookChild:
    """The webhook receiver's child process, on a fixed loopback port (so it can come back)."""

    def __init__(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.secret = new_secret()
        self.proc = subprocess.Popen(  # noqa: S603 - our own script
            [sys.executable, __file__, "--_webhooks", str(self.port), self.secret],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._read()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{CLIENT}"

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the webhook receiver child died")
        return dict(json.loads(line))

    def command(self, cmd: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def run_child(mode: str, *args: str, timeout: float = 180.0) -> dict[str, Any]:
    """Run this script in ``mode`` in a child process (its own GIL); return its JSON figures."""
    argv = [sys.executable, __file__, mode, *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)  # noqa: S603 - our own script
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} child exited with {proc.returncode}")
    return dict(json.loads(out.strip().splitlines()[-1]))


def pusher(base_url: str, start: int, count: int, connections: int) -> dict[str, Any]:
    """Push records start..start+count in CHUNK-record DVCQG calls over ``connections``.

    Builds the records and logs in first, then prints ``ready`` and waits for a line on stdin:
    the parent times from the first push, not from this process's start-up.
    """
    import httpx
    import orjson

    wires = [r.to_wire() for r in build_records(start, count)]
    chunks = iter([wires[i : i + CHUNK] for i in range(0, count, CHUNK)])
    lock = threading.Lock()

    def login() -> tuple[httpx.Client, str]:
        http = httpx.Client(base_url=base_url, timeout=60)
        return http, dvcqg_login(http)

    def push_all(http: httpx.Client, session: str) -> None:
        while True:
            with lock:
                chunk = next(chunks, None)
            if chunk is None:
                return
            envelope = {
                "session": session,
                "madonvi": AGENCY,
                "service": "DongBoHoSoMC",
                "isUpdating": "False",
                "data": chunk,
            }
            r = http.post(
                "/dvcqg/integration",
                content=orjson.dumps(envelope),
                headers={"content-type": "application/json"},
            )
            if r.status_code != 200 or str(r.json().get("error_code")) != "0":
                raise RuntimeError(f"intake answered {r.status_code}: {r.text[:300]}")

    with ThreadPoolExecutor(connections) as pool:
        clients = [f.result() for f in [pool.submit(login) for _ in range(connections)]]
        print(json.dumps({"ready": True}), flush=True)
        sys.stdin.readline()
        t, cpu = time.perf_counter(), time.process_time()
        for f in [pool.submit(push_all, *c) for c in clients]:
            f.result()
        took, cpu = time.perf_counter() - t, time.process_time() - cpu
    for http, _ in clients:
        http.close()
    return {"seconds": took, "cpu_s": cpu}


class PusherChild:
    """The pusher in a child process: started, then told to go (see :func:`pusher`)."""

    def __init__(self, base_url: str, n: int) -> None:
        self.spawned = time.perf_counter()
        self.proc = subprocess.Popen(  # noqa: S603 - our own script
            [sys.executable, __file__, "--_pusher", base_url, "0", str(n), str(PUSHERS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        if not self.proc.stdout.readline():
            raise RuntimeError("the pusher child died before it was ready")
        self.prep_s = time.perf_counter() - self.spawned

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 180.0) -> dict[str, Any]:
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise
        if self.proc.returncode != 0:
            raise RuntimeError(f"the pusher child exited with {self.proc.returncode}")
        return dict(json.loads(out.strip().splitlines()[-1]))


def loadgen(base_url: str, start: int, rate: float, seconds: float) -> dict[str, Any]:
    """Open-loop pacing: request i is due at t0 + i/rate; latency is measured per request."""
    import httpx

    total = int(rate * seconds)
    wires = [r.to_wire() for r in build_records(start, total)]
    lat: list[float] = [0.0] * total
    errors: list[str] = []
    local = threading.local()
    clients: list[Any] = []
    lock = threading.Lock()

    def client() -> tuple[Any, str]:
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=base_url, timeout=10)
            local.session = dvcqg_login(local.http)
            with lock:
                clients.append(local.http)
        return local.http, local.session

    threads = 32  # enough in flight that the generator, not the gateway, never sets the pace
    with ThreadPoolExecutor(threads) as pool:
        wait([pool.submit(client) for _ in range(threads * 2)], timeout=10)

        def one(i: int) -> None:
            http, session = client()
            t = time.perf_counter()
            try:
                dvcqg_push(http, session, [wires[i]])
            except Exception as exc:
                errors.append(repr(exc)[:200])
            lat[i] = time.perf_counter() - t

        futures = []
        t0 = time.perf_counter()
        late = 0.0
        for i in range(total):
            due = t0 + i / rate
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
            else:
                late = max(late, now - due)
            futures.append(pool.submit(one, i))
        done, not_done = wait(futures, timeout=seconds + 30)
        wall = time.perf_counter() - t0
        for f in not_done:
            f.cancel()
    for c in clients:
        c.close()
    ok = sorted(lat[i] for i, f in enumerate(futures) if f in done)

    def pct(p: float) -> float:
        return ok[min(len(ok) - 1, int(p / 100 * len(ok)))] * 1000 if ok else float("nan")

    return {
        "requests": total,
        "completed": len(ok),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "achieved_rps": len(ok) / wall,
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": ok[-1] * 1000 if ok else float("nan"),
        "max_lag_ms": late * 1000,
    }


# -- (b) and (w) gateway end to end ---------------------------------------------------------------


def build_service(
    url: str,
    namespace: str = "bench",
    *,
    portal_url: str | None = None,
    webhook: WebhookChild | None = None,
    python_parser: bool = False,
) -> tuple[GatewayService, FakePortal]:
    """The gateway under test; with ``portal_url`` it delivers over loopback HTTP to it; with
    ``webhook`` the client has a webhook there, which adds the webhook peer; ``python_parser``
    makes redis-py parse replies in Python even where hiredis is installed."""
    hook: dict[str, Any] = {}
    if webhook is not None:
        hook = {"webhook_url": webhook.url, "webhook_secrets": (webhook.secret,)}
    client = ClientConfig(
        id=CLIENT,
        username="bench",
        password="pw",  # noqa: S106 - a bench-only login
        api_key="k",
        agencies=frozenset({"*"}),
        **hook,
    )
    settings = Settings(
        namespace=namespace,
        worker=WorkerSettings(threads=GW_THREADS, prefetch=64, sweep_interval=60),
        engine=EngineSettings(batch_size=GW_BATCH),
        clients=(client,),
        **({"peers": {"webhook": WEBHOOK_PEER}} if webhook else {}),
        **({"audit": AuditSettings(enabled=AUDIT)} if AuditSettings is not None else {}),
        # An older core (bench_vs_core.py) has no evaluations to turn off.
        **(
            {"evaluations": {"enabled": False}}
            if not EVALUATIONS and "evaluations" in Settings.model_fields
            else {}
        ),
        **({"traces": {"enabled": True, "exporter": "console"}} if TRACES else {}),
    )
    portal = FakePortal()
    if portal_url is not None:
        cfg = portal.connector_config(portal_url, batch_size=GW_BATCH, max_connections=GW_THREADS)
        connector = DvcqgConnector(cfg)
    else:
        cfg = portal.connector_config("http://portal.test", batch_size=GW_BATCH)
        connector = DvcqgConnector(cfg, transport=portal.transport())
    extra: dict[str, Any] = {}
    if python_parser:
        from redis._parsers import _RESP2Parser, _RESP3Parser

        protocol = redis.Redis.from_url(url).connection_pool.make_connection().protocol
        extra["parser_class"] = _RESP3Parser if protocol in (3, "3") else _RESP2Parser
    traced: dict[str, Any] = {"span_exporter": span_sink()} if TRACES else {}
    client = redis.Redis.from_url(url, **extra)
    return GatewayService(settings, client, connector, **traced), portal


def span_sink() -> Any:
    """A span exporter that encodes each span (JSON) to /dev/null and counts it in SPANS."""
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    def encode(span: ReadableSpan) -> str:
        SPANS[span.name.split()[0]] += 1
        return span.to_json(indent=None) + "\n"

    # Left open: the exporter writes to it until the service closes, then the process ends.
    return ConsoleSpanExporter(out=open(os.devnull, "w"), formatter=encode)


def portal_count(portal: FakePortal) -> int:
    with portal._lock:  # cheap count; the public copy is checked once at the end
        return len(portal._dossiers)


def counter(service: GatewayService, name: str) -> int:
    """One of the gateway's own counters in Redis (``delivered|<channel>`` …)."""
    keys = getattr(service.outbox, "keys", None)
    key = keys.metrics if keys is not None else f"{service.settings.namespace}:metrics"
    raw = service.client.hget(key, name)
    return int(raw) if raw is not None else 0  # type: ignore[arg-type]  # a sync client answers bytes


def dead_letters(service: GatewayService) -> int:
    """Dead letters waiting for an operator (any channel)."""
    count = getattr(service.outbox, "dead_letter_count", None)
    if count is not None:
        return int(count())
    return int(service.client.zcard(f"{service.settings.namespace}:dl:index"))  # an old core


def wait_counter(service: GatewayService, name: str, n: int, deadline: float) -> None:
    """Poll the counter every 5 ms until it reaches ``n``: a join of the workers would also wait
    for the other peer's messages, which is exactly what (w) must not time."""
    while counter(service, name) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {counter(service, name)} of {n} {name} in time")
        time.sleep(0.005)


class CpuTimes:
    """CPU seconds of this process and of redis-server since start."""

    def __init__(self, redis_pid: int | None) -> None:
        self.redis_pid = redis_pid
        self.start = self._now()

    def _redis(self) -> float:
        if self.redis_pid is None:
            return float("nan")
        with open(f"/proc/{self.redis_pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _now(self) -> tuple[float, float]:
        me = resource.getrusage(resource.RUSAGE_SELF)
        return (me.ru_utime + me.ru_stime, self._redis())

    def since(self) -> dict[str, float]:
        now = self._now()
        return {k: b - a for k, a, b in zip(("gateway", "redis"), self.start, now, strict=True)}


class GcTimer:
    """Wall time the gateway process spent in the cyclic garbage collector (all threads wait
    for it: it holds the GIL), and the collections by generation, until :meth:`stop`."""

    def __init__(self) -> None:
        self.total = 0.0
        self.runs = [0, 0, 0]
        self._t = 0.0
        gc.callbacks.append(self._cb)

    def _cb(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._t
            self.runs[info["generation"]] += 1

    def stop(self) -> dict[str, Any]:
        gc.callbacks.remove(self._cb)
        return {"s": self.total, "runs": list(self.runs)}


def load_app_factory(spec: str) -> Any:
    """``module:function``, imported (``bench_audit.py`` hands it to :func:`bench_gateway`)."""
    module_name, _, func = spec.partition(":")
    return getattr(importlib.import_module(module_name), func)


def bench_gateway(
    url: str,
    n: int,
    factory: Any | None = None,
    latency: tuple[float, float] | None = None,
    *,
    state: str | None = None,
    webhook: WebhookChild | None = None,
    during: Callable[[], Callable[[], None]] | None = None,
    redis_pid: int | None = None,
    python_parser: bool = False,
    portal_process: bool = PORTAL_PROCESS,
) -> dict[str, Any]:
    """One timed (b) round, or a (w) round with the webhook receiver in ``state``; with
    ``portal_process`` the fake portal runs in its own process (the (b:proc) row).


    ``factory`` builds the app (``create_app`` by default); ``during`` is started just before
    the first push and its result called once DVCQG is done (the profiler).
    """
    if factory is None:
        from gateway.api.app import create_app as factory

    child = PortalChild() if portal_process else None
    hooked = webhook if state is not None else None
    if hooked is not None:
        assert state is not None
        hooked.command("reset")
        hooked.command(state)
    service, portal = build_service(
        url, portal_url=child.url if child else None, webhook=hooked, python_parser=python_parser
    )
    out: dict[str, Any] = {"portal": "child process, loopback HTTP" if child else "in-process"}
    try:
        with LoopbackServer(factory(service)) as server:
            service.start_workers()
            gc.collect()
            deadline = time.monotonic() + DELIVERY_TIMEOUT
            stop = during() if during is not None else None
            # The provincial systems are outside the gateway: push from a child process (its
            # own GIL), PUSHERS connections at once, as several systems would.
            push = PusherChild(server.base_url, n)
            cpu = CpuTimes(redis_pid)
            gc_timer = GcTimer()
            t0 = time.perf_counter()
            push.go()
            pushed = push.finish()
            out["intake_s"] = time.perf_counter() - t0
            wait_counter(service, DOSSIER_COUNTER, n, deadline)
            out["elapsed"] = time.perf_counter() - t0
            out["cpu"] = {**cpu.since(), "pusher": pushed["cpu_s"]}
            if stop is not None:
                # The profile is of the timed part; the fold's catching up comes after it.
                stop()
                stop = None
            out.update(evaluations_caught_up(service, t0, deadline))
            if "evaluations_caught_up_s" in out:
                # The whole work, the fold included: the figure a gateway that is never idle
                # would sustain (the fold waits for delivery only within its bounds).
                out["folded_per_s"] = n / out["evaluations_caught_up_s"]
            out["gc"] = gc_timer.stop()
            # The method before 2026-12-01 timed from spawning the pusher, so it also counted
            # the child's start-up and record building (the gateway idle meanwhile).
            out["old_method_per_s"] = n / (out["elapsed"] + push.prep_s)
            out["pusher_prep_s"] = push.prep_s
            if stop is not None:
                stop()
            out["per_s"] = n / out["elapsed"]
            out["intake_per_s"] = n / out["intake_s"]
            if hooked is not None:
                out.update(drain_webhooks(service, hooked, n))
            if child is None:
                held, calls = len(portal.dossiers), len(portal.calls)
            else:
                report = child.finish()
                child = None
                held, calls = report["dossiers"], report["calls"]
                # The whole child's life (it also idled before and after the timed part).
                out["cpu"]["portal child"] = report["cpu_s"]
            assert held == n, f"portal holds {held} dossiers, expected {n}"
            out["portal_calls"] = calls
            out["dead_letters"] = dead_letters(service)
            assert out["dead_letters"] == 0, f"{out['dead_letters']} dead letters"
            # Verified; a fresh peer for (c), as the remote portal's memory is not ours.
            portal.reset()
            gc.collect()
            if latency is not None:
                out["latency"] = run_child(
                    "--_loadgen",
                    server.base_url,
                    str(n),
                    str(latency[0]),
                    str(latency[1]),
                    timeout=latency[1] + 60,
                )
    finally:
        service.close()
        if child is not None:
            child.finish()
    return out


def evaluations_caught_up(service: GatewayService, t0: float, deadline: float) -> dict[str, Any]:
    """How far the background evaluations fold was when delivery finished, and when it caught up.

    The fold runs beside delivery, on the same GIL, and is not part of "push → portal". It
    waits while delivery is busy (``[evaluations] yield_to_delivery``), so it has usually folded
    nothing by then; the time until it caught up gives the row "(b) until every item was also
    folded". Untimed for (b): its clock has stopped.
    """
    evaluations = getattr(service, "evaluations", None)
    if evaluations is None or not evaluations.settings.enabled:
        return {}
    store = evaluations.store
    out: dict[str, Any] = {"evaluations_folded": store.cursor(), "items": store.newest_item()}
    while store.cursor() < store.newest_item() and time.monotonic() < deadline:
        time.sleep(0.05)  # a benchmark watching a background thread, not a test waiting
    out["evaluations_caught_up_s"] = time.perf_counter() - t0
    return out


def drain_webhooks(service: GatewayService, hooked: WebhookChild, n: int) -> dict[str, Any]:
    """DVCQG is done: count the events delivered so far, bring the receiver back, drive every
    event to it, and check that it received each of the N exactly (by ``webhook-id``)."""
    out: dict[str, Any] = {"events_during": counter(service, EVENT_COUNTER)}
    out["outcomes_during"] = hooked.command("report")["outcomes"]
    t = time.perf_counter()
    hooked.command("healthy")
    wait_counter(service, EVENT_COUNTER, n, time.monotonic() + DRAIN_TIMEOUT)
    out["drain_s"] = time.perf_counter() - t
    report = hooked.command("report")
    out["events_delivered"] = counter(service, EVENT_COUNTER)
    out["events_received"] = report["distinct"]
    out["events_lost"] = n - report["distinct"]
    out["events_redelivered"] = report["receipts"] - report["distinct"]
    out["bad_signatures"] = report["bad_signatures"]
    assert report["distinct"] == n, f"receiver holds {report['distinct']} of {n} events"
    assert report["bad_signatures"] == 0
    return out


# -- profile --------------------------------------------------------------------------------------


def start_py_spy(path: Path) -> Callable[[], Callable[[], None]]:
    """A ``during`` hook: py-spy samples this process (GIL holder only) until stopped."""
    exe = Path(sys.executable).with_name("py-spy")
    if not exe.exists():
        raise SystemExit("--profile needs py-spy: bash scripts/_setup dev,bench")

    def start() -> Callable[[], None]:
        proc = subprocess.Popen(  # noqa: S603 - py-spy from our own virtualenv
            [
                str(exe),
                "record",
                "--pid",
                str(os.getpid()),
                "--rate",
                "200",
                "--gil",
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # py-spy attaches before the first push

        def stop() -> None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)

        return stop

    return start


# Where a sample's time goes: the deepest frame of our own code decides, then the library.
_PARTS: tuple[tuple[str, str], ...] = (
    ("gateway/pipeline/outbox.py", "outbox: Lua script calls (redis-py side)"),
    ("gateway/pipeline/", "delivery engine and breaker"),
    ("gateway/testing/fake_portal.py", "fake portal (the peer's own work, in-process)"),
    ("gateway/connectors/", "DVCQG connector (build and send the call)"),
    ("gateway/api/", "DVCQG intake handler (validation, outcome, answer)"),
    ("gateway/schemas/", "intake validation (schemas)"),
    ("gateway/mappers/", "intake validation (mappers)"),
    ("gateway/service.py", "service (accept, trigger)"),
    ("gateway/", "other gateway code"),
)
_LIBS: tuple[tuple[str, str], ...] = (
    ("dramatiq/", "dramatiq"),
    ("redis/", "redis-py"),
    ("uvicorn/", "HTTP server (uvicorn, starlette, fastapi)"),
    ("starlette/", "HTTP server (uvicorn, starlette, fastapi)"),
    ("fastapi/", "HTTP server (uvicorn, starlette, fastapi)"),
    ("httpx/", "httpx"),
    ("httpcore/", "httpx"),
    ("pydantic/", "pydantic"),
    ("asyncio/", "asyncio event loop"),
    ("threading.py", "threads"),
    ("queue.py", "threads"),
)
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _frame_file(frame: str) -> tuple[str, str]:
    m = _FRAME.match(frame.strip())
    return (m.group("func"), m.group("file")) if m else (frame, "")


def summarise_profile(path: Path, top: int = 22) -> str:
    """Samples by part of the gateway, and the deepest gateway functions, from py-spy raw."""
    parts: Counter[str] = Counter()
    funcs: Counter[str] = Counter()
    libs: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        total += count
        frames = [_frame_file(f) for f in stack.split(";")]  # root first
        ours = [
            i for i, (_, f) in enumerate(frames) if f.startswith("gateway/") or "/gateway/" in f
        ]
        lib = next((name for _, f in reversed(frames) for key, name in _LIBS if key in f), "other")
        libs[lib] += count
        if ours:
            func, file = frames[ours[-1]]
            rel = file[file.index("gateway/") :] if "gateway/" in file else file
            below = [f for _, f in frames[ours[-1] + 1 :]]
            part = next(name for key, name in _PARTS if rel.startswith(key))
            if any("dramatiq/" in f for f in below):
                part = "dramatiq: sending messages (from our code)"
            parts[part] += count
            funcs[f"{rel}:{func}"] += count
        else:
            part = next((name for _, f in reversed(frames) for key, name in _LIBS if key in f), "")
            parts[f"no gateway frame: {part or 'other'}"] += count
    if not total:
        return "py-spy recorded no samples"
    lines = [f"py-spy --gil: {total:,} samples of the GIL holder at 200 Hz", "", "by part:"]
    lines += [f"  {c / total:6.1%}  {name}" for name, c in parts.most_common()]
    lines += ["", "by the innermost library frame:"]
    lines += [f"  {c / total:6.1%}  {name}" for name, c in libs.most_common()]
    lines += ["", f"deepest gateway function, top {top}:"]
    lines += [f"  {c / total:6.1%}  {name}" for name, c in funcs.most_common(top)]
    return "\n".join(lines)


def script_names() -> dict[str, str]:
    """SHA1 → name of the outbox's Lua scripts (as Redis knows them)."""
    from gateway.pipeline import scripts

    def sha(text: str) -> str:
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()

    out = {sha(scripts.source(name)): name for name in getattr(scripts, "NAMES", ())}
    # The other scripts of the gateway and dramatiq's own, so that none hides in "other".
    others = {
        "gateway.evaluations.store": (
            "_PUT",
            "_READ",
            "_ITEMS",
            "_CHECKS",
            "_ADVANCE",
            "_UNLOCK",
            "_FEED",
        ),
        "gateway.audit.chain": ("_APPEND",),
        "gateway.api.throttle": ("_ADMIT", "_SUCCEEDED"),
    }
    for module_name, names in others.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # an older core
            continue
        label = module_name.rsplit(".", 2)[-2]
        for name in names:
            text = getattr(module, name, None)
            if isinstance(text, str):
                out[sha(text)] = f"{label}{name.lower()}"
    lua_dir = Path(dramatiq.__file__).parent / "brokers" / "redis"
    for path in lua_dir.glob("*.lua"):
        out[sha(path.read_text(encoding="utf-8"))] = f"dramatiq:{path.stem}"
    return out


def slowlog_by_command(client: redis.Redis, shas: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Top-level commands Redis ran (SLOWLOG with a 0 µs threshold): (calls, µs) per command,
    an EVALSHA named by its script."""
    out: dict[str, list[int]] = {}
    for entry in client.slowlog_get(-1):
        cmd = entry["command"].split(b" ") if isinstance(entry["command"], bytes) else []
        name = cmd[0].decode().lower() if cmd else "?"
        if name == "evalsha" and len(cmd) > 1:
            name = "lua:" + shas.get(cmd[1].decode(), "other")
        calls_us = out.setdefault(name, [0, 0])
        calls_us[0] += 1
        calls_us[1] += int(entry["duration"])
    return {k: (v[0], v[1]) for k, v in out.items()}


def commandstats(client: redis.Redis) -> dict[str, tuple[int, int]]:
    """Redis's own per-command (calls, µs) since the last CONFIG RESETSTAT."""
    info: dict[str, Any] = client.info("commandstats")  # type: ignore[assignment]  # a sync client answers a dict
    return {
        k.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"]))
        for k, v in info.items()
        if k.startswith("cmdstat_")
    }


# -- main -----------------------------------------------------------------------------------------


class _CountResultWarnings(logging.Filter):
    """dramatiq warns once per message when an actor returns a value: count, do not print."""

    count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "returned a value that is not None" in record.getMessage():
            _CountResultWarnings.count += 1
            return False
        return True


def compact(client: redis.Redis) -> None:
    """Rewrite the (just flushed) AOF and wait for it, untimed.

    Otherwise a row after a flush pays, timed, the rewrite the previous row's data left due (a
    fork and a file write of tens of MB); bench_audit.py found it fell on every row but the first.
    """
    client.bgrewriteaof()
    deadline = time.monotonic() + 60
    while True:
        info: dict[str, Any] = client.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the AOF rewrite did not finish in 60 s")
        time.sleep(0.05)


def rewrites(client: redis.Redis) -> int:
    """AOF rewrites since the last CONFIG RESETSTAT."""
    info: dict[str, Any] = client.info("persistence")
    return int(info.get("aof_rewrites", 0))


def _median(rounds: list[dict[str, Any]], key: str = "per_s") -> dict[str, Any]:
    """The round whose ``key`` is the median (upper median for an even count)."""
    ordered = sorted(rounds, key=lambda r: float(r[key]))
    return dict(ordered[len(ordered) // 2])


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _child_main() -> bool:
    """Run a child mode if argv names one; True when it did."""
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "--_portal" and len(sys.argv) == 2:
        serve_portal()
    elif mode == "--_webhooks" and len(sys.argv) == 4:
        serve_webhooks(int(sys.argv[2]), sys.argv[3])
    elif mode == "--_pusher" and len(sys.argv) == 6:
        _, _, url, start, count, conns = sys.argv
        print(json.dumps(pusher(url, int(start), int(count), int(conns))))
    elif mode == "--_loadgen" and len(sys.argv) == 6:
        _, _, url, start, rate, seconds = sys.argv
        print(json.dumps(loadgen(url, int(start), float(rate), float(seconds))))
    else:
        return False
    return True


def main() -> int:
    if _child_main():
        return 0
    handler = logging.StreamHandler()
    handler.addFilter(_CountResultWarnings())
    logging.basicConfig(level=logging.ERROR, handlers=[handler])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=3, help="rounds of every row; medians")
    p.add_argument(
        "--states",
        default=",".join(STATES),
        help=f"webhook receiver states for (w), comma-separated, of {','.join(STATES)}; '' skips",
    )
    p.add_argument("--rate", type=float, default=200.0, help="(c) requests/s")
    p.add_argument("--seconds", type=float, default=10.0, help="(c) duration; 0 skips (c)")
    p.add_argument("--profile", action="store_true", help="one more (b) round under py-spy")
    p.add_argument(
        "--no-python-parser-row", action="store_true", help="skip (b:py) (hiredis vs Python)"
    )
    p.add_argument(
        "--no-portal-process-row",
        action="store_true",
        help="skip (b:proc) (the fake portal in its own process)",
    )
    p.add_argument("--profile-out", type=Path, help="keep py-spy's raw stacks here")
    p.add_argument(
        "--json",
        type=Path,
        help="also write every row's per-round figures here (bench_vs_core.py reads them)",
    )
    p.add_argument(
        "--appendfsync",
        choices=("always", "everysec"),
        default="always",
        help="the private Redis's fsync policy for every row (the gateway's default: always)",
    )
    args = p.parse_args()
    n = args.records
    states = [s for s in args.states.split(",") if s]
    if not 1 <= n <= 12 * 28 * 9999 - int(args.rate * args.seconds):
        p.error("--records out of range")
    if unknown := set(states) - set(STATES):
        p.error(f"unknown states: {', '.join(sorted(unknown))}")
    if states and new_secret is None:
        p.error("this core has no webhook peer: run with --states ''")

    started = datetime.now(UTC)
    print(f"{started:%Y-%m-%d %H:%M} UTC, load average {_load()}", flush=True)
    if TRACES:
        print("traces on: every span encoded (JSON) to /dev/null by the batch span processor")
    if tune_collector is not None and os.environ.get("BENCH_GC", "tuned") == "tuned":
        # As `gateway serve` and `gateway worker` run (gateway/runtime/collector.py), for every
        # row: this process is (a)'s dramatiq worker and (b)'s gateway in turn.
        tune_collector()
        print(f"garbage collector as the gateway's entry points set it: {gc.get_threshold()}")
    from redis.utils import HIREDIS_AVAILABLE

    # Where hiredis is installed (the default now), (b:py) is (b) with redis-py's own parser.
    with_py = HIREDIS_AVAILABLE and not args.no_python_parser_row
    rounds: dict[str, list[dict[str, Any]]] = {"a": [], "b": [], **{s: [] for s in states}}
    if with_py:
        rounds["b:py"] = []
    with_proc = not args.no_portal_process_row and not PORTAL_PROCESS
    if with_proc:
        rounds["b:proc"] = []
    profile = ""
    stats_b: dict[str, tuple[int, int]] = {}
    stats_a: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pipe-") as tmp:
        server = RedisServer(Path(tmp), appendfsync=args.appendfsync)
        server.start()
        webhook = WebhookChild() if states else None
        try:
            url = server.url
            rpid = server.process.pid if server.process else None
            print(f"redis-server pid {rpid} at {url}", flush=True)
            admin = redis.Redis.from_url(url)
            shas = script_names()

            def row(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
                print(f"round {r}: {name} (load {_load()}) ...", flush=True)
                admin.config_resetstat()
                out = fn()
                out["load"] = _load()
                out["redis_stats"] = commandstats(admin)
                out["slowlog"] = slowlog_by_command(admin, shas)
                out["aof_rewrites"] = rewrites(admin)
                admin.flushall()
                compact(admin)
                print(f"    {out['per_s']:,.0f}/s", flush=True)
                return out

            for r in range(1, args.rounds + 1):
                last = r == args.rounds
                lat = (args.rate, args.seconds) if last and args.seconds > 0 else None
                rounds["a"].append(row("(a) no-op baseline", lambda: bench_baseline(url, n)))
                rounds["b"].append(
                    row(
                        "(b) gateway end to end",
                        lambda lat=lat: bench_gateway(  # type: ignore[misc]  # bound per round
                            url, n, latency=lat, redis_pid=rpid
                        ),
                    )
                )
                if with_py:
                    rounds["b:py"].append(
                        row(
                            "(b:py) gateway end to end, redis-py's Python reply parser",
                            lambda: bench_gateway(url, n, redis_pid=rpid, python_parser=True),
                        )
                    )
                if with_proc:
                    rounds["b:proc"].append(
                        row(
                            "(b:proc) gateway end to end, the fake portal in its own process",
                            lambda: bench_gateway(url, n, redis_pid=rpid, portal_process=True),
                        )
                    )
                for s in states:
                    rounds[s].append(
                        row(
                            f"(w:{s}) webhook receiver {s}",
                            lambda s=s: bench_gateway(  # type: ignore[misc]  # bound per state
                                url, n, state=s, webhook=webhook, redis_pid=rpid
                            ),
                        )
                    )
            stats_a = _median(rounds["a"])["redis_stats"]
            stats_b = _median(rounds["b"])["redis_stats"]
            if args.profile:
                raw = args.profile_out or Path(tmp) / "py-spy.txt"
                r = args.rounds + 1
                admin.config_set("slowlog-log-slower-than", 0)
                admin.config_set("slowlog-max-len", 1_000_000)
                admin.slowlog_reset()
                prof = row(
                    "(b) under py-spy, every Redis command in SLOWLOG",
                    lambda: bench_gateway(url, n, during=start_py_spy(raw), redis_pid=rpid),
                )
                admin.config_set("slowlog-log-slower-than", 10_000)
                profile = "\n".join(
                    [
                        f"profiled round: {prof['per_s']:,.0f} records/s (load {prof['load']});"
                        " CPU s: gateway {gateway:.2f}, pusher child {pusher:.2f},"
                        " redis-server {redis:.2f}".format(**prof["cpu"]),
                        summarise_profile(raw),
                        "",
                        f"redis-server, top-level commands of the profiled round (SLOWLOG;"
                        f" µs per record = total / {n:,}):",
                        *(
                            f"  {cmd:<28} {calls:>8,} calls {us / 1e6:7.2f} s"
                            f" {us / n:8.1f} µs/record"
                            for cmd, (calls, us) in sorted(
                                prof["slowlog"].items(), key=lambda kv: -kv[1][1]
                            )[:14]
                        ),
                    ]
                )
            admin.close()
        finally:
            if webhook is not None:
                webhook.close()
            server.stop()

    report(args, n, started, rounds, states, stats_a, stats_b, profile)
    if TRACES:
        print(f"spans exported, all rounds: {dict(sorted(SPANS.items()))}")
    if args.json is not None:
        figures = {
            "gateway": str(Path(gateway.__file__).resolve().parent),
            "rows": {
                name: [
                    {
                        k: x[k]
                        for k in ("per_s", "load", "evaluations_folded", "folded_per_s")
                        if k in x
                    }
                    for x in per
                ]
                for name, per in rounds.items()
            },
        }
        args.json.write_text(json.dumps(figures, indent=1), "utf-8")
    return 0


def report(
    args: argparse.Namespace,
    n: int,
    started: datetime,
    rounds: dict[str, list[dict[str, Any]]],
    states: list[str],
    stats_a: dict[str, tuple[int, int]],
    stats_b: dict[str, tuple[int, int]],
    profile: str,
) -> None:
    a, b = _median(rounds["a"]), _median(rounds["b"])
    old = _median(rounds["b"], "old_method_per_s")
    rows = [
        ("date", f"{started:%Y-%m-%d %H:%M} UTC"),
        ("machine", platform.platform()),
        ("cpu_count", str(os.cpu_count())),
        ("python", sys.version.split()[0]),
        ("dramatiq", dramatiq.__version__),
        ("redis", f"private redis-server, unix socket, appendfsync={args.appendfsync}"),
        ("N", f"{n:,}"),
        ("(a) enqueue, 1 thread", f"{a['enqueue_per_s']:,.0f} msgs/s"),
        ("(a) no-op worker 8 thr, prefetch 64, median", f"{a['per_s']:,.0f} msgs/s"),
        ("(b) intake path", f"HTTP /dvcqg/integration, {PUSHERS} connections, {CHUNK}/call"),
        (
            "(b) intake alone (workers running)",
            f"{b['intake_per_s']:,.0f} records/s ({b['intake_s']:.2f} s)",
        ),
        ("(b) end to end (push → portal), median", f"{b['per_s']:,.0f} records/s"),
        (
            "(b) portal calls",
            f"{b['portal_calls']:,} (batch_size {GW_BATCH}, {GW_THREADS} threads, {b['portal']})",
        ),
        (
            "(b) CPU s, median round",
            "gateway {gateway:.2f}, pusher child {pusher:.2f}, redis-server {redis:.2f}".format(
                **b["cpu"]
            )
            + (
                f"; in the gateway's garbage collector {b['gc']['s']:.2f} s"
                f" (collections by generation {b['gc']['runs']})"
                if "gc" in b
                else ""
            ),
        ),
        ("(b) / (a), medians", f"{b['per_s'] / a['per_s']:.2f}"),
        (
            "(b) evaluations folded when the portal held N",
            ", ".join(
                f"{x['evaluations_folded']:,} of {x['items']:,}"
                f" (all by {x['evaluations_caught_up_s']:.1f} s)"
                for x in rounds["b"]
                if "evaluations_folded" in x
            )
            or "evaluations off",
        ),
        (
            "(b) until every item was also folded into evaluations, median",
            f"{_median(folded, 'folded_per_s')['folded_per_s']:,.0f} records/s"
            f" = {_median(folded, 'folded_per_s')['folded_per_s'] / a['per_s']:.2f} × (a)"
            if (folded := [x for x in rounds["b"] if "folded_per_s" in x])
            else "evaluations off",
        ),
        (
            "(b) timed from spawning the pusher, median",
            f"{old['old_method_per_s']:,.0f} records/s = {old['old_method_per_s'] / a['per_s']:.2f}"
            f" × (a) (the method before 2026-12-01: + {old['pusher_prep_s']:.2f} s of the"
            " pusher's start-up and record building)",
        ),
    ]
    for i, (ra, rb) in enumerate(zip(rounds["a"], rounds["b"], strict=True), start=1):
        rows.append(
            (
                f"round {i}: (a) / (b) / ratio; load",
                f"{ra['per_s']:,.0f} msgs/s / {rb['per_s']:,.0f} records/s"
                f" / {rb['per_s'] / ra['per_s']:.2f}; {ra['load']} / {rb['load']}",
            )
        )
    if rounds.get("b:py"):
        bp = _median(rounds["b:py"])
        rows.append(
            (
                "(b:py) same, redis-py's Python parser, median",
                f"{bp['per_s']:,.0f} records/s; CPU s gateway {bp['cpu']['gateway']:.2f},"
                f" redis-server {bp['cpu']['redis']:.2f}; rounds "
                + ", ".join(f"{x['per_s']:,.0f} ({x['load']})" for x in rounds["b:py"]),
            )
        )
    if rounds.get("b:proc"):
        bq = _median(rounds["b:proc"])
        rows.append(
            (
                "(b:proc) same, the fake portal in its own process, median",
                f"{bq['per_s']:,.0f} records/s = {bq['per_s'] / a['per_s']:.2f} × (a);"
                f" CPU s gateway {bq['cpu']['gateway']:.2f}, redis-server {bq['cpu']['redis']:.2f},"
                f" portal child {bq['cpu'].get('portal child', float('nan')):.2f} (its whole life);"
                " rounds "
                + ", ".join(
                    f"{x['per_s']:,.0f} ({x['per_s'] / ra['per_s']:.2f} × (a))"
                    for x, ra in zip(rounds["b:proc"], rounds["a"], strict=True)
                ),
            )
        )
    for s in states:
        w = _median(rounds[s])
        every = ", ".join(f"{x['per_s']:,.0f}" for x in rounds[s])
        rows.append(
            (
                f"(w:{s}) DVCQG end to end, median",
                f"{w['per_s']:,.0f} records/s = {w['per_s'] / b['per_s']:.2f} × (b)"
                f" (rounds {every})",
            )
        )
        lost = sum(x["events_lost"] for x in rounds[s])
        again = sum(x["events_redelivered"] for x in rounds[s])
        rows.append(
            (
                f"(w:{s}) webhook events",
                f"{w['events_during']:,} of {n:,} delivered during the DVCQG run;"
                f" all {w['events_received']:,} received {w['drain_s']:.1f} s after it was healthy;"
                f" every round: lost {lost}, redelivered {again}, dead letters"
                f" {sum(x['dead_letters'] for x in rounds[s])}",
            )
        )
        rows.append((f"(w:{s}) receiver outcomes during the run", str(w["outcomes_during"])))
        rows.append((f"(w:{s}) load per round", " / ".join(x["load"] for x in rounds[s])))
    lat = b.get("latency") or rounds["b"][-1].get("latency")
    if lat:
        rows += [
            (
                "(c) intake latency, 1 record/call",
                f"{lat['completed']}/{lat['requests']} ok, {lat['errors']} errors,"
                f" {lat['achieved_rps']:.0f} req/s achieved",
            ),
            (
                "(c) p50 / p95 / p99 / max",
                f"{lat['p50']:.1f} / {lat['p95']:.1f} / {lat['p99']:.1f} / {lat['max']:.1f} ms",
            ),
            ("(c) worst pacing lag", f"{lat['max_lag_ms']:.1f} ms"),
        ]
        if lat["first_error"]:
            rows.append(("(c) first error", lat["first_error"]))
    rows.append(
        ("dramatiq 'returned a value' warnings", f"{_CountResultWarnings.count:,} (suppressed)")
    )
    width = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    for name, stats in (("(a)", stats_a), ("(b)", stats_b)):
        busiest = sorted(stats.items(), key=lambda kv: -kv[1][1])[:6]
        print(
            f"\nredis-server time by command, {name} median round: "
            + ", ".join(f"{cmd} {calls:,} calls {us / 1e6:.2f} s" for cmd, (calls, us) in busiest)
        )
    if profile:
        print()
        print(profile)


if __name__ == "__main__":
    sys.exit(main())
