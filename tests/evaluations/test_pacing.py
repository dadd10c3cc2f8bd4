"""The background drain gives way to delivery, within bounds; readers never wait."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from gateway.config import Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.evaluations import DrainPacer, EvaluationSettings
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from gateway.testing.records import national_dossier

AGENCY = "000.00.01.H22"
NO = f"{AGENCY}-261005-0001"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _pacer(busy: list[bool], clock: Clock, *, seconds: float = 30, items: int = 100) -> DrainPacer:
    return DrainPacer(lambda: busy[0], max_lag_seconds=seconds, max_lag_items=items, clock=clock)


def test_waits_while_delivery_is_busy_and_not_when_idle() -> None:
    busy, clock = [True], Clock()
    pacer = _pacer(busy, clock)
    assert pacer.defer(0, 10)
    assert pacer.deferrals == 1
    busy[0] = False
    assert not pacer.defer(0, 10)
    assert pacer.deferrals == 1


def test_nothing_waiting_never_waits_and_resets_the_age() -> None:
    busy, clock = [True], Clock()
    pacer = _pacer(busy, clock, seconds=30)
    assert pacer.defer(0, 5)
    clock.now += 20
    assert pacer.lag_seconds() == 20
    assert not pacer.defer(5, 5)  # caught up
    assert pacer.lag_seconds() == 0
    clock.now += 20
    assert pacer.defer(5, 10), "the age restarts at the next backlog, not at the first one"


def test_the_age_bound_folds_regardless_of_delivery() -> None:
    busy, clock = [True], Clock()
    pacer = _pacer(busy, clock, seconds=30)
    assert pacer.defer(0, 5)
    clock.now += 29.9
    assert pacer.defer(0, 50)
    clock.now += 0.1
    assert not pacer.defer(0, 50)
    assert not pacer.defer(49, 50), "once behind too long, it folds until it has caught up"


def test_the_length_bound_folds_regardless_of_delivery() -> None:
    pacer = _pacer([True], Clock(), items=100)
    assert pacer.defer(0, 99)
    assert not pacer.defer(0, 100)


def test_without_a_busy_signal_it_never_waits() -> None:
    pacer = DrainPacer(None, max_lag_seconds=30, max_lag_items=100)
    assert not pacer.defer(0, 10)


def _position(g: GatewayService) -> tuple[int, int]:
    """The drain's cursor and the newest item id, as the background drain asks the pacer."""
    return g.evaluations.store.cursor(), g.evaluations.store.newest_item()


def _gateway(client: redis.Redis, settings: Settings) -> GatewayService:
    portal = FakePortal()
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    return GatewayService(settings, client, connector)


@pytest.fixture
def gateway(redis_client: redis.Redis) -> Iterator[GatewayService]:
    g = _gateway(redis_client, Settings())
    yield g
    g.close()


def test_delivering_while_due_or_in_flight(gateway: GatewayService) -> None:
    """Due work counts, and so does a live lease; an idle outbox does not."""
    assert not gateway.delivering()
    gateway.accept(Service.DOSSIER, AGENCY, [national_dossier(NO, "2")], client="prov")
    assert gateway.delivering()
    channel = "dvcqg.DongBoHoSoMC"
    claims = gateway.outbox.claim(channel, AGENCY, 10, 60_000, "t")
    assert claims
    assert not gateway.outbox.due_queues()
    assert gateway.outbox.in_flight() == 1
    assert gateway.delivering(), "a lease is a delivery in flight"


def test_an_idle_outbox_after_delivery(gateway: GatewayService) -> None:
    gateway.accept(Service.DOSSIER, AGENCY, [national_dossier(NO, "2")], client="prov")
    gateway.engines["dvcqg"].flush("dvcqg.DongBoHoSoMC", AGENCY)
    assert gateway.outbox.in_flight() == 0
    assert not gateway.delivering()


def test_a_peer_that_is_down_does_not_hold_the_fold_back(gateway: GatewayService) -> None:
    """Its work stays due while its breaker is open, and must not count as delivering."""
    gateway.accept(Service.DOSSIER, AGENCY, [national_dossier(NO, "2")], client="prov")
    breaker = gateway.breakers["dvcqg"]
    while breaker.would_allow():
        breaker.record_failure()
    assert gateway.outbox.due_queues()
    assert not gateway.delivering()


def test_readers_fold_first_whatever_the_pacing(gateway: GatewayService) -> None:
    """The pacer only paces the background thread: a feed page folds what is waiting."""
    gateway.accept(Service.DOSSIER, AGENCY, [national_dossier(NO, "2")], client="prov")
    assert gateway.delivering()
    assert gateway.evaluations.pacer.defer(*_position(gateway))
    page = gateway.evaluations.feed_page(None, 10)
    assert len(page.items) == 1
    assert gateway.evaluations.store.backlog() == 0


def test_settings_turn_the_pacing_off(redis_client: redis.Redis) -> None:
    settings = Settings(evaluations=EvaluationSettings(yield_to_delivery=False))
    g = _gateway(redis_client, settings)
    try:
        g.accept(Service.DOSSIER, AGENCY, [national_dossier(NO, "2")], client="prov")
        assert g.delivering()
        assert not g.evaluations.pacer.defer(*_position(g))
    finally:
        g.close()


def test_after_the_age_bound_the_age_is_that_of_the_oldest_item_waiting() -> None:
    """Under steady intake the drain catches up to a few items that arrived during its last
    batch, never to none: once the items that were waiting when the age started are folded,
    the age is that of the oldest left, or the pacer never waits again after its first bound
    (review)."""
    busy, clock = [True], Clock()
    pacer = _pacer(busy, clock, seconds=30, items=10_000)
    assert pacer.defer(0, 500)
    for k in range(1, 60):  # polled once an interval while waiting, 10 items arriving each
        clock.now += 0.5
        assert pacer.defer(0, 500 + 10 * k)
    clock.now += 0.5
    assert not pacer.defer(0, 1100), "the bound: fold regardless"
    clock.now += 0.1
    assert not pacer.defer(500, 1103), "folds until caught up"
    clock.now += 0.1
    # Everything that waited before is folded; the 3 left arrived during the last batch.
    assert pacer.defer(1103, 1106), "a fresh backlog waits for delivery again"
    assert pacer.lag_seconds() < 1
