"""After a payment: the national record (one field changed), the webhook, stale payments."""

from __future__ import annotations

import threading

from gateway.connectors.dvcqg import Service
from gateway.payments.national import patch_state, reflect_payment
from gateway.pipeline.keys import Keys
from gateway.schemas.codes import OnlinePayment
from gateway.schemas.payments import PaymentStatus
from gateway.testing.records import AGENCY
from tests._redis import hget

from .conftest import VNPAY_AGENCY, Rig, request

D1 = f"{AGENCY}-250101-0001"
D2 = f"{VNPAY_AGENCY}-250101-0002"


def _portal_state(rig: Rig, no: str) -> dict[str, object]:
    state = rig.portal.dossier(no)
    assert state is not None
    return state


def test_a_paygov_payment_sets_duoc_thanh_toan_1_and_keeps_every_other_field(rig: Rig) -> None:
    """Paid through PayGov: the portal's dossier gets "1"; all other fields as last sent."""
    rig.dossier(D1, TrichYeuHoSo="Bản cuối", DuocThanhToanTrucTuyen="0")
    rig.deliver_all()
    before = _portal_state(rig, D1)
    p = rig.payments.create("prov", "k", request(D1))
    rig.pay_paygov(p.pay_url or "")
    rig.paygov.callbacks.flush()
    rig.deliver_all()
    after = _portal_state(rig, D1)
    assert after["DuocThanhToanTrucTuyen"] == "1"
    assert {k: v for k, v in after.items() if k != "DuocThanhToanTrucTuyen"} == {
        k: v for k, v in before.items() if k != "DuocThanhToanTrucTuyen"
    }
    assert rig.payments.store.due_after() == []


def test_a_vnpay_payment_sets_2_and_tells_the_province(rig: Rig) -> None:
    """Paid through VNPay: "2" at the portal, and one payment.paid webhook event."""
    rig.dossier(D2, agency=VNPAY_AGENCY)
    p = rig.payments.create("prov", "k", request(D2, agency=VNPAY_AGENCY))
    rig.pay_vnpay(p.pay_url or "")
    rig.vnpay.callbacks.flush()
    rig.deliver_all()
    assert _portal_state(rig, D2)["DuocThanhToanTrucTuyen"] == "2"
    events = [e for e in rig.receiver.events if e["type"] == "payment.paid"]
    assert len(events) == 1
    assert events[0]["data"]["payment_id"] == p.id
    assert events[0]["data"]["amount"] == 150_000


def test_reflecting_twice_adds_no_second_state(rig: Rig) -> None:
    """A second reflection of the same payment is a duplicate: nothing new to send."""
    rig.dossier(D1)
    assert reflect_payment(rig.gateway, D1, OnlinePayment.NATIONAL_PLATFORM) == "new"
    assert reflect_payment(rig.gateway, D1, OnlinePayment.NATIONAL_PLATFORM) == "dup"


def test_a_newer_province_state_in_between_is_never_lost(rig: Rig) -> None:
    """The patch derived from an older state conflicts; the retry patches the newer one."""
    rig.dossier(D1, TrichYeuHoSo="cũ")
    keys = Keys(rig.gateway.settings.namespace)
    sub = keys.sub(Service.DOSSIER.value, D1)
    old = hget(rig.gateway.client, sub, "last")
    assert old is not None
    rig.dossier(D1, TrichYeuHoSo="mới", status="4")  # the province's newer state arrives
    assert patch_state(rig.gateway, D1, OnlinePayment.NATIONAL_PLATFORM, old.decode()) == (
        "conflict"
    )
    assert reflect_payment(rig.gateway, D1, OnlinePayment.NATIONAL_PLATFORM) == "new"
    rig.deliver_all()
    state = _portal_state(rig, D1)
    assert state["TrichYeuHoSo"] == "mới"
    assert state["TrangThaiHoSo"] == "4"
    assert state["DuocThanhToanTrucTuyen"] == "1"


def test_concurrent_province_states_and_reflection(rig: Rig) -> None:
    """Reflection racing a stream of province states: the flag is on a state derived from one
    of them, and the last accepted state's summary is whatever was last accepted."""
    rig.dossier(D1, TrichYeuHoSo="v0")
    done = threading.Event()

    def province() -> None:
        for i in range(1, 40):
            rig.dossier(D1, TrichYeuHoSo=f"v{i}")
        done.set()

    t = threading.Thread(target=province)
    t.start()
    result = reflect_payment(rig.gateway, D1, OnlinePayment.NATIONAL_PLATFORM)
    t.join()
    assert done.is_set()
    assert result == "new"
    keys = Keys(rig.gateway.settings.namespace)
    last = hget(rig.gateway.client, keys.sub(Service.DOSSIER.value, D1), "last")
    assert last is not None
    bodies = [
        rig.gateway.client.hget(keys.rec(f"{i:012d}"), "body")
        for i in range(1, int(last.decode()) + 1)
    ]
    flagged = [b for b in bodies if b and b'"DuocThanhToanTrucTuyen":"1"' in b]
    assert len(flagged) == 1
    # The flagged state copies the province state it was derived from, which was then latest.
    assert b'"TrichYeuHoSo":"v' in flagged[0]


def test_a_missing_callback_is_settled_by_the_stale_query(rig: Rig) -> None:
    """Paid at PayGov, no callback: after stale_after_seconds the sweep queries and settles."""
    rig.dossier(D1)
    p = rig.payments.create("prov", "k", request(D1))
    rig.pay_paygov(p.pay_url or "")  # the confirm callback is never sent
    assert rig.payments.sweep().queried == 0  # not stale yet
    rig.clock.advance(601)
    report = rig.payments.sweep()
    assert (report.queried, report.settled) == (1, 1)
    payment = rig.payments.get(p.id)
    assert payment is not None
    assert payment.status is PaymentStatus.PAID
    assert payment.settled_by == "query"
    rig.deliver_all()
    assert _portal_state(rig, D1)["DuocThanhToanTrucTuyen"] == "1"


def test_a_payment_without_a_dossier_state_is_reflected_once_one_arrives(rig: Rig) -> None:
    """Paid before the province sent the dossier: the sweep reflects it after the state comes."""
    p = rig.payments.create("prov", "k", request(D1))
    rig.pay_paygov(p.pay_url or "")
    rig.paygov.callbacks.flush()
    assert rig.payments.store.due_after() == [p.id]
    rig.dossier(D1)
    assert rig.payments.sweep().reflected == 1
    rig.deliver_all()
    assert _portal_state(rig, D1)["DuocThanhToanTrucTuyen"] == "1"
    assert rig.payments.store.due_after() == []


def test_get_bill_returns_the_receipt_pdf(rig: Rig) -> None:
    """GET_BILL of a paid PayGov payment: the PDF bytes."""
    p = rig.payments.create("prov", "k", request(D1))
    rig.pay_paygov(p.pay_url or "")
    rig.paygov.callbacks.flush()
    assert rig.payments.bill(p.id).startswith(b"%PDF-")
