"""Payment records: money is integer VND (đồng) everywhere; no model field may hold a float.

VNPay's "amount × 100" exists only in :mod:`gateway.connectors.vnpay`, at the wire. ``Vnd`` is a
strict int, so ``1.5``, ``"1000"`` and ``True`` are refused rather than coerced.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

__all__ = [
    "MAX_VND",
    "FeeLine",
    "Payment",
    "PaymentRequest",
    "PaymentStatus",
    "Provider",
    "ProviderState",
    "Vnd",
]

MAX_VND = 10**12
"""An upper bound on one payment (a trillion đồng): far above any fee, far below int64 / 100."""

Vnd = Annotated[StrictInt, Field(ge=0, le=MAX_VND)]
"""An amount in whole đồng (VND has no minor unit in use)."""

Provider = Literal["paygov", "vnpay"]


class PaymentStatus(StrEnum):
    """Where a payment stands at the gateway."""

    CREATING = "creating"
    """Claimed; the provider was (or is being) asked to create it: outcome not yet known."""
    PENDING = "pending"
    """The provider holds it; the payer has the URL; no confirmation yet."""
    PAID = "paid"
    """Confirmed by a verified callback or by a query. Final."""
    FAILED = "failed"
    """The provider answered that it was cancelled or failed. Final."""


class FeeLine(BaseModel):
    """One fee of the dossier (``PhiLePhi`` of PayGov's receipt block)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    kind: str = Field(alias="LoaiPhiLePhi", min_length=1, max_length=10)
    code: str = Field(alias="MaPhiLePhi", min_length=1, max_length=50)
    name: str = Field(alias="TenPhiLePhi", min_length=1, max_length=500)
    amount: Vnd = Field(alias="SoTien", gt=0)


class PaymentRequest(BaseModel):
    """What a provincial system asks for: pay these fees of this dossier."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    dossier_no: str = Field(alias="MaHoSo", min_length=1, max_length=100, pattern=r"^\S+$")
    agency: str = Field(min_length=1, max_length=50, pattern=r"^\S+$")
    """The agency code (``madonvi``) collecting the fees."""
    procedure: str = Field(alias="MaTTHC", min_length=1, max_length=50)
    fees: tuple[FeeLine, ...] = Field(min_length=1, max_length=50)
    payer_name: str = Field("", max_length=200)
    description: str = Field(min_length=1, max_length=255, pattern=r"^[^|\r\n]+$")
    """``ThongTinGiaoDich`` / ``vnp_OrderInfo`` (no ``|``: PayGov joins fields with it)."""
    payer_ip: str = Field("127.0.0.1", max_length=45, pattern=r"^[0-9A-Fa-f:.]+$")
    locale: Literal["vn", "en"] = "vn"

    @property
    def amount(self) -> int:
        """The total to pay, in đồng."""
        return sum(f.amount for f in self.fees)


class Payment(BaseModel):
    """One payment as the gateway holds it. Times are milliseconds since the epoch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    reference: str
    """Our order reference at the provider (``MaThamChieu``, ``vnp_TxnRef``)."""
    provider: Provider
    client: str
    dossier_no: str
    agency: str
    procedure: str
    amount: Vnd
    status: PaymentStatus
    pay_url: str | None = None
    created_at: int
    paid_at: int | None = None
    provider_txn: str | None = None
    """The provider's own transaction number (``MaGiaoDich``, ``vnp_TransactionNo``)."""
    settled_by: Literal["callback", "query"] | None = None


class ProviderState(BaseModel):
    """What a provider answered about one order reference (a query or a callback)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    found: bool
    status: PaymentStatus | None = None
    """``paid``, ``pending`` or ``failed`` when found."""
    amount: Vnd | None = None
    provider_txn: str | None = None
    pay_url: str | None = None
