"""The national payment platform (PayGov), message version 1.0.6 (national-formats.md §4.1).

One JSON endpoint; the message type is ``LoaiBanTin``: ``INIT`` (create a payment; the answer
carries the payment URL), ``QUERY`` (status), ``GET_BILL`` (the receipt), and the platform's
``confirm`` callback to us. ``MaXacThuc`` is the lower-case hex SHA-256 of the message's fields,
in the published order, joined with ``|``, then ``|`` and the shared secret (a plain hash, not an
HMAC: that is the platform's rule). Every check compares in constant time.

Not public, so configurable (README, *Uncertain points*): the endpoint path, the ``TrangThaiGD``
values, the ``MaLoi`` codes of our confirm answers and of a QUERY for an unknown reference, the
fields hashed into our confirm answer, and where ``GET_BILL`` puts the receipt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from gateway.connectors._http import status_error, transport_error
from gateway.errors import PeerReplyError, PermanentPeerError
from gateway.mappers.paytime import format_pay_time
from gateway.schemas.payments import Payment, PaymentRequest, PaymentStatus, ProviderState

__all__ = [
    "CONFIRM_FIELDS",
    "INIT_FIELDS",
    "QUERY_FIELDS",
    "AnswerKind",
    "PayGovAnswerCodes",
    "PayGovClient",
    "PayGovConfig",
    "PayGovConfirm",
    "checksum",
]

SYSTEM = "paygov"
INIT_FIELDS = (
    "LoaiBanTin",
    "PhienBan",
    "MaDoiTac",
    "MaThamChieu",
    "SoTien",
    "LoaiHinhThanhToan",
    "MaKenhThanhToan",
    "MaThietBi",
    "NgonNgu",
    "MaTienTe",
    "MaNganHang",
    "ThongTinGiaoDich",
    "ThoiGianGD",
    "Ip",
)
QUERY_FIELDS = ("LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD")
CONFIRM_FIELDS = (
    "LoaiBanTin",
    "MaLoi",
    "MaDoiTac",
    "MaThamChieu",
    "SoTien",
    "MaTienTe",
    "MaGiaoDich",
    "MaNganHang",
    "ThoiGianGD",
    "ThongTinGiaoDich",
)
ANSWER_FIELDS = ("MaLoi", "MaDoiTac", "ThoiGianGD")
"""Hashed into our answer to a confirm (not published: our choice, the answer's own fields)."""

AnswerKind = Literal[
    "paid", "already_confirmed", "not_found", "wrong_amount", "bad_checksum", "other"
]
_MAX_REPLY = 5 * 1024 * 1024  # a receipt PDF, base64


def checksum(message: Mapping[str, Any], fields: Sequence[str], secret: str) -> str:
    """``MaXacThuc``: SHA-256 hex of the fields' values joined with ``|``, then ``|secret``."""
    joined = "|".join("" if message.get(f) is None else str(message[f]) for f in fields)
    return hashlib.sha256(f"{joined}|{secret}".encode()).hexdigest()


class PayGovAnswerCodes(BaseModel):
    """``MaLoi`` of our answers to the platform's confirm callback, per outcome."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    paid: str = "00"
    already_confirmed: str = "02"
    not_found: str = "01"
    wrong_amount: str = "04"
    bad_checksum: str = "97"
    other: str = "99"


class PayGovConfig(BaseModel):
    """``[payments.paygov]``: the platform's endpoint and our partner identity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = Field(pattern=r"^https?://")
    path: str = "/api/v1/thanhtoan"
    partner_code: str = Field(min_length=1, description="MaDoiTac")
    secret: SecretStr
    version: str = "1.0.6"
    channel_code: str = Field("", description="MaKenhThanhToan")
    device_code: str = Field("", description="MaThietBi")
    bank_code: str = Field("", description="MaNganHang")
    payee_account: str = Field("", description="the agency's account in ThongTinBienLai")
    paid_states: tuple[str, ...] = ("1",)
    failed_states: tuple[str, ...] = ("2", "3")
    not_found_codes: tuple[str, ...] = ("01",)
    bill_field: str = "FileBienLai"
    answer_codes: PayGovAnswerCodes = PayGovAnswerCodes()
    connect_timeout: float = Field(3.0, gt=0)
    read_timeout: float = Field(10.0, gt=0)

    @property
    def max_call_seconds(self) -> float:
        """The longest one call can take with these timeouts."""
        return self.connect_timeout + self.read_timeout


class PayGovConfirm(BaseModel):
    """A confirm callback whose ``MaXacThuc`` verified. ``amount`` in đồng."""

    model_config = ConfigDict(frozen=True)

    reference: str
    amount: int
    paid: bool
    provider_txn: str
    code: str


class PayGovClient:
    """Calls the platform; translates every failure into the gateway's error tree."""

    name = SYSTEM

    def __init__(
        self,
        config: PayGovConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout)
        self._http = httpx.Client(base_url=config.base_url, timeout=timeout, transport=transport)

    @property
    def _secret(self) -> str:
        return self.config.secret.get_secret_value()

    def _sign(self, message: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
        message["MaXacThuc"] = checksum(message, fields, self._secret)
        return message

    def init_message(self, payment: Payment, request: PaymentRequest) -> dict[str, Any]:
        """The signed ``INIT`` message of a payment."""
        c = self.config
        message: dict[str, Any] = {
            "LoaiBanTin": "INIT",
            "PhienBan": c.version,
            "MaDoiTac": c.partner_code,
            "MaThamChieu": payment.reference,
            "SoTien": payment.amount,
            "LoaiHinhThanhToan": "PAY",
            "MaKenhThanhToan": c.channel_code,
            "MaThietBi": c.device_code,
            "NgonNgu": "vi-VN" if request.locale == "vn" else "en-US",
            "MaTienTe": "VND",
            "MaNganHang": c.bank_code,
            "ThongTinGiaoDich": request.description,
            "ThoiGianGD": format_pay_time(self._clock()),
            "Ip": request.payer_ip,
            "ThongTinBienLai": {
                "MaDichVu": request.procedure,
                "MaTTHC": request.procedure,
                "MaDonVi": request.agency,
                "MaHoSo": request.dossier_no,
                "TaiKhoanThuHuong": c.payee_account,
                "NguoiNop": request.payer_name,
                "PhiLePhi": [f.model_dump(by_alias=True) for f in request.fees],
            },
        }
        return self._sign(message, INIT_FIELDS)

    def create(self, payment: Payment, request: PaymentRequest) -> str:
        """``INIT``: the payment URL. A timeout is ambiguous (the platform may hold it)."""
        reply = self._call("INIT", self.init_message(payment, request), writes=True)
        url = reply.get("UrlThanhToan") or reply.get("DuongDanThanhToan")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise PeerReplyError("init_without_url", system=SYSTEM, operation="INIT")
        return url

    def _short(self, kind: str, reference: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "LoaiBanTin": kind,
            "PhienBan": self.config.version,
            "MaDoiTac": self.config.partner_code,
            "MaThamChieu": reference,
            "ThoiGianGD": format_pay_time(self._clock()),
        }
        return self._sign(message, QUERY_FIELDS)

    def query(self, reference: str) -> ProviderState:
        """``QUERY``: what the platform holds for ``reference``."""
        reply = self._call("QUERY", self._short("QUERY", reference), writes=False, lookup=True)
        if reply.get("MaLoi") in self.config.not_found_codes:
            return ProviderState(found=False)
        state = str(reply.get("TrangThaiGD", ""))
        status = PaymentStatus.PENDING
        if state in self.config.paid_states:
            status = PaymentStatus.PAID
        elif state in self.config.failed_states:
            status = PaymentStatus.FAILED
        amount = reply.get("SoTien")
        url = reply.get("UrlThanhToan")
        return ProviderState(
            found=True,
            status=status,
            amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
            provider_txn=str(reply["MaGiaoDich"]) if reply.get("MaGiaoDich") else None,
            pay_url=url if isinstance(url, str) else None,
        )

    def get_bill(self, reference: str) -> bytes:
        """``GET_BILL``: the receipt (PDF bytes)."""
        reply = self._call("GET_BILL", self._short("GET_BILL", reference), writes=False)
        raw = reply.get(self.config.bill_field)
        try:
            return base64.b64decode(str(raw), validate=True) if raw else b""
        except (binascii.Error, ValueError):
            raise PeerReplyError("bill_not_base64", system=SYSTEM, operation="GET_BILL") from None

    def _call(
        self, operation: str, message: dict[str, Any], *, writes: bool, lookup: bool = False
    ) -> dict[str, Any]:
        try:
            response = self._http.post(
                self.config.path,
                content=orjson.dumps(message),
                headers={"Content-Type": "application/json"},
            )
        except httpx.TransportError as exc:
            raise transport_error(exc, system=SYSTEM, operation=operation, writes=writes) from exc
        failure = status_error(response, system=SYSTEM, operation=operation, writes=writes)
        if failure is not None:
            raise failure
        if len(response.content) > _MAX_REPLY:
            raise PeerReplyError("reply_too_large", system=SYSTEM, operation=operation)
        try:
            reply = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise PeerReplyError("reply_not_json", system=SYSTEM, operation=operation) from None
        if not isinstance(reply, dict):
            raise PeerReplyError("reply_not_object", system=SYSTEM, operation=operation)
        code = str(reply.get("MaLoi", ""))
        if code != "00" and not (lookup and code in self.config.not_found_codes):
            raise PermanentPeerError(
                "refused", system=SYSTEM, operation=operation, peer_code=code or None
            )
        return reply

    # -- the confirm callback ------------------------------------------------------------------

    def verify_confirm(self, body: Mapping[str, Any]) -> PayGovConfirm | None:
        """The confirm callback if its ``MaXacThuc`` and partner are right, else ``None``."""
        given = body.get("MaXacThuc")
        if not isinstance(given, str):
            return None
        expected = checksum(body, CONFIRM_FIELDS, self._secret)
        if not hmac.compare_digest(expected.encode(), given.lower().encode()):
            return None
        amount = body.get("SoTien")
        if body.get("MaDoiTac") != self.config.partner_code or body.get("LoaiBanTin") is None:
            return None
        if isinstance(amount, bool) or not isinstance(amount, int | str):
            return None
        text = str(amount)
        if not text.isdigit():
            return None
        return PayGovConfirm(
            reference=str(body.get("MaThamChieu", "")),
            amount=int(text),
            paid=body.get("MaLoi") == "00",
            provider_txn=str(body.get("MaGiaoDich", "")),
            code=str(body.get("MaLoi", "")),
        )

    def answer(self, kind: AnswerKind) -> dict[str, Any]:
        """Our signed answer to a confirm callback, in the platform's codes."""
        code = getattr(self.config.answer_codes, kind)
        message: dict[str, Any] = {
            "MaLoi": code,
            "MoTaLoi": kind,
            "MaDoiTac": self.config.partner_code,
            "ThoiGianGD": format_pay_time(self._clock()),
        }
        return self._sign(message, ANSWER_FIELDS)

    @property
    def is_closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._http.is_closed

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()
