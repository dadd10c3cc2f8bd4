"""The payment simulators: signed messages only, a pay page, one charge per order, a ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from gateway.connectors.paygov import INIT_FIELDS, checksum
from gateway.connectors.vnpay import secure_hash
from gateway.sandbox.base import QUERY_HEADER
from gateway.sandbox.callbacks import FLUSH_PATH, CallbackFaults
from gateway.sandbox.paygov import PayGovSimulator
from gateway.sandbox.vnpay import PAY_PATH, VnpaySimulator


def _keeping(sent: list[dict[str, Any]]) -> Callable[[dict[str, Any]], str]:
    """A ``send`` that keeps each callback in ``sent`` and answers "00"."""

    def send(body: dict[str, Any]) -> str:
        sent.append(body)
        return "00"

    return send


def _init(sim: PayGovSimulator, ref: str, amount: Any = 5000, sign: bool = True) -> dict[str, Any]:
    msg: dict[str, Any] = dict.fromkeys(INIT_FIELDS, "")
    msg.update(LoaiBanTin="INIT", MaDoiTac=sim.partner_code, MaThamChieu=ref, SoTien=amount)
    msg["MaXacThuc"] = checksum(msg, INIT_FIELDS, sim.secret if sign else "wrong")
    answer = sim.handle("POST", sim.path, {"host": "pg.test"}, orjson.dumps(msg))
    return dict(orjson.loads(answer.body))


def test_paygov_init_pay_page_and_one_charge() -> None:
    """INIT twice is one order; the page pays once; a second pay charges nothing."""
    sent: list[dict[str, Any]] = []
    sim = PayGovSimulator(send=_keeping(sent))
    assert _init(sim, "R1", sign=False)["MaLoi"] == "97"
    first = _init(sim, "R1")
    assert first["UrlThanhToan"] == "http://pg.test/pay/R1"
    assert _init(sim, "R1")["UrlThanhToan"] == first["UrlThanhToan"]
    assert _init(sim, "R2", amount=1.5)["MaLoi"] == "04"
    page = sim.handle("GET", "/pay/R1", {}, b"")
    assert b'value="pay"' in page.body
    assert b"5.000 VND" in page.body
    sim.handle("POST", "/pay/R1", {}, b"action=pay")
    sim.handle("POST", "/pay/R1", {}, b"action=pay")
    ledger = sim.ledger()
    assert ledger["orders"]["R1"]["charges"] == 1
    assert ledger["orders"]["R1"]["creations"] == 2
    assert ledger["double_charges"] == 0
    assert [c["MaThamChieu"] for c in sent] == ["R1"]


def test_delayed_callbacks_wait_for_a_flush() -> None:
    """With every callback delayed, paying sends nothing until the flush endpoint is called."""
    sent: list[dict[str, Any]] = []
    sim = PayGovSimulator(
        send=_keeping(sent),
        callback_faults=CallbackFaults(delay_rate=1.0),
    )
    _init(sim, "R1")
    sim.handle("POST", "/pay/R1", {}, b"action=pay")
    assert sent == []
    assert orjson.loads(sim.handle("POST", FLUSH_PATH, {}, b"").body) == {"sent": 1}
    assert len(sent) == 1


def test_vnpay_refuses_a_bad_signature_and_redirects_after_paying() -> None:
    """The landing checks vnp_SecureHash; paying redirects to vnp_ReturnUrl and sends the IPN."""
    sent: list[dict[str, Any]] = []
    sim = VnpaySimulator(send=_keeping(sent))
    params = {
        "vnp_TmnCode": sim.tmn_code,
        "vnp_Amount": "500000",
        "vnp_TxnRef": "R1",
        "vnp_ReturnUrl": "http://gw.test/payments/vnpay/return",
    }
    from urllib.parse import urlencode

    bad = urlencode({**params, "vnp_SecureHash": "0" * 128})
    assert sim.handle("GET", PAY_PATH, {QUERY_HEADER: bad}, b"").status == 400
    good = urlencode({**params, "vnp_SecureHash": secure_hash(params, sim.secret)})
    assert sim.handle("GET", PAY_PATH, {QUERY_HEADER: good}, b"").status == 200
    paid = sim.handle("POST", "/paymentv2/pay/R1", {}, b"action=pay")
    assert paid.status == 302
    assert dict(paid.headers)["Location"] == params["vnp_ReturnUrl"]
    (ipn,) = sent
    assert ipn["vnp_Amount"] == "500000"
    assert ipn["vnp_SecureHash"] == secure_hash(ipn, sim.secret)
    assert sim.ledger()["charges"] == 1
