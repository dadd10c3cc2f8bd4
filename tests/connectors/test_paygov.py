"""PayGov's MaXacThuc, computed here independently from §4.1's rule, and the client's errors."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from pydantic import SecretStr

from gateway.connectors.paygov import PayGovClient, PayGovConfig
from gateway.errors import PermanentPeerError, TransientPeerError
from gateway.schemas.payments import FeeLine, Payment, PaymentRequest, PaymentStatus

SECRET = "s3cret"
CONFIG = PayGovConfig(
    base_url="http://paygov.test",
    partner_code="P1",
    secret=SecretStr(SECRET),
    channel_code="WEB",
    device_code="PC",
    bank_code="",
)
REQUEST = PaymentRequest(
    dossier_no="000.00.01.H22-250101-0001",
    agency="000.00.01.H22",
    procedure="1.001612",
    fees=(FeeLine(kind="1", code="LP", name="Lệ phí", amount=150_000),),
    description="Thanh toan ho so",
    payer_ip="10.0.0.7",
)
PAYMENT = Payment(
    id="000000000001",
    reference="202512010000000001",
    provider="paygov",
    client="prov",
    dossier_no=REQUEST.dossier_no,
    agency=REQUEST.agency,
    procedure=REQUEST.procedure,
    amount=150_000,
    status=PaymentStatus.CREATING,
    created_at=1_764_561_600_000,
)
# 2025-12-01 16:05:09 in Vietnam: a 12-hour clock would write 04.
CLOCK = 1_764_579_909.0


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_init_checksum_follows_the_published_field_order() -> None:
    """INIT: the fourteen fields in §4.1's order, pipe-joined, then |secret, SHA-256 hex."""
    msg = PayGovClient(CONFIG, clock=lambda: CLOCK).init_message(PAYMENT, REQUEST)
    expected = sha(
        "INIT|1.0.6|P1|202512010000000001|150000|PAY|WEB|PC|vi-VN|VND||Thanh toan ho so"
        f"|20251201160509|10.0.0.7|{SECRET}"
    )
    assert msg["MaXacThuc"] == expected
    assert msg["ThoiGianGD"] == "20251201160509"
    assert msg["SoTien"] == 150_000
    assert isinstance(msg["SoTien"], int)
    assert msg["ThongTinBienLai"]["MaHoSo"] == REQUEST.dossier_no


def test_query_and_get_bill_checksums() -> None:
    """QUERY and GET_BILL: LoaiBanTin|PhienBan|MaDoiTac|MaThamChieu|ThoiGianGD|secret."""
    seen: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        import orjson

        seen.append(orjson.loads(request.content))
        return httpx.Response(200, json={"MaLoi": "00", "TrangThaiGD": "1", "SoTien": 5})

    client = PayGovClient(CONFIG, transport=httpx.MockTransport(answer), clock=lambda: CLOCK)
    state = client.query("R1")
    assert state.status is PaymentStatus.PAID
    assert state.amount == 5
    client.get_bill("R1")
    for msg, kind in zip(seen, ("QUERY", "GET_BILL"), strict=True):
        assert msg["MaXacThuc"] == sha(f"{kind}|1.0.6|P1|R1|20251201160509|{SECRET}")


def confirm() -> dict[str, object]:
    body: dict[str, object] = {
        "LoaiBanTin": "CONFIRM",
        "MaLoi": "00",
        "MaDoiTac": "P1",
        "MaThamChieu": "R1",
        "SoTien": 150000,
        "MaTienTe": "VND",
        "MaGiaoDich": "G1",
        "MaNganHang": "VCB",
        "ThoiGianGD": "20251201160509",
        "ThongTinGiaoDich": "ok",
    }
    body["MaXacThuc"] = sha(f"CONFIRM|00|P1|R1|150000|VND|G1|VCB|20251201160509|ok|{SECRET}")
    return body


def test_a_correct_confirm_verifies_and_tampered_ones_do_not() -> None:
    """The hand-signed confirm verifies; every field changed after signing is refused."""
    client = PayGovClient(CONFIG)
    ok = client.verify_confirm(confirm())
    assert ok is not None
    assert (ok.reference, ok.amount, ok.paid) == ("R1", 150_000, True)
    for field in ("MaLoi", "MaThamChieu", "SoTien", "MaGiaoDich", "ThoiGianGD", "MaNganHang"):
        body = confirm()
        body[field] = "1" + str(body[field])
        assert client.verify_confirm(body) is None, field
    assert client.verify_confirm({**confirm(), "MaXacThuc": None}) is None
    # Right hash, another partner's message: refused too.
    other = PayGovClient(CONFIG.model_copy(update={"partner_code": "P2"}))
    assert other.verify_confirm(confirm()) is None


def test_an_init_timeout_is_ambiguous_and_a_refusal_permanent() -> None:
    """A read timeout on INIT may have created the payment; MaLoi "05" is a refusal."""

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client = PayGovClient(CONFIG, transport=httpx.MockTransport(timeout))
    with pytest.raises(TransientPeerError) as err:
        client.create(PAYMENT, REQUEST)
    assert err.value.ambiguous
    refused = PayGovClient(
        CONFIG, transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"MaLoi": "05"}))
    )
    with pytest.raises(PermanentPeerError) as perr:
        refused.create(PAYMENT, REQUEST)
    assert perr.value.peer_code == "05"
