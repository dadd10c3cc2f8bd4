"""VNPay's vnp_SecureHash, computed here independently from §4.2's rule; amounts × 100."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, quote_plus

from pydantic import SecretStr

from gateway.connectors.vnpay import VnpayClient, VnpayConfig, from_wire, secure_hash, to_wire
from gateway.schemas.payments import FeeLine, Payment, PaymentRequest, PaymentStatus

SECRET = "vnsecret"
CONFIG = VnpayConfig(
    pay_url="https://pay.test/paymentv2/vpcpay.html",
    api_url="https://pay.test/merchant_webapi/api/transaction",
    tmn_code="TMN1",
    secret=SecretStr(SECRET),
    return_url="https://gw.test/payments/vnpay/return",
)


def by_hand(params: dict[str, str]) -> str:
    """The rule in words: every vnp_* but the hash fields, keys ascending, form-encoded values."""
    keys = sorted(
        k
        for k in params
        if k.startswith("vnp_") and k not in {"vnp_SecureHash", "vnp_SecureHashType"}
    )
    data = "&".join(f"{quote_plus(k)}={quote_plus(params[k])}" for k in keys)
    return hmac.new(SECRET.encode(), data.encode(), hashlib.sha512).hexdigest()


def test_secure_hash_matches_the_rule_with_spaces_as_plus() -> None:
    """A value with spaces and Vietnamese letters; hash fields and other keys ignored."""
    params = {
        "vnp_TxnRef": "R1",
        "vnp_OrderInfo": "Thanh toán hồ sơ 01",
        "vnp_Amount": "15000000",
        "vnp_SecureHashType": "HmacSHA512",
        "other": "x",
    }
    assert secure_hash(params, SECRET) == by_hand(params)
    assert "Thanh+to%C3%A1n" in "&".join(f"{k}={quote_plus(v)}" for k, v in params.items())


def test_the_payment_url_is_signed_and_carries_amount_times_100() -> None:
    """The URL's own parameters verify by hand; vnp_Amount is đồng × 100; 24-hour dates."""
    request = PaymentRequest(
        dossier_no="D-1",
        agency="A",
        procedure="1.1",
        fees=(FeeLine(kind="1", code="L", name="Lệ phí", amount=123_456),),
        description="Thanh toan ho so D-1",
    )
    payment = Payment(
        id="1",
        reference="R1",
        provider="vnpay",
        client="c",
        dossier_no="D-1",
        agency="A",
        procedure="1.1",
        amount=123_456,
        status=PaymentStatus.CREATING,
        created_at=1_764_579_909_000,  # 16:05:09 in Vietnam
    )
    url = VnpayClient(CONFIG).create(payment, request)
    params = dict(parse_qsl(url.partition("?")[2]))
    assert params["vnp_Amount"] == "12345600"
    assert params["vnp_CreateDate"] == "20251201160509"
    assert params["vnp_ExpireDate"] == "20251201162009"
    assert params["vnp_Version"] == "2.1.0"
    assert params["vnp_Command"] == "pay"
    assert params["vnp_SecureHash"] == by_hand(params)


def test_ipn_verification_refuses_tampering() -> None:
    """A hand-signed IPN verifies; a changed amount, reference or code does not."""
    params = {
        "vnp_Amount": "15000000",
        "vnp_ResponseCode": "00",
        "vnp_TransactionStatus": "00",
        "vnp_TmnCode": "TMN1",
        "vnp_TxnRef": "R1",
        "vnp_TransactionNo": "1",
    }
    signed = {**params, "vnp_SecureHash": by_hand(params)}
    client = VnpayClient(CONFIG)
    notice = client.verify(signed)
    assert notice is not None
    assert (notice.amount, notice.paid) == (150_000, True)
    for field, value in (
        ("vnp_Amount", "15000100"),
        ("vnp_TxnRef", "R2"),
        ("vnp_ResponseCode", "24"),
    ):
        assert client.verify({**signed, field: value}) is None, field
    assert client.verify({**signed, "vnp_SecureHash": signed["vnp_SecureHash"].upper()}) is not None


def test_amounts_on_the_wire() -> None:
    """× 100 out, ÷ 100 in, and only whole đồng come back."""
    assert to_wire(150_000) == "15000000"
    assert from_wire("15000000") == 150_000
    assert from_wire("15000050") is None
    assert from_wire("1.5e7") is None
    assert from_wire("-100") is None
