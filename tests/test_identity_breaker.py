"""Identity look-ups take the breaker's probe with enter() and give back only their own."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import redis

from gateway.identity import IdentityService
from gateway.identity_settings import IdentitySettings
from gateway.pipeline.breaker import BreakerConfig, BreakerState
from gateway.schemas.identity import IdentityQuery
from gateway.testing.population import PopulationSimulator

QUERY = IdentityQuery(
    id_number="001090012345", full_name="Nguyễn Văn An", birth_date=date(1990, 2, 15)
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Gate(httpx.AsyncBaseTransport):
    """Holds every look-up call (not the token calls) until opened; counts those held."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.opened = asyncio.Event()
        self.held = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tracuu"):
            self.held += 1
            await self.opened.wait()
        return await self.inner.handle_async_request(request)


async def _until(condition: object) -> None:
    for _ in range(1000):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0)  # yields to the other task only; no waiting on time
    raise AssertionError("never happened")


def _state(identity: IdentityService) -> BreakerState:
    """The breaker's state, read afresh (a property mypy would otherwise narrow for good)."""
    return identity.breaker.state


def _identity(
    sim: PopulationSimulator, client: redis.Redis, gate: Gate, clock: Clock
) -> IdentityService:
    """Look-ups through ``gate``; the breaker opens at one failure, half-opens after 30 s."""
    return IdentityService.build(
        IdentitySettings(
            population=sim.config("lgsp", "http://population.test"),
            entitlements={"prov": "verify"},
            breaker=BreakerConfig(failure_threshold=1, reset_seconds=30, half_open_probes=1),
        ),
        client,
        "gw",
        transport=gate,
        breaker_clock=clock,
    )


def test_a_cancelled_look_up_let_through_while_closed_frees_no_probe(
    redis_client: redis.Redis,
) -> None:
    """B goes out while closed; the breaker opens, turns half-open and A takes the one probe;
    B is cancelled: the probe is still A's, so no third look-up gets through."""
    sim = PopulationSimulator.from_seed()
    clock = Clock()

    async def run() -> None:
        gate = Gate(sim.transport())
        identity = _identity(sim, redis_client, gate, clock)
        b = asyncio.create_task(identity.verify(QUERY, client_id="prov"))
        await _until(lambda: gate.held == 1)
        identity.breaker.record_failure()  # another look-up failed meanwhile: open
        clock.now += 30
        assert _state(identity) is BreakerState.HALF_OPEN
        a = asyncio.create_task(identity.verify(QUERY, client_id="prov"))
        await _until(lambda: gate.held == 2)
        assert not identity.breaker.would_allow()  # A holds the probe
        b.cancel()
        await asyncio.gather(b, return_exceptions=True)
        assert not identity.breaker.would_allow()  # still A's: B held none to give back
        gate.opened.set()
        answer = await a
        assert answer.outcome == "match"
        assert _state(identity) is BreakerState.CLOSED
        await identity.aclose()

    asyncio.run(run())


def test_a_cancelled_probe_is_given_back(redis_client: redis.Redis) -> None:
    """The probe's own look-up cancelled: the probe is free for the next one."""
    sim = PopulationSimulator.from_seed()
    clock = Clock()

    async def run() -> None:
        gate = Gate(sim.transport())
        identity = _identity(sim, redis_client, gate, clock)
        identity.breaker.record_failure()
        clock.now += 30
        a = asyncio.create_task(identity.verify(QUERY, client_id="prov"))
        await _until(lambda: gate.held == 1)
        assert not identity.breaker.would_allow()
        a.cancel()
        await asyncio.gather(a, return_exceptions=True)
        assert identity.breaker.would_allow()
        await identity.aclose()

    asyncio.run(run())
