"""Races and edge cases found in review: each test holds a fix of the exactly-once/order rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.pipeline.deadletters import DeadLetters
from gateway.pipeline.engine import EngineSettings
from gateway.pipeline.outbox import DeliveryState
from gateway.pipeline.retry import RetryPolicy
from gateway.testing.fake_portal import FakePortal
from gateway.testing.pipeline import accept_records, build_pipeline
from gateway.testing.records import AGENCY, Clock
from gateway.testing.records import national_dossier as dossier
from gateway.testing.records import national_step as step

D1, D2 = "000.00.01.H22-250101-0001", "000.00.01.H22-250101-0002"
P = Service.PROGRESS


class Rig:
    """Outbox, engine, dead letters and a fake portal on a settable clock."""

    def __init__(self, client: redis.Redis, **connector: Any) -> None:
        self.portal = FakePortal()
        self.clock = Clock()
        self.connector = DvcqgConnector(
            self.portal.connector_config("http://portal.test", **connector),
            transport=self.portal.transport(),
        )
        self.outbox, self.engine = build_pipeline(
            client,
            self.connector,
            namespace="r",
            clock=self.clock,
            policy=RetryPolicy(initial=1, cap=60, budget=600, max_attempts=2),
            trigger=lambda s, a, d: None,
            settings=EngineSettings(batch_size=10, lease_seconds=30),
            rng=lambda lo, hi: hi,
        )
        self.deadletters = DeadLetters(self.outbox)

    def accept(self, service: Service, *records: Any) -> list[Any]:
        return accept_records(self.outbox, service, AGENCY, list(records), client="t")

    def state(self, delivery_id: str | None) -> DeliveryState:
        return self.outbox.status(delivery_id or "").state

    def times(self, no: str = D1) -> list[str]:
        return [s["ThoiDiemXuLy"] for s in self.portal.steps(no)]


@pytest.fixture
def rig(redis_client: redis.Redis) -> Iterator[Rig]:
    r = Rig(redis_client)
    yield r
    r.connector.close()


@pytest.fixture
def rig1(redis_client: redis.Redis) -> Iterator[Rig]:
    """A portal that takes one record per call."""
    r = Rig(redis_client, batch_size=1)
    yield r
    r.connector.close()


def test_rejected_record_in_a_small_call_batch_does_not_repeat_its_neighbour(rig1: Rig) -> None:
    """One send is one portal call: a refusal of D2's step cannot make D1's go twice."""
    rig1.accept(Service.DOSSIER, dossier(D1), dossier(D2))
    rig1.engine.flush(Service.DOSSIER, AGENCY)
    rig1.portal.reject(D2)
    rig1.accept(P, step("20250102090000", no=D1), step("20250102090000", no=D2))
    rig1.engine.flush(P, AGENCY)
    assert rig1.times(D1) == ["20250102090000"]


def test_failure_after_a_delivered_call_does_not_resend_it(rig1: Rig) -> None:
    """A 503 on the second step does not send the first again: order and count are kept."""
    rig1.accept(Service.DOSSIER, dossier(D1))
    rig1.engine.flush(Service.DOSSIER, AGENCY)
    rig1.accept(P, step("20250102090000"), step("20250103090000"))
    calls = {"n": 0}

    def second_call_fails(call: Any) -> None:
        if call.service == "CapNhatTienDoHoSoMC":
            calls["n"] += 1
            if calls["n"] == 1:
                rig1.portal.fail_next(1, status=503)

    rig1.portal.on_call = second_call_fails
    rig1.engine.flush(P, AGENCY)
    rig1.portal.on_call = None
    rig1.clock.advance(5)
    rig1.engine.flush(P, AGENCY)
    assert rig1.times() == ["20250102090000", "20250103090000"]


def test_replayed_dead_step_is_looked_up_before_it_is_sent(rig: Rig) -> None:
    """A step that died after an ambiguous send (the portal has it) is not appended on replay."""
    rig.accept(Service.DOSSIER, dossier(D1))
    rig.engine.flush(Service.DOSSIER, AGENCY)
    [out] = rig.accept(P, step("20250102090000"))
    rig.portal.drop_next(1)
    rig.engine.flush(P, AGENCY)
    rig.portal.fail_next(1, status=503)  # the look-up fails: the budget (2 attempts) is spent
    rig.clock.advance(5)
    rig.engine.flush(P, AGENCY)
    assert rig.state(out.delivery_id) is DeliveryState.DEAD
    assert rig.deadletters.replay(out.delivery_id or "", actor="op").outcome == "queued"
    rig.engine.flush(P, AGENCY)
    assert rig.times() == ["20250102090000"]
    assert rig.state(out.delivery_id) is DeliveryState.DELIVERED


def _portal_status(rig: Rig, no: str) -> object:
    """The status the portal holds for dossier ``no`` (which it must hold)."""
    record = rig.portal.dossier(no)
    assert record is not None
    return record["TrangThaiHoSo"]


def test_late_send_of_an_older_state_is_followed_by_the_newest(rig: Rig) -> None:
    """A hung worker's late, older state is overwritten: the portal ends on the newest one."""
    rig.accept(Service.DOSSIER, dossier(status="2"))
    [hung] = rig.outbox.claim(Service.DOSSIER, AGENCY, 10, 30_000, "w1")
    rig.clock.advance(31)
    rig.engine.sweep()
    rig.accept(Service.DOSSIER, dossier(status="4"))
    rig.engine.flush(Service.DOSSIER, AGENCY)
    assert _portal_status(rig, D1) == "4"
    rig.connector.push("DongBoHoSoMC", AGENCY, rig.outbox.bodies(list(hung.ids)), updating=True)
    rig.outbox.complete(Service.DOSSIER, AGENCY, "w1", [(hung.subject, hung.ids)])
    rig.engine.flush(Service.DOSSIER, AGENCY)
    assert _portal_status(rig, D1) == "4"


def test_stale_worker_cannot_bury_or_reschedule_a_delivered_step(rig: Rig) -> None:
    """A worker whose lease lapsed cannot dead-letter or reschedule what another delivered."""
    rig.accept(Service.DOSSIER, dossier(D1))
    rig.engine.flush(Service.DOSSIER, AGENCY)
    [out] = rig.accept(P, step("20250102090000"))
    [hung] = rig.outbox.claim(P, AGENCY, 10, 30_000, "w1")
    rig.clock.advance(31)
    rig.engine.sweep()
    assert rig.engine.flush(P, AGENCY) == 1
    items = [(hung.subject, hung.ids)]
    rig.outbox.dead_letter(P, AGENCY, "w1", items, peer="dvcqg", reason="x", message="late")
    rig.outbox.reschedule(
        P, AGENCY, "w1", items, next_at_ms=rig.outbox.now_ms(), error="late", ambiguous=False
    )
    assert rig.state(out.delivery_id) is DeliveryState.DELIVERED
    assert rig.outbox.dead_letter_count() == 0
    assert rig.times() == ["20250102090000"]


def test_isolating_a_batch_supersedes_a_replaced_state(rig: Rig) -> None:
    """A state replaced while on the wire ends superseded, not queued forever, after a split."""
    [a, _] = rig.accept(Service.DOSSIER, dossier(D1), dossier(D2))
    claims = rig.outbox.claim(Service.DOSSIER, AGENCY, 10, 30_000, "w1")
    [b] = rig.accept(Service.DOSSIER, dossier(D1, status="4"))
    rig.outbox.isolate(Service.DOSSIER, AGENCY, "w1", [(c.subject, c.ids) for c in claims])
    for _ in range(3):
        rig.engine.flush(Service.DOSSIER, AGENCY)
    assert rig.state(b.delivery_id) is DeliveryState.DELIVERED
    assert rig.state(a.delivery_id) is DeliveryState.SUPERSEDED


def test_replay_of_a_step_older_than_a_delivered_one_is_refused(rig: Rig) -> None:
    """A dead step cannot be replayed behind a later delivered step: it reports out_of_order."""
    rig.accept(Service.DOSSIER, dossier(D1))
    rig.engine.flush(Service.DOSSIER, AGENCY)
    [old] = rig.accept(P, step("20250102090000"))
    rig.portal.reject(D1)
    rig.engine.flush(P, AGENCY)
    assert rig.state(old.delivery_id) is DeliveryState.DEAD
    rig.portal.clear_faults()
    rig.accept(P, step("20250105090000"))
    rig.engine.flush(P, AGENCY)
    result = rig.deadletters.replay(old.delivery_id or "", actor="op")
    assert result.outcome == "out_of_order"
    rig.engine.flush(P, AGENCY)
    assert rig.times() == ["20250105090000"]
    assert rig.deadletters.get(old.delivery_id or "").status == "dead"


def test_ambiguity_is_cleared_once_delivery_succeeds(rig: Rig) -> None:
    """One ambiguous failure costs one look-up, not one on every later flush."""
    rig.accept(Service.DOSSIER, dossier(D1))
    rig.engine.flush(Service.DOSSIER, AGENCY)
    rig.accept(P, step("20250102090000"))
    rig.portal.fail_next(1, status=502)
    rig.engine.flush(P, AGENCY)
    rig.clock.advance(5)
    rig.engine.flush(P, AGENCY)
    for i in range(3):
        rig.accept(P, step(f"2025010{4 + i}090000"))
        rig.engine.flush(P, AGENCY)
    lookups = [c for c in rig.portal.calls if c.service == "TraCuuHoSo"]
    assert len(lookups) == 1
    assert len(rig.times()) == 4


def test_lease_shorter_than_the_slowest_send_is_refused(redis_client: redis.Redis) -> None:
    """The service will not start with a lease a slow send could outlive."""
    from gateway.config import Settings
    from gateway.errors import ConfigurationError
    from gateway.service import GatewayService

    portal = FakePortal()
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    settings = Settings(namespace="r", engine=EngineSettings(lease_seconds=60))
    with pytest.raises(ConfigurationError, match="lease_seconds"):
        GatewayService(settings, redis_client, connector)
    connector.close()
