"""Scale-out: a separate ``gateway worker`` process delivers what another process accepted.

The intake side runs in the test process (a :class:`GatewayService` with no workers); the
delivery side is a real ``python -m gateway.cli worker`` child sharing the session's Redis and
namespace, delivering to a :class:`FakePortalServer` over loopback HTTP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from gateway.config import Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.pipeline.outbox import DeliveryState
from gateway.service import GatewayService
from gateway.testing import FakePortal, FakePortalServer
from gateway.testing.records import AGENCY, national_dossier, national_step

pytestmark = pytest.mark.network

REPO = Path(__file__).resolve().parents[1]
DELIVERY_DEADLINE = 20.0
STOP_DEADLINE = 10.0


@pytest.fixture
def portal_server() -> Iterator[FakePortalServer]:
    """A fake DVCQG portal served on a free loopback port for the worker process."""
    with FakePortalServer(FakePortal()) as server:
        yield server


@pytest.fixture
def namespace() -> str:
    """A namespace no other test (or a stale worker) shares."""
    return f"scale-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def decoy() -> FakePortal:
    """An in-process portal for the intake side's connector; it must never be called."""
    return FakePortal()


@pytest.fixture
def intake(
    redis_client: redis.Redis, namespace: str, decoy: FakePortal
) -> Iterator[GatewayService]:
    """The accepting side: same Redis and namespace as the worker, no workers of its own."""
    connector = DvcqgConnector(
        decoy.connector_config("http://decoy.invalid"), transport=decoy.transport()
    )
    svc = GatewayService(Settings(namespace=namespace), redis_client, connector)
    yield svc
    svc.close()


def _worker_env(
    redis_url: str, namespace: str, server: FakePortalServer, data_dir: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    portal = server.portal
    env.update(
        GATEWAY_REDIS_URL=redis_url,
        GATEWAY_NAMESPACE=namespace,
        GATEWAY_DATA_DIR=str(data_dir),
        GATEWAY_DVCQG__BASE_URL=server.url,
        GATEWAY_DVCQG__USERNAME=portal.username,
        GATEWAY_DVCQG__PASSWORD=portal.password,
        GATEWAY_DVCQG__DSTCODE=portal.dstcode,
        GATEWAY_WORKER__SWEEP_INTERVAL="0.2",
        GATEWAY_WORKER__THREADS="2",
    )
    return env


def _wait_for(
    what: str, done: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path
) -> None:
    """Poll ``done`` every 50 ms until it holds; fail if the worker exits or time runs out."""
    deadline = time.monotonic() + DELIVERY_DEADLINE
    pause = threading.Event()
    while not done():
        if proc.poll() is not None:
            pytest.fail(
                f"worker exited with {proc.returncode} while waiting for {what}:\n"
                + log.read_text("utf-8", errors="replace")
            )
        if time.monotonic() > deadline:
            pytest.fail(
                f"no {what} within {DELIVERY_DEADLINE:.0f} s; worker log:\n"
                + log.read_text("utf-8", errors="replace")
            )
        pause.wait(0.05)


def test_worker_process_delivers_what_another_process_accepted(
    intake: GatewayService,
    decoy: FakePortal,
    portal_server: FakePortalServer,
    redis_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    """A `gateway worker` child delivers dossiers and a step accepted here, then stops on SIGTERM.

    The child cannot be joined with ``broker.join`` from this process (its dramatiq worker and
    in-flight messages live in the child), so the test polls the portal's in-memory store and the
    outbox every 50 ms, bounded by a 20 s deadline, failing early if the child exits.
    """
    portal = portal_server.portal
    log = tmp_path / "worker.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker"],
            env=_worker_env(redis_url, namespace, portal_server, tmp_path / "data"),
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for("worker heartbeat", lambda: intake.live_workers() >= 1, proc, log)

        numbers = [f"{AGENCY}-250101-{i:04d}" for i in range(1, 6)]
        outs = intake.accept(
            Service.DOSSIER, AGENCY, [national_dossier(n) for n in numbers], client="t"
        )
        steps = intake.accept(
            Service.PROGRESS, AGENCY, [national_step("20250102080000", no=numbers[0])], client="t"
        )
        ids = [o.delivery_id or "" for o in [*outs, *steps]]
        assert all(ids)

        def delivered() -> bool:
            states = {intake.outbox.status(i).state for i in ids}
            return states == {DeliveryState.DELIVERED}

        _wait_for("delivery of every record", delivered, proc, log)

        assert set(portal.dossiers) == set(numbers)
        assert [s["ThoiDiemXuLy"] for s in portal.steps(numbers[0])] == ["20250102080000"]
        assert decoy.calls == ()

        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker ignored SIGTERM for {STOP_DEADLINE:.0f} s")
        assert code == 0, log.read_text("utf-8", errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=STOP_DEADLINE)
