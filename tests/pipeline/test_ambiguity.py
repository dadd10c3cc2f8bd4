"""Ambiguity survives partial claims, retries of the look-up, dead letters and replay; and the
per-peer breaker stops calls to a failing peer and probes it again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.pipeline.breaker import BreakerConfig, BreakerState, CircuitBreaker
from gateway.pipeline.engine import EngineSettings
from gateway.pipeline.outbox import DeliveryState
from gateway.pipeline.retry import RetryPolicy
from gateway.testing.fake_portal import FakePortal
from gateway.testing.pipeline import accept_records, build_pipeline
from gateway.testing.records import AGENCY, Clock
from gateway.testing.records import national_dossier as dossier
from gateway.testing.records import national_step as step

D0, D1 = f"{AGENCY}-250101-0001", f"{AGENCY}-250101-0002"
P = Service.PROGRESS


def _state(b: CircuitBreaker) -> BreakerState:
    # A call, not the property: mypy would narrow the property across asserts.
    return b.state


class _Monotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """A DVCQG pipeline whose portal takes ``batch`` records per call, on a settable clock."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        batch: int = 4,
        attempts: int = 10,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.portal = FakePortal()
        self.clock = Clock()
        self.connector = DvcqgConnector(
            self.portal.connector_config("http://portal.test", batch_size=batch),
            transport=self.portal.transport(),
        )
        self.triggers: list[tuple[str, str, int | None]] = []
        self.outbox, self.engine = build_pipeline(
            client,
            self.connector,
            namespace="amb",
            clock=self.clock,
            policy=RetryPolicy(initial=1, cap=5, budget=3600, max_attempts=attempts),
            trigger=lambda c, p, d: self.triggers.append((c, p, d)),
            settings=EngineSettings(batch_size=10, lease_seconds=30),
            breaker=breaker,
            rng=lambda lo, hi: hi,
        )

    def accept(self, service: Service, *records: Any) -> list[Any]:
        return accept_records(self.outbox, service, AGENCY, list(records), client="t")

    def steps(self, no: str) -> list[str]:
        return [s["ThoiDiemXuLy"] for s in self.portal.steps(no)]

    def lookups(self) -> int:
        return sum(1 for c in self.portal.calls if c.service == "TraCuuHoSo")


@pytest.fixture
def rig(redis_client: redis.Redis) -> Iterator[Rig]:
    r = Rig(redis_client)
    yield r
    r.connector.close()


def _times(n: int) -> list[str]:
    return [f"2025010{d}090000" for d in range(2, 2 + n)]


def test_partial_claim_of_ambiguous_steps_looks_up_every_one_once(rig: Rig) -> None:
    """Four steps went out on an ambiguous attempt; the next claim has room for two of them. The
    one look-up settles all four (the two claimed and the two it did not take), and the fifth
    goes out once. The old per-dossier flag let the other two go again without a look-up."""
    rig.accept(Service.DOSSIER, dossier(D0), dossier(D1))
    rig.engine.flush(Service.DOSSIER, AGENCY)
    rig.accept(P, *[step(t, no=D1) for t in _times(5)])
    rig.portal.drop_next(1)
    assert rig.engine.flush(P, AGENCY) == 0  # steps 1-4 applied, the reply lost
    raw: list[bytes] = rig.outbox.client.zrange(f"amb:items:{P.value}:{D1}", 0, -1)  # type: ignore[assignment]  # without scores zrange answers members
    ids = [i.decode() for i in raw]
    assert [rig.outbox.status(i).ambiguous for i in ids] == [True] * 4 + [False]
    # D0's steps are ahead of D1's retry in the ready set and take half the next call's room.
    rig.accept(P, step("20250102080000", no=D0), step("20250102083000", no=D0))
    rig.clock.advance(60)
    assert rig.engine.flush(P, AGENCY) == 7
    assert rig.steps(D1) == _times(5)
    assert rig.lookups() == 1
    sends = [c.dossiers for c in rig.portal.calls if c.service == "CapNhatTienDoHoSoMC"]
    # The look-up was made by a claim that held D0's two steps and only two of D1's four.
    assert sends == [(D1,) * 4, (D0, D0), (D1,)]
    assert all(rig.outbox.status(i).state is DeliveryState.DELIVERED for i in ids)
    assert rig.outbox.client.hget(f"amb:sub:{P.value}:{D1}", "amb") == b"0"


def test_ambiguous_step_dead_lettered_is_asked_about_before_its_replay(
    redis_client: redis.Redis,
) -> None:
    """A step applied on a dropped reply, whose look-up then failed until the budget ran out, is
    dead. Its replay asks the portal first, finds it there, and sends nothing again."""
    r = Rig(redis_client, attempts=2)
    r.accept(Service.DOSSIER, dossier(D1))
    r.engine.flush(Service.DOSSIER, AGENCY)
    [out] = r.accept(P, step("20250102090000", no=D1))
    r.portal.drop_next(1)
    r.engine.flush(P, AGENCY)
    r.portal.fail_next(1)  # the look-up itself fails: attempts are spent
    r.clock.advance(60)
    r.engine.flush(P, AGENCY)
    status = r.outbox.status(out.delivery_id)
    assert (status.state, status.ambiguous) == (DeliveryState.DEAD, True)
    outcome, _, _ = r.outbox.replay(out.delivery_id, actor="ops")
    assert outcome == "queued"
    assert r.engine.flush(P, AGENCY) == 1
    assert r.steps(D1) == ["20250102090000"]
    assert r.lookups() == 2
    r.connector.close()


def test_breaker_opens_skips_claims_and_probes_again(redis_client: redis.Redis) -> None:
    """Two transient failures open the breaker: flushes then call nothing and come back when it
    half-opens; the probe's success closes it and the backlog goes."""
    mono = _Monotonic()
    breaker = CircuitBreaker(
        "dvcqg", BreakerConfig(failure_threshold=2, reset_seconds=30), clock=mono
    )
    r = Rig(redis_client, breaker=breaker)
    r.accept(Service.DOSSIER, dossier(D1))
    r.portal.fail_next(2)
    for _ in range(2):
        assert r.engine.flush(Service.DOSSIER, AGENCY) == 0
        r.clock.advance(60)
    assert _state(breaker) is BreakerState.OPEN
    calls = len(r.portal.calls)
    r.triggers.clear()
    assert r.engine.flush(Service.DOSSIER, AGENCY) == 0
    assert len(r.portal.calls) == calls  # nothing claimed, nothing sent
    [(channel, _, delay)] = r.triggers
    assert channel == Service.DOSSIER
    assert delay == 30_000  # back when a probe may go
    assert r.outbox.status("000000000001").state is DeliveryState.RETRYING
    mono.now += 30
    assert _state(breaker) is BreakerState.HALF_OPEN
    assert r.engine.flush(Service.DOSSIER, AGENCY) == 1
    assert _state(breaker) is BreakerState.CLOSED
    assert r.portal.dossier(D1) is not None
    r.connector.close()


def test_permanent_refusal_keeps_the_breaker_closed(redis_client: redis.Redis) -> None:
    """A peer that refuses a record is up: refusals never open the breaker."""
    breaker = CircuitBreaker("dvcqg", BreakerConfig(failure_threshold=1))
    r = Rig(redis_client, breaker=breaker)
    r.portal.reject(D1)
    r.accept(Service.DOSSIER, dossier(D1))
    r.engine.flush(Service.DOSSIER, AGENCY)
    assert breaker.state is BreakerState.CLOSED
    assert r.outbox.dead_letter_count() == 1
    r.connector.close()
