"""Creating payments: one Idempotency-Key is one payment, whatever repeats, races or timeouts."""

from __future__ import annotations

import threading

import pytest

from gateway.errors import ContractError, IdempotencyError, TransientPeerError
from gateway.payment_settings import PaymentRoute
from gateway.sandbox.faults import Faults
from gateway.schemas.payments import PaymentStatus
from gateway.testing.records import AGENCY

from .conftest import VNPAY_AGENCY, Rig, request, settings

D1 = f"{AGENCY}-250101-0001"


def test_a_repeated_key_returns_the_same_payment_and_calls_init_once(rig: Rig) -> None:
    """Two creates with one key: one INIT, one order, the same payment and URL."""
    first = rig.payments.create("prov", "k-1", request(D1))
    again = rig.payments.create("prov", "k-1", request(D1))
    assert first.id == again.id
    assert first.pay_url == again.pay_url
    assert first.status is PaymentStatus.PENDING
    assert first.amount == 150_000
    assert rig.paygov.calls["INIT"] == 1
    assert list(rig.paygov.book.orders) == [first.reference]


def test_a_key_reused_for_another_request_is_refused(rig: Rig) -> None:
    """The same key with another amount: 422, nothing created."""
    rig.payments.create("prov", "k-1", request(D1))
    with pytest.raises(IdempotencyError) as err:
        rig.payments.create("prov", "k-1", request(D1, amount=200_000))
    assert err.value.status == 422
    assert rig.paygov.calls["INIT"] == 1


def test_concurrent_creates_with_one_key_start_one_transaction(rig: Rig) -> None:
    """Eight threads, one key: one INIT at the provider; the others get the payment or 409."""
    results: list[str] = []
    busy: list[int] = []
    start = threading.Barrier(8)

    def create() -> None:
        start.wait()
        try:
            results.append(rig.payments.create("prov", "race", request(D1)).id)
        except IdempotencyError as exc:
            busy.append(exc.status)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rig.paygov.calls["INIT"] == 1
    assert len(set(results)) == 1
    assert len(results) + len(busy) == 8
    assert set(busy) <= {409}


def test_an_init_timeout_is_resolved_by_a_query_not_a_second_init(rig: Rig) -> None:
    """INIT applied at PayGov but unanswered; the retry queries, finds it, and does not INIT."""
    rig.paygov.set_faults(Faults(timeout_rate=1.0))
    with pytest.raises(TransientPeerError) as err:
        rig.payments.create("prov", "k-t", request(D1))
    assert err.value.ambiguous
    rig.paygov.set_faults(Faults())
    payment = rig.payments.create("prov", "k-t", request(D1))
    assert rig.paygov.calls == {"INIT": 1, "QUERY": 1}
    assert rig.paygov.book.orders[payment.reference].creations == 1
    assert payment.status is PaymentStatus.PENDING
    assert payment.pay_url == rig.paygov.book.orders[payment.reference].pay_url


def test_an_init_not_sent_is_created_after_the_query_finds_nothing(rig: Rig) -> None:
    """A 503 (nothing applied): the retry queries, the provider lacks it, one INIT follows."""
    rig.paygov.set_faults(Faults(unavailable_rate=1.0))
    with pytest.raises(TransientPeerError):
        rig.payments.create("prov", "k-u", request(D1))
    rig.paygov.set_faults(Faults())
    payment = rig.payments.create("prov", "k-u", request(D1))
    assert rig.paygov.calls == {"INIT": 2, "QUERY": 1}
    assert len(rig.paygov.book.orders) == 1
    assert payment.status is PaymentStatus.PENDING


def test_provider_comes_from_configuration(rig: Rig) -> None:
    """VNPAY_AGENCY is routed to VNPay: a signed URL, no PayGov call, amount × 100 on the wire."""
    payment = rig.payments.create("prov", "k-v", request(D1, agency=VNPAY_AGENCY))
    assert payment.provider == "vnpay"
    assert payment.pay_url is not None
    assert "vnp_Amount=15000000&" in payment.pay_url
    assert rig.paygov.calls == {}


def test_no_route_is_a_contract_error(rig: Rig) -> None:
    """An agency no rule covers: refused naming the rule."""
    only = settings(routes=(PaymentRoute(provider="vnpay", agency=VNPAY_AGENCY),))
    assert only.provider_for(AGENCY, "x") is None
    assert only.provider_for(VNPAY_AGENCY, "x") == "vnpay"
    rig.payments.settings = only
    with pytest.raises(ContractError) as err:
        rig.payments.create("prov", "k-n", request(D1))
    assert err.value.violations[0].rule == "payment_provider"
