"""VNPay, version 2.1.0 (national-formats.md §4.2): a signed redirect URL, the IPN, ``querydr``.

``vnp_SecureHash`` is the lower-case hex HMAC-SHA512, keyed with the secret, of the query string
of every ``vnp_*`` parameter except the hash fields, keys sorted ascending, values form-encoded
(space as ``+``). Amounts are đồng × 100 on the wire and only here (:func:`to_wire`,
:func:`from_wire`). Creating a payment calls nobody: the signed URL is the payment.

``querydr`` is not in §4.2; it follows VNPay's published merchant API (a JSON ``POST`` whose
hash is HMAC-SHA512 of ``|``-joined fields in a fixed order, the reply signed the same way).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from gateway.connectors._http import status_error, transport_error
from gateway.errors import PeerReplyError, PermanentPeerError
from gateway.mappers.paytime import format_pay_time
from gateway.schemas.payments import Payment, PaymentRequest, PaymentStatus, ProviderState

__all__ = [
    "QUERY_FIELDS",
    "QUERY_REPLY_FIELDS",
    "RspCode",
    "VnpayClient",
    "VnpayConfig",
    "VnpayNotice",
    "from_wire",
    "secure_hash",
    "to_wire",
]

SYSTEM = "vnpay"
HASH_FIELDS = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})
QUERY_FIELDS = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_TransactionDate",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
)
QUERY_REPLY_FIELDS = (
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
    "vnp_PromotionCode",
    "vnp_PromotionAmount",
)

RspCode = Literal["00", "01", "02", "04", "97", "99"]
"""Our IPN answers: confirmed, order not found, already confirmed, wrong amount, bad checksum,
other."""


def to_wire(amount: int) -> str:
    """``vnp_Amount`` of an amount in đồng."""
    return str(amount * 100)


def from_wire(value: str) -> int | None:
    """Đồng from a ``vnp_Amount``; ``None`` unless it is whole đồng × 100."""
    if not value.isdigit() or len(value) > 16 or int(value) % 100:
        return None
    return int(value) // 100


def secure_hash(params: Mapping[str, str], secret: str) -> str:
    """``vnp_SecureHash`` of a parameter set (hash fields and non-``vnp_`` keys ignored)."""
    pairs = sorted(
        (k, v) for k, v in params.items() if k.startswith("vnp_") and k not in HASH_FIELDS
    )
    data = urlencode(pairs)  # quote_plus: space as '+'
    return hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()


def _pipe_hash(values: Mapping[str, Any], fields: tuple[str, ...], secret: str) -> str:
    data = "|".join("" if values.get(f) is None else str(values[f]) for f in fields)
    return hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()


class VnpayConfig(BaseModel):
    """``[payments.vnpay]``: the merchant's terminal and VNPay's two URLs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pay_url: str = Field(pattern=r"^https?://")
    api_url: str = Field(pattern=r"^https?://")
    tmn_code: str = Field(min_length=1, max_length=8)
    secret: SecretStr
    return_url: str = Field(pattern=r"^https?://")
    """The browser comes back here (``/payments/vnpay/return`` of this gateway)."""
    version: str = "2.1.0"
    order_type: str = "other"
    expire_minutes: int = Field(15, ge=1, le=24 * 60)
    connect_timeout: float = Field(3.0, gt=0)
    read_timeout: float = Field(10.0, gt=0)

    @property
    def max_call_seconds(self) -> float:
        """The longest one call can take with these timeouts."""
        return self.connect_timeout + self.read_timeout


class VnpayNotice(BaseModel):
    """An IPN (or return) whose hash verified; ``amount`` in đồng, ``None`` if malformed."""

    model_config = ConfigDict(frozen=True)

    reference: str
    amount: int | None
    paid: bool
    provider_txn: str


class VnpayClient:
    """Signs payment URLs, verifies IPNs and asks ``querydr``; failures in the error tree."""

    name = SYSTEM

    def __init__(
        self,
        config: VnpayConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout)
        self._http = httpx.Client(timeout=timeout, transport=transport)

    @property
    def _secret(self) -> str:
        return self.config.secret.get_secret_value()

    def create(self, payment: Payment, request: PaymentRequest) -> str:
        """The signed payment URL (no call out: nothing can time out)."""
        c = self.config
        created = payment.created_at / 1000
        params = {
            "vnp_Version": c.version,
            "vnp_Command": "pay",
            "vnp_TmnCode": c.tmn_code,
            "vnp_Amount": to_wire(payment.amount),
            "vnp_CreateDate": format_pay_time(created),
            "vnp_ExpireDate": format_pay_time(created + c.expire_minutes * 60),
            "vnp_CurrCode": "VND",
            "vnp_IpAddr": request.payer_ip,
            "vnp_Locale": request.locale,
            "vnp_OrderInfo": request.description,
            "vnp_OrderType": c.order_type,
            "vnp_ReturnUrl": c.return_url,
            "vnp_TxnRef": payment.reference,
        }
        query = urlencode(sorted(params.items()))
        return f"{c.pay_url}?{query}&vnp_SecureHash={secure_hash(params, self._secret)}"

    def verify(self, params: Mapping[str, str]) -> VnpayNotice | None:
        """The IPN or return parameters if the hash and terminal are right, else ``None``."""
        given = params.get("vnp_SecureHash", "")
        expected = secure_hash(params, self._secret)
        if not hmac.compare_digest(expected.encode(), given.lower().encode()):
            return None
        if params.get("vnp_TmnCode") != self.config.tmn_code:
            return None
        return VnpayNotice(
            reference=params.get("vnp_TxnRef", ""),
            amount=from_wire(params.get("vnp_Amount", "")),
            paid=params.get("vnp_ResponseCode") == "00"
            and params.get("vnp_TransactionStatus") == "00",
            provider_txn=params.get("vnp_TransactionNo", ""),
        )

    def query(self, reference: str, created_at_ms: int) -> ProviderState:
        """``querydr``: what VNPay holds for ``reference`` (created at ``created_at_ms``)."""
        c = self.config
        body: dict[str, Any] = {
            "vnp_RequestId": secrets.token_hex(16),
            "vnp_Version": c.version,
            "vnp_Command": "querydr",
            "vnp_TmnCode": c.tmn_code,
            "vnp_TxnRef": reference,
            "vnp_TransactionDate": format_pay_time(created_at_ms / 1000),
            "vnp_CreateDate": format_pay_time(self._clock()),
            "vnp_IpAddr": "127.0.0.1",
            "vnp_OrderInfo": f"querydr {reference}",
        }
        body["vnp_SecureHash"] = _pipe_hash(body, QUERY_FIELDS, self._secret)
        try:
            response = self._http.post(
                c.api_url, content=orjson.dumps(body), headers={"Content-Type": "application/json"}
            )
        except httpx.TransportError as exc:
            raise transport_error(exc, system=SYSTEM, operation="querydr", writes=False) from exc
        failure = status_error(response, system=SYSTEM, operation="querydr", writes=False)
        if failure is not None:
            raise failure
        try:
            reply = orjson.loads(response.content[: 1024 * 1024])
        except orjson.JSONDecodeError:
            raise PeerReplyError("reply_not_json", system=SYSTEM, operation="querydr") from None
        if not isinstance(reply, dict):
            raise PeerReplyError("reply_not_object", system=SYSTEM, operation="querydr")
        expected = _pipe_hash(reply, QUERY_REPLY_FIELDS, self._secret)
        if not hmac.compare_digest(
            expected.encode(), str(reply.get("vnp_SecureHash", "")).encode()
        ):
            raise PeerReplyError("reply_checksum", system=SYSTEM, operation="querydr")
        code = str(reply.get("vnp_ResponseCode", ""))
        if code == "91":  # transaction not found
            return ProviderState(found=False)
        if code != "00":
            raise PermanentPeerError("refused", system=SYSTEM, operation="querydr", peer_code=code)
        state = str(reply.get("vnp_TransactionStatus", ""))
        status = {"00": PaymentStatus.PAID, "01": PaymentStatus.PENDING}.get(
            state, PaymentStatus.FAILED
        )
        return ProviderState(
            found=True,
            status=status,
            amount=from_wire(str(reply.get("vnp_Amount", ""))),
            provider_txn=str(reply.get("vnp_TransactionNo") or "") or None,
        )

    @property
    def is_closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._http.is_closed

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()
