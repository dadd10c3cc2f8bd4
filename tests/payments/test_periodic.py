"""The stale-payment sweep on the workers' sweeper, at its own interval, on the injected clock;
and the app closing the payment service on shutdown."""

from __future__ import annotations

import anyio
import httpx
import redis

from gateway.api import create_app
from gateway.payments import PaymentService
from gateway.payments.service import SWEEP_TASK
from gateway.schemas.payments import PaymentStatus
from gateway.testing.records import AGENCY

from .conftest import Rig, build_rig, request

D1 = f"{AGENCY}-250101-0001"


def _next_sweep_ms(rig: Rig) -> int:
    return int(rig.gateway.client.get(f"{rig.gateway.settings.namespace}:pay:sweep:next") or 0)


def test_the_workers_sweeper_settles_a_payment_whose_callback_never_came(rig: Rig) -> None:
    """Paid at PayGov, no callback: a tick of the workers' sweeper queries it once it is stale."""
    rig.payments.attach()
    pool = rig.sweeper()
    rig.dossier(D1)
    p = rig.payments.create("prov", "k", request(D1))
    rig.pay_paygov(p.pay_url or "")  # the confirm callback is never sent
    pool.tick()  # the first tick sweeps: nothing is stale yet
    assert rig.paygov.calls.get("QUERY", 0) == 0
    rig.clock.advance(601)
    pool.tick()
    assert rig.paygov.calls["QUERY"] == 1
    paid = rig.payments.get(p.id)
    assert paid is not None
    assert paid.status is PaymentStatus.PAID
    assert paid.settled_by == "query"
    rig.deliver_all()
    state = rig.portal.dossier(D1)
    assert state is not None
    assert state["DuocThanhToanTrucTuyen"] == "1"


def test_the_payments_sweep_keeps_its_own_interval_not_the_ticks(rig: Rig) -> None:
    """Ticks every 5 s; the payments sweep every sweep_interval_seconds (60 by default)."""
    rig.payments.attach()
    pool = rig.sweeper()
    start = rig.payments.store.now_ms()
    pool.tick()
    assert _next_sweep_ms(rig) == start + 60_000
    for _ in range(11):  # 55 s of ticks: none sweeps
        rig.clock.advance(5)
        pool.tick()
        assert _next_sweep_ms(rig) == start + 60_000
    rig.clock.advance(5)
    pool.tick()
    assert _next_sweep_ms(rig) == start + 120_000


def test_a_failing_sweep_does_not_stop_the_delivery_sweep(rig: Rig) -> None:
    """A task that raises is logged; the next tick runs it again."""
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("provider client gone")

    rig.gateway.periodic.add("broken", broken, 1.0)
    pool = rig.sweeper()
    pool.tick()
    rig.clock.advance(1)
    pool.tick()
    assert len(calls) == 2


def test_one_sweep_per_interval_across_processes(redis_client: redis.Redis) -> None:
    """Two gateway processes on one namespace: only one of them sweeps in an interval."""
    a = build_rig(redis_client, namespace="two")
    b = build_rig(redis_client, namespace="two")
    try:
        b.clock.now = a.clock.now
        assert a.payments.periodic_sweep() is not None
        assert b.payments.periodic_sweep() is None
        a.clock.advance(61)
        b.clock.advance(61)
        assert b.payments.periodic_sweep() is not None
        assert a.payments.periodic_sweep() is None
    finally:
        for r in (a, b):
            r.payments.close()
            r.gateway.close()


def test_close_detaches_the_sweep_and_closes_the_provider_clients(rig: Rig) -> None:
    rig.payments.attach()
    assert SWEEP_TASK in rig.gateway.periodic.names()
    rig.payments.close()
    assert SWEEP_TASK not in rig.gateway.periodic.names()
    assert all(g.client.is_closed for g in rig.payments.providers.values())


def test_the_app_closes_its_payment_service_on_shutdown(rig: Rig) -> None:
    """The FastAPI lifespan's shutdown closes the clients the app's PaymentService opened."""
    app = create_app(rig.gateway)
    payments = app.state.payments
    assert isinstance(payments, PaymentService)
    assert SWEEP_TASK in rig.gateway.periodic.names()

    async def serve() -> None:
        # What uvicorn does: the lifespan around the requests.
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as c:
                assert (await c.get("/health/live")).status_code == 200
            assert not any(g.client.is_closed for g in payments.providers.values())

    anyio.run(serve)
    assert all(g.client.is_closed for g in payments.providers.values())
    assert SWEEP_TASK not in rig.gateway.periodic.names()


def test_gateway_worker_attaches_the_payments_sweep(rig: Rig) -> None:
    """What ``gateway worker`` does before starting its workers: with [payments], the sweep
    is on the sweeper; closing it detaches it."""
    from gateway.cli import _attach_payments

    payments = _attach_payments(rig.gateway)
    assert isinstance(payments, PaymentService)
    assert SWEEP_TASK in rig.gateway.periodic.names()
    payments.close()
    assert SWEEP_TASK not in rig.gateway.periodic.names()


def test_a_closing_service_sweeps_no_further(rig: Rig) -> None:
    """Once close() began, a sweep queries nothing more: shutdown never waits for a long one."""
    p = rig.payments.create("prov", "k", request(D1))
    rig.pay_paygov(p.pay_url or "")
    rig.clock.advance(601)
    rig.payments.close()
    assert rig.payments.sweep().queried == 0
    assert rig.paygov.calls.get("QUERY", 0) == 0
