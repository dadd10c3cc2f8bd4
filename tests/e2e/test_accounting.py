"""Accounting, Jepsen total-queue style: every accepted record reaches the strict, faulty sandbox
portal exactly once, newest state last, or is dead-lettered (and there must be none).

Dossiers go through their life cycles (received → processing → finished → returned, a step
after each state) through the DVCQG-compatible intake, with some pushes repeated verbatim, while
the portal answers 503s, 500s (generic -1), applied-then-timeouts, applied-then-drops, slow
calls, expired sessions, and "đã tồn tại" with a success code. Workers are driven to completion
on a settable clock (retry backoff costs no real time). Then the checker counts lost,
duplicated, stale and dead-lettered records from the portal's ledger: all must be zero, and the
ledger must show that every fault happened.
"""

from __future__ import annotations

import copy
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
import redis
from pydantic import SecretStr

from gateway.api import create_app
from gateway.config import ClientConfig, IntakeSettings, Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.pipeline.engine import EngineSettings
from gateway.pipeline.retry import RetryPolicy
from gateway.sandbox import (
    AcceptedLog,
    DeadItem,
    Faults,
    PortalReport,
    SandboxPortal,
    WebhookReceiver,
    WebhookReport,
    check_portal,
    check_webhooks,
    life_cycle,
)
from gateway.service import GatewayService
from gateway.testing.records import Clock

AGENCY = "000.00.01.H22"
DOSSIERS = 80
BATCH = 3  # small batches: many portal calls, so every fault shows up in a short run
SEED = 6
REPEAT_SHARE = 0.1
FAULTS = Faults(
    unavailable_rate=0.15,
    error_rate=0.03,
    timeout_rate=0.04,
    drop_rate=0.04,
    latency=0.0005,
    latency_rate=0.05,
    seed=SEED,
)
REAL_SECONDS = 300  # a bound on a stuck run, not a wait: alone the run takes ~35 s


@dataclass
class Intake:
    """The gateway's DVCQG-compatible intake, called in-process over ASGI."""

    app: Any
    books: AcceptedLog = field(default_factory=AcceptedLog)

    def _post(self, url: str, body: dict[str, Any]) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=("127.0.0.1", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as c:
                return await c.post(url, json=body)

        return anyio.run(go)

    def push(self, service: str, records: list[dict[str, Any]]) -> None:
        """One call; what the gateway says it accepted goes into the books."""
        login = self._post("/dvcqg/auth", {"username": "prov", "password": "prov-pass"})
        session = login.json()["session"]
        body = {"session": session, "madonvi": AGENCY, "service": service, "data": records}
        if service == "DongBoHoSoMC":
            body["isUpdating"] = "False"
        reply = self._post("/dvcqg/integration", body)
        assert reply.status_code == 200, reply.text
        # Every record pushed here is valid and in order: none may be refused.
        assert self.books.note(service, records, reply.json()["result"]) == 0, reply.text


def pending(service: GatewayService) -> int:
    """Subjects ready or leased on any channel."""
    return sum(k["ready"] + k["in_flight"] for k in service.outbox.depth().values())


def drive(service: GatewayService, clock: Clock, deadline: float) -> None:
    """Run the workers' loop until nothing is ready or leased: sweep, flush due queues, and move
    the clock on when only future retries remain. No sleeps: backoff is clock time."""
    while time.monotonic() < deadline:
        due = service.sweep()
        for svc, agency in sorted(due):
            service.flush(svc, agency)
        if not pending(service):
            return
        if not due:
            clock.advance(15)


# Only the faults that leave no doubt (nothing applied), on the portal today's core was written
# for: proves the harness, the drive loop and the checker can all reach zero.
HARNESS_FAULTS = Faults(unavailable_rate=0.15, error_rate=0.03, latency=0.0005, latency_rate=0.05)


@pytest.fixture
def portal(request: pytest.FixtureRequest) -> SandboxPortal:
    profile, faults = getattr(request, "param", ("strict", FAULTS))
    return SandboxPortal(profile, faults=faults, session_calls=40)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver(clock: Clock) -> WebhookReceiver:
    """The provincial system's webhook receiver, itself faulty: 503s, timeouts after keeping the
    event, dropped connections after keeping it."""
    faults = Faults(unavailable_rate=0.1, timeout_rate=0.05, drop_rate=0.05, seed=SEED)
    return WebhookReceiver(faults=faults, clock=clock)


@pytest.fixture
def service(
    redis_client: redis.Redis, portal: SandboxPortal, clock: Clock, receiver: WebhookReceiver
) -> Iterator[GatewayService]:
    secrets = receiver.add_client("prov")
    settings = Settings(
        namespace="acct",
        clients=(
            ClientConfig(
                id="prov",
                api_key="prov-key",
                username="prov",
                password="prov-pass",
                agencies=frozenset({AGENCY}),
                webhook_url="http://hooks.test/hooks/prov",
                webhook_secrets=tuple(SecretStr(x) for x in secrets),
            ),
        ),
        intake=IntakeSettings(max_records_per_call=20, session_ttl_seconds=24 * 3600 * 30),
        # Every fault is transient: a correct pipeline never runs out of attempts here.
        retry=RetryPolicy(initial=1, cap=60, budget=10 * 24 * 3600, max_attempts=200),
        engine=EngineSettings(batch_size=BATCH),
    )
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test", batch_size=BATCH),
        transport=portal.transport(),
    )
    gateway = GatewayService(
        settings, redis_client, connector, clock=clock, webhook_transport=receiver.transport()
    )
    yield gateway
    gateway.close()


def dead_items(service: GatewayService) -> list[DeadItem]:
    """The gateway's dead letters, as the checker takes them."""
    return [
        DeadItem("state" if d.channel == Service.DOSSIER.value else "step", d.subject, d.record)
        for d in service.deadletters.iter_matching()
    ]


def webhook_report(
    service: GatewayService, intake: Intake, receiver: WebhookReceiver
) -> WebhookReport:
    """Every delivered or dead-lettered record's event, checked against the receiver's ledger."""
    expected: list[tuple[str, str]] = []
    for delivery_id in sorted(intake.books.delivery_ids):
        state = service.outbox.status(delivery_id).state.value
        if state == "delivered":
            expected.append(("delivery.delivered", delivery_id))
        elif state == "dead":
            expected.append(("delivery.dead_lettered", delivery_id))
    return check_webhooks(expected, receiver.ledger())


def run(
    service: GatewayService, portal: SandboxPortal, clock: Clock
) -> tuple[PortalReport, Intake]:
    """Push every life cycle through the intake, drive the workers to completion, check."""
    deadline = time.monotonic() + REAL_SECONDS
    rng = random.Random(SEED)
    intake = Intake(create_app(service))
    numbers = [f"{AGENCY}-251201-{i:04d}" for i in range(1, DOSSIERS + 1)]
    plans = {no: life_cycle(no) for no in numbers}
    # Eight rounds: in each, every dossier's next push, grouped by service, a few per call;
    # after each round the workers run part-way, so creates, updates and steps interleave.
    for round_no in range(8):
        batch: dict[str, list[dict[str, Any]]] = {"DongBoHoSoMC": [], "CapNhatTienDoHoSoMC": []}
        for no in numbers:
            svc, record = plans[no][round_no]
            batch[svc].append(record)
        for svc, records in batch.items():
            for start in range(0, len(records), 7):
                chunk = records[start : start + 7]
                intake.push(svc, chunk)
                if rng.random() < REPEAT_SHARE:
                    intake.push(svc, copy.deepcopy(chunk))  # repeated verbatim
        for svc, agency in sorted(service.sweep()):
            service.flush(svc, agency)
    drive(service, clock, deadline)

    dead = dead_items(service)
    report = check_portal(intake.books.dossiers(), portal.ledger(), dead)
    reasons = Counter(d.reason for d in service.deadletters.iter_matching())
    # Shown when the test fails: what went wrong and what the portal saw.
    print("portal:", dict(portal.outcomes), "logins:", portal.logins, "dead:", dict(reasons))
    print(report)
    assert intake.books.records == DOSSIERS * 8
    return report, intake


def assert_exact(report: PortalReport) -> None:
    """The four counts are zero and every record arrived."""
    assert (report.lost, report.duplicated, report.stale, report.dead_lettered) == (0, 0, 0, 0), (
        str(report)
    )
    assert report.unexpected == 0, str(report)
    assert report.delivered == DOSSIERS * 5  # the newest state and four steps per dossier


def test_nothing_lost_duplicated_stale_or_dead_lettered(
    service: GatewayService, portal: SandboxPortal, clock: Clock, receiver: WebhookReceiver
) -> None:
    """The four counts are zero against the strict portal, and every fault occurred; every
    webhook event arrived, and a repeat only ever carried the same webhook-id."""
    report, intake = run(service, portal, clock)
    outcomes = portal.outcomes
    for fault in ("unavailable", "error", "timeout", "drop", "delayed", "session_expired"):
        assert outcomes[fault] > 0, f"fault {fault} never happened: {dict(outcomes)}"
    assert outcomes["exists"] > 0, "no create of a held dossier was ever answered"
    assert_exact(report)
    assert pending(service) == 0, "work left undelivered at the deadline"
    hooks = webhook_report(service, intake, receiver)
    print(hooks, dict(receiver.outcomes))
    assert (hooks.lost, hooks.duplicated, hooks.unexpected) == (0, 0, 0), str(hooks)
    assert hooks.delivered >= DOSSIERS * 5  # the newest state and every step, at least
    assert receiver.bad_signatures == 0
    for fault in ("unavailable", "timeout", "drop"):
        assert receiver.outcomes[fault] > 0, f"webhook fault {fault} never happened"
    assert hooks.redelivered > 0, "no event was ever delivered twice: the faults proved nothing"


@pytest.mark.parametrize("portal", [("lenient", HARNESS_FAULTS)], indirect=True)
def test_the_harness_reaches_zero_on_the_lenient_portal(
    service: GatewayService, portal: SandboxPortal, clock: Clock
) -> None:
    """Against the lenient portal with faults that apply nothing (where even the core before
    the channel rewrite was exact), the intake, drive loop and checker reach zero: a failure of
    the strict test is the core's, not the harness's."""
    report, _ = run(service, portal, clock)
    for fault in ("unavailable", "error", "delayed", "session_expired"):
        assert portal.outcomes[fault] > 0, f"fault {fault} never happened"
    assert_exact(report)
