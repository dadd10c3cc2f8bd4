"""The assembled service: intake → dramatiq worker threads → fake portal, on a real Redis."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis

from gateway.config import Settings, WorkerSettings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.pipeline.broker import OPERATIONS_QUEUE, delivery_queue
from gateway.pipeline.outbox import DeliveryState
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from gateway.testing.records import AGENCY, national_dossier, national_step

QUEUE_NAME = delivery_queue("dvcqg")


@pytest.fixture
def portal() -> FakePortal:
    return FakePortal()


@pytest.fixture
def service(redis_client: redis.Redis, portal: FakePortal) -> Iterator[GatewayService]:
    settings = Settings(namespace="e2e", worker=WorkerSettings(threads=2, sweep_interval=60))
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    svc = GatewayService(settings, redis_client, connector)
    yield svc
    svc.close()


def test_workers_deliver_what_intake_accepted(service: GatewayService, portal: FakePortal) -> None:
    """Records accepted by the service are delivered by worker threads, dossier before steps."""
    workers = service.start_workers()
    numbers = [f"{AGENCY}-250101-{i:04d}" for i in range(1, 121)]
    outs = service.accept(
        Service.DOSSIER, AGENCY, [national_dossier(n) for n in numbers], client="t"
    )
    service.accept(
        Service.PROGRESS, AGENCY, [national_step("20250102080000", no=numbers[0])], client="t"
    )
    service.broker.join(QUEUE_NAME)
    workers.join()
    assert set(portal.dossiers) == set(numbers)
    assert len(portal.steps(numbers[0])) == 1
    states = {service.outbox.status(o.delivery_id or "").state for o in outs}
    assert states == {DeliveryState.DELIVERED}
    assert service.live_workers() == 1
    assert workers.alive()


def test_workers_start_without_dramatiq_warnings(
    service: GatewayService, caplog: pytest.LogCaptureFixture
) -> None:
    """One dramatiq Worker per queue: starting them logs no warning at an operator (the "same
    middleware type twice" one is expected and silenced), and each consumes only its queue."""
    with caplog.at_level(logging.WARNING, logger="dramatiq"):
        workers = service.start_workers()
    try:
        assert [r.getMessage() for r in caplog.records if r.name.startswith("dramatiq")] == []
        assert len(workers.workers) == 2
        consumed = [sorted(w.consumers) for w in workers.workers]
        # Each queue comes with dramatiq's delay queue (``.DQ``), for its retries.
        assert consumed == [
            [QUEUE_NAME, f"{QUEUE_NAME}.DQ"],
            [OPERATIONS_QUEUE, f"{OPERATIONS_QUEUE}.DQ"],
        ]
    finally:
        workers.join()


def test_one_trigger_message_per_queue_while_one_waits(service: GatewayService) -> None:
    """Many pushes to one queue before a worker runs enqueue a single flush message."""
    for i in range(1, 51):
        service.accept(
            Service.DOSSIER, AGENCY, [national_dossier(f"{AGENCY}-250101-{i:04d}")], client="t"
        )
    queue_key = f"e2e-dramatiq:{QUEUE_NAME}"
    assert service.client.llen(queue_key) == 1


def test_replayed_dead_letter_is_delivered_once(
    service: GatewayService, portal: FakePortal
) -> None:
    """A rejected dossier, fixed at the portal and replayed twice, is delivered exactly once."""
    no = f"{AGENCY}-250101-0001"
    portal.reject(no)
    [out] = service.accept(Service.DOSSIER, AGENCY, [national_dossier(no)], client="t")
    service.flush(Service.DOSSIER, AGENCY)
    assert service.outbox.status(out.delivery_id or "").state is DeliveryState.DEAD
    portal.clear_faults()
    first = service.deadletters.replay(out.delivery_id or "", actor="op")
    second = service.deadletters.replay(out.delivery_id or "", actor="op")
    assert (first.outcome, second.outcome) == ("queued", "already")
    service.flush(Service.DOSSIER, AGENCY)
    creates = [c for c in portal.calls if c.service == "DongBoHoSoMC" and c.error_code == "0"]
    assert len(creates) == 1
    assert [a["action"] for a in service.deadletters.audit()] == ["replay", "replay"]


def test_replay_jobs_have_their_own_queue(service: GatewayService) -> None:
    """A bulk replay job is one small message on the operations queue, not behind deliveries."""
    service.accept(Service.DOSSIER, AGENCY, [national_dossier()], client="t")
    job_id = service.replayjobs.start(None, actor="op", rate=10)
    assert service.client.llen(f"e2e-dramatiq:{OPERATIONS_QUEUE}") == 1
    assert service.client.llen(f"e2e-dramatiq:{QUEUE_NAME}") == 1
    assert service.replayjobs.get(job_id)["state"] == "queued"
    assert service.client.exists(f"e2e:job:{job_id}") == 1
