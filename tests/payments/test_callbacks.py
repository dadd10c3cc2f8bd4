"""Callbacks settle once, in the providers' own codes; bad ones change nothing and are audited."""

from __future__ import annotations

from typing import Any

from gateway.connectors.paygov import CONFIRM_FIELDS, checksum
from gateway.connectors.vnpay import secure_hash
from gateway.schemas.payments import PaymentStatus
from gateway.testing.records import AGENCY

from .conftest import PAYGOV_SECRET, VNPAY_AGENCY, VNPAY_SECRET, Rig, request

D1 = f"{AGENCY}-250101-0001"
D2 = f"{VNPAY_AGENCY}-250101-0002"


def _confirm(rig: Rig, ref: str, **changes: Any) -> dict[str, Any]:
    """A PayGov confirm for ``ref``, signed after ``changes``."""
    body: dict[str, Any] = {
        "LoaiBanTin": "CONFIRM",
        "MaLoi": "00",
        "MaDoiTac": "P1",
        "MaThamChieu": ref,
        "SoTien": 150_000,
        "MaTienTe": "VND",
        "MaGiaoDich": "T1",
        "MaNganHang": "B",
        "ThoiGianGD": "20251201113000",
        "ThongTinGiaoDich": "x",
        **changes,
    }
    body["MaXacThuc"] = checksum(body, CONFIRM_FIELDS, PAYGOV_SECRET)
    return body


def test_paygov_confirm_settles_once_and_answers_already_confirmed_after(rig: Rig) -> None:
    """Confirm twice: "00" then "02"; one payment, paid, by callback."""
    p = rig.payments.create("prov", "k", request(D1))
    first = rig.payments.paygov_confirm(_confirm(rig, p.reference))
    second = rig.payments.paygov_confirm(_confirm(rig, p.reference))
    assert (first["MaLoi"], second["MaLoi"]) == ("00", "02")
    paid = rig.payments.get(p.id)
    assert paid is not None
    assert paid.status is PaymentStatus.PAID
    assert paid.settled_by == "callback"
    assert paid.provider_txn == "T1"


def test_paygov_answer_is_signed(rig: Rig) -> None:
    """Our answer carries MaXacThuc over MaLoi|MaDoiTac|ThoiGianGD|secret."""
    p = rig.payments.create("prov", "k", request(D1))
    answer = rig.payments.paygov_confirm(_confirm(rig, p.reference))
    joined = f"{answer['MaLoi']}|{answer['MaDoiTac']}|{answer['ThoiGianGD']}|{PAYGOV_SECRET}"
    import hashlib

    assert answer["MaXacThuc"] == hashlib.sha256(joined.encode()).hexdigest()


def test_paygov_tampered_fields_are_refused_and_audited(rig: Rig) -> None:
    """Each signed field changed after signing: "97", still pending, one audit entry each."""
    p = rig.payments.create("prov", "k", request(D1))
    good = _confirm(rig, p.reference)
    for field in CONFIRM_FIELDS:
        bad = {**good, field: f"{good[field]}9"}
        assert rig.payments.paygov_confirm(bad)["MaLoi"] == "97", field
    assert rig.payments.paygov_confirm({**good, "MaXacThuc": "0" * 64})["MaLoi"] == "97"
    payment = rig.payments.get(p.id)
    assert payment is not None
    assert payment.status is PaymentStatus.PENDING
    refused = [e for e in rig.payments.store.audit_log() if e["event"] == "callback_refused"]
    assert len(refused) == len(CONFIRM_FIELDS) + 1
    assert {e["reason"] for e in refused} == {"bad_checksum"}


def test_paygov_wrong_amount_and_unknown_order(rig: Rig) -> None:
    """Validly signed but the wrong amount: "04"; an unknown reference: "01"; nothing paid."""
    p = rig.payments.create("prov", "k", request(D1))
    assert rig.payments.paygov_confirm(_confirm(rig, p.reference, SoTien=149_999))["MaLoi"] == "04"
    assert rig.payments.paygov_confirm(_confirm(rig, "nope"))["MaLoi"] == "01"
    payment = rig.payments.get(p.id)
    assert payment is not None
    assert payment.status is PaymentStatus.PENDING


def _ipn(ref: str, amount: str = "15000000", code: str = "00") -> dict[str, str]:
    params = {
        "vnp_Amount": amount,
        "vnp_BankCode": "NCB",
        "vnp_BankTranNo": "VNP1",
        "vnp_CardType": "ATM",
        "vnp_OrderInfo": "Thanh toan",
        "vnp_PayDate": "20251201113000",
        "vnp_ResponseCode": code,
        "vnp_TmnCode": "TMN1",
        "vnp_TransactionNo": "14000001",
        "vnp_TransactionStatus": code,
        "vnp_TxnRef": ref,
    }
    return {**params, "vnp_SecureHash": secure_hash(params, VNPAY_SECRET)}


def test_vnpay_ipn_codes(rig: Rig) -> None:
    """00 confirmed, 02 already, 04 wrong amount, 97 bad hash, 01 not found."""
    p = rig.payments.create("prov", "k", request(D2, agency=VNPAY_AGENCY))
    ipn = rig.payments.vnpay_ipn
    assert ipn({**_ipn(p.reference), "vnp_Amount": "15000100"})["RspCode"] == "97"
    assert ipn(_ipn(p.reference, amount="15000100"))["RspCode"] == "04"
    assert ipn(_ipn(p.reference, amount="15000050"))["RspCode"] == "04"  # not whole dong
    assert ipn(_ipn("unknown"))["RspCode"] == "01"
    pending = rig.payments.get(p.id)
    assert pending is not None
    assert pending.status is PaymentStatus.PENDING
    assert ipn(_ipn(p.reference)) == {"RspCode": "00", "Message": "Confirm Success"}
    assert ipn(_ipn(p.reference))["RspCode"] == "02"
    paid = rig.payments.get(p.id)
    assert paid is not None
    assert paid.status is PaymentStatus.PAID


def test_vnpay_return_shows_the_outcome_but_never_settles(rig: Rig) -> None:
    """The browser's return with a "paid" outcome: shown as paid, the payment stays pending."""
    p = rig.payments.create("prov", "k", request(D2, agency=VNPAY_AGENCY))
    shown = rig.payments.vnpay_return(_ipn(p.reference))
    assert shown == {
        "verified": True,
        "outcome": "paid",
        "payment_id": p.id,
        "status": "pending",
    }
    assert rig.payments.vnpay_return({**_ipn(p.reference), "vnp_Amount": "1"})["verified"] is False
    payment = rig.payments.get(p.id)
    assert payment is not None
    assert payment.status is PaymentStatus.PENDING
    assert rig.payments.store.due_after() == []


def test_a_failed_payment_is_recorded_and_acknowledged(rig: Rig) -> None:
    """A cancelled VNPay payment: acknowledged (00), status failed, nothing reflected."""
    p = rig.payments.create("prov", "k", request(D2, agency=VNPAY_AGENCY))
    assert rig.payments.vnpay_ipn(_ipn(p.reference, code="24"))["RspCode"] == "00"
    payment = rig.payments.get(p.id)
    assert payment is not None
    assert payment.status is PaymentStatus.FAILED
    assert rig.payments.store.due_after() == []


def test_concurrent_duplicate_callbacks_record_one_payment(rig: Rig) -> None:
    """Sixteen copies of one confirm at once: exactly one "00", one settlement audit entry."""
    import threading

    p = rig.payments.create("prov", "k", request(D1))
    body = _confirm(rig, p.reference)
    codes: list[str] = []
    start = threading.Barrier(16)

    def send() -> None:
        start.wait()
        codes.append(str(rig.payments.paygov_confirm(body)["MaLoi"]))

    threads = [threading.Thread(target=send) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == ["00"] + ["02"] * 15
    settled = [e for e in rig.payments.store.audit_log() if e["event"] == "settled"]
    assert len(settled) == 1
