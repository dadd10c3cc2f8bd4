"""National packet records: ``DongBoHoSoMC`` dossiers and ``CapNhatTienDoHoSoMC`` steps.

Field names are the national ones (aliases); attributes are English. Every scalar is the wire
string (dates ``yyyyMMddHHmmss``, codes ``"1"``, amounts ``"50000"``), so a record dumps back to
exactly what the portal expects with ``to_wire()``. Validate with
``Model.model_validate(data, context=WireRules(...))`` to apply configured limits; unknown fields
are refused (a typo must not vanish silently).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from gateway.schemas.codes import (
    ApplicantType,
    Channel,
    DossierStatus,
    FeeCollection,
    FeeType,
    Flag,
    IdentifierType,
    OnlinePayment,
    ResultDelivery,
    TextBool,
)
from gateway.schemas.identifiers import check_old_id_card, check_personal_id
from gateway.schemas.wire import (
    Amount,
    Code,
    DossierNumber,
    OptText,
    Text,
    WireDate,
    _empty_to_none,
    dossier_agency,
    limited,
    rules_from,
)

__all__ = [
    "ConnectedDatabase",
    "DossierRecord",
    "NationalDocument",
    "NationalFee",
    "NationalOtherAttachment",
    "NationalResultDocument",
    "NationalSupplement",
    "OwnerIdentifier",
    "ProgressRecord",
]

OptWireDate = Annotated[WireDate | None, BeforeValidator(_empty_to_none)]
OptFlag = Annotated[Flag | None, BeforeValidator(_empty_to_none)]
Count = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,6}$")]
_DIGIT_CODE = re.compile(r"[0-9]{1,2}")


def _open_code(table: type[StrEnum]) -> Any:
    """A validator: a member of ``table``, another 1–2 digit code as text, or None for ""."""

    # A dict lookup: calling the enum costs ~30 µs per record over its four flags.
    members: dict[str, Any] = {m.value: m for m in table}

    def check(value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            member = members.get(value)
            if member is not None:
                return member
            if _DIGIT_CODE.fullmatch(value):
                # Outside today's table, forwarded as sent (the intake flags it).
                return value
        raise PydanticCustomError(
            "enum",
            "must be one of {allowed}, or another one- or two-digit code",
            {"allowed": ", ".join(m.value for m in table)},
        )

    return check


_OPEN_SCHEMA = WithJsonSchema(
    {"anyOf": [{"type": "string", "pattern": "^([0-9]{1,2})?$"}, {"type": "null"}]}
)
OptOpenFlag = Annotated[Flag | str | None, PlainValidator(_open_code(Flag)), _OPEN_SCHEMA]
"""A national "0"/"1" flag the gateway only forwards; another digit code is kept as sent."""
OptOpenPayment = Annotated[
    OnlinePayment | str | None, PlainValidator(_open_code(OnlinePayment)), _OPEN_SCHEMA
]
"""``DuocThanhToanTrucTuyen``: 0, 1, 2, or another digit code kept as sent ("3" occurs)."""
DueDate = WireDate | Literal[""] | None
"""``NgayHenTra``: a date, or "" / absent when the procedure has no due date (766: the
procedure's maximum time applies). "" is kept, as the senders who use it send it."""


class _Wire(BaseModel):
    model_config = ConfigDict(
        populate_by_name=True, extra="forbid", frozen=True, str_strip_whitespace=False
    )

    def to_wire(self) -> dict[str, Any]:
        """The record as the national system expects it: national names, absent fields omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class OwnerIdentifier(_Wire):
    """One ``DinhDanhCHS`` entry: an identifier of the dossier owner."""

    kind: IdentifierType = Field(alias="LoaiDinhDanh")
    number: Text = Field(alias="SoDinhDanh")

    @field_validator("number")
    @classmethod
    def _number_matches_kind(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind is IdentifierType.PERSONAL_ID:
            return check_personal_id(value)
        if kind is IdentifierType.OLD_ID_CARD:
            return check_old_id_card(value)
        return value


def _known_database(value: str, info: ValidationInfo) -> str:
    allowed = rules_from(info).database_codes
    if allowed is not None and value not in allowed:
        raise PydanticCustomError(
            "database_code", "MaCSDL {code} is not a configured database code", {"code": value}
        )
    return value


class ConnectedDatabase(_Wire):
    """One ``DSKetNoiCSDL`` entry: a national database the dossier was checked against."""

    code: Annotated[Code, AfterValidator(_known_database)] = Field(alias="MaCSDL")


class NationalDocument(_Wire):
    """One ``TaiLieuNop`` entry: a document the applicant submitted."""

    file_id: OptText = Field(None, alias="TepDinhKemId")
    file_name: Annotated[Text, limited("TenTepDinhKem")] = Field(alias="TenTepDinhKem")
    deleted: TextBool = Field(TextBool.FALSE, alias="IsDeleted")
    component_code: OptText = Field(None, alias="MaThanhPhanHoSo")
    url: OptText = Field(None, alias="DuongDanTaiTepTin")
    digitised: OptFlag = Field(None, alias="DuocSoHoa")
    reused: OptOpenFlag = Field(None, alias="DuocTaiSuDung")
    from_national_store: OptFlag = Field(None, alias="DuocLayTuKhoDMQG")
    replacing_result_code: OptText = Field(None, alias="MaKetQuaThayThe")


class NationalFee(_Wire):
    """One ``DanhSachLePhi`` entry: a fee or charge of the dossier."""

    name: Text = Field(alias="TenPhiLePhi")
    code: OptText = Field(None, alias="MaPhiLePhi")
    collection: FeeCollection = Field(alias="HinhThucThu")
    amount: Amount = Field(alias="Gia")
    kind: FeeType = Field(alias="LoaiPhiLePhi")


class NationalOtherAttachment(_Wire):
    """One ``DanhSachTepDinhKemKhac`` entry: another paper handed in."""

    name: Annotated[Text, limited("TenGiayTo")] = Field(alias="TenGiayTo")
    quantity: Count = Field(alias="SoLuong")
    kind: OptText = Field(None, alias="LoaiGiayTo")


class NationalSupplement(_Wire):
    """One ``DanhSachHoSoBoSung`` entry: a request for (and receipt of) a supplement.

    The shapes of ``DanhSachGiayToBoSung`` and ``DanhSachLePhiBoSung`` are not public; we take
    them to be ``TaiLieuNop`` and ``DanhSachLePhi`` entries.
    """

    supplement_id: Text = Field(alias="HoSoBoSungId")
    requested_by: OptText = Field(None, alias="NguoiYeuCauBoSung")
    content: Text = Field(alias="NoiDungBoSung")
    requested_at: WireDate = Field(alias="NgayBoSung")
    received_by: OptText = Field(None, alias="NguoiTiepNhanBoSung")
    reception_info: OptText = Field(None, alias="ThongTinTiepNhan")
    received_at: OptWireDate = Field(None, alias="NgayTiepNhanBoSung")
    status: OptText = Field(None, alias="TrangThaiBoSung")
    documents: list[NationalDocument] = Field(default_factory=list, alias="DanhSachGiayToBoSung")
    fees: list[NationalFee] = Field(default_factory=list, alias="DanhSachLePhiBoSung")
    previous_due_at: OptWireDate = Field(None, alias="NgayHenTraTruoc")
    new_due_at: OptWireDate = Field(None, alias="NgayHenTraMoi")


class NationalResultDocument(_Wire):
    """One ``DanhSachGiayToKetQua`` entry: a result paper issued to the applicant."""

    name: Annotated[Text, limited("TenGiayTo")] = Field(alias="TenGiayTo")
    component_code: OptText = Field(None, alias="MaThanhPhanHoSo")
    paper_id: OptText = Field(None, alias="GiayToId")
    url: OptText = Field(None, alias="DuongDanTepTinKetQua")
    result_code: OptText = Field(None, alias="MaGiayToKetQua")


def _known_place(value: str | None, info: ValidationInfo) -> str | None:
    allowed = rules_from(info).submission_places
    if value is not None and allowed is not None and value not in allowed:
        raise PydanticCustomError(
            "submission_place",
            "NoiNopHoSo {code} is not a configured submission place",
            {"code": value},
        )
    return value


class DossierRecord(_Wire):
    """One element of ``DongBoHoSoMC.data``: a dossier as the national portal holds it."""

    dossier_no: DossierNumber = Field(alias="MaHoSo")
    procedure_code: Code = Field(alias="MaTTHC")
    procedure_name: Text = Field(alias="TenTTHC")
    field_code: Code = Field(alias="MaLinhVuc")
    field_name: Text = Field(alias="TenLinhVuc")
    channel: Annotated[Channel, BeforeValidator(lambda v: "1" if v in ("", None) else v)] = Field(
        Channel.IN_PERSON, alias="KenhThucHien"
    )
    receipt_no: OptText = Field(None, alias="SoBienNhan")
    owner_name: OptText = Field(None, alias="ChuHoSo")
    # Absent (OpenCPS), null (TD.DichVuCongApi) or "": the intake flags it (owner_paper_missing).
    owner_paper_no: str | None = Field(None, alias="SoGiayToChuHoSo")
    applicant_type: ApplicantType = Field(alias="LoaiDoiTuong")
    account_id: OptText = Field(None, alias="MaDoiTuong")
    other_info: OptText = Field(None, alias="ThongTinKhac")
    # The reference lists Email and SoDienThoai as core, but counter dossiers often have neither;
    # the portal takes "" for none, so absent is allowed here.
    email: OptText = Field(None, alias="Email")
    fax: OptText = Field(None, alias="Fax")
    phone: OptText = Field(None, alias="SoDienThoai")
    summary: Annotated[Text, limited("TrichYeuHoSo")] = Field(alias="TrichYeuHoSo")
    received_at: WireDate = Field(alias="NgayTiepNhan")
    due_at: DueDate = Field(None, alias="NgayHenTra")
    status: DossierStatus = Field(alias="TrangThaiHoSo")
    returned_at: OptWireDate = Field(None, alias="NgayTra")
    return_info: OptText = Field(None, alias="ThongTinTra")
    result_delivery: ResultDelivery = Field(alias="HinhThuc")
    finished_at: OptWireDate = Field(None, alias="NgayKetThucXuLy")
    processing_unit: Text = Field(alias="DonViXuLy")
    note: OptText = Field(None, alias="GhiChu")
    # Fields the Decision 766 index reads.
    submission_place: Annotated[OptText, AfterValidator(_known_place)] = Field(
        None, alias="NoiNopHoSo"
    )
    has_digitised_components: OptFlag = Field(None, alias="HoSoCoThanhPhanSoHoa")
    vneid_verified: OptFlag = Field(None, alias="TaiKhoanDuocXacThucVoiVNeID")
    online_payment: OptOpenPayment = Field(None, alias="DuocThanhToanTrucTuyen")
    rejected_at: OptWireDate = Field(None, alias="NgayTuChoi")
    submitted_at: OptWireDate = Field(None, alias="NgayNopHoSo")
    owner_identifiers: list[OwnerIdentifier] = Field(default_factory=list, alias="DinhDanhCHS")
    connected_databases: list[ConnectedDatabase] = Field(default_factory=list, alias="DSKetNoiCSDL")
    # Lists.
    documents: list[NationalDocument] = Field(default_factory=list, alias="TaiLieuNop")
    fees: list[NationalFee] = Field(default_factory=list, alias="DanhSachLePhi")
    other_attachments: list[NationalOtherAttachment] = Field(
        default_factory=list, alias="DanhSachTepDinhKemKhac"
    )
    supplements: list[NationalSupplement] = Field(default_factory=list, alias="DanhSachHoSoBoSung")
    results: list[NationalResultDocument] = Field(
        default_factory=list, alias="DanhSachGiayToKetQua"
    )

    @field_validator("due_at")
    @classmethod
    def _due_not_before_received(cls, value: str | None, info: ValidationInfo) -> str | None:
        received = info.data.get("received_at")
        # Same zone and fixed width: string order is time order.
        if value and received is not None and value < received:
            raise PydanticCustomError(
                "due_before_received",
                "NgayHenTra ({due}) is before NgayTiepNhan ({received})",
                {"due": value, "received": received},
            )
        return value

    @property
    def agency(self) -> str:
        """The agency code that opens ``MaHoSo`` (the whole number for a local number)."""
        return dossier_agency(self.dossier_no) or self.dossier_no

    @property
    def version(self) -> str:
        """The newest event time the record carries (``yyyyMMddHHmmss``): how new this state is.

        Reception, submission, finish, return and rejection times, and each supplement's request
        and receipt; due dates are promises, not events, and do not count. The outbox refuses a
        state whose version is older than the stored one (``state_out_of_order``).
        """
        times = [
            self.received_at,
            self.submitted_at,
            self.finished_at,
            self.returned_at,
            self.rejected_at,
        ]
        for sup in self.supplements:
            times += [sup.requested_at, sup.received_at]
        return max(t for t in times if t)


class ProgressRecord(_Wire):
    """One element of ``CapNhatTienDoHoSoMC.data``: a processing step of a dossier."""

    dossier_no: DossierNumber = Field(alias="MaHoSo")
    handler: Annotated[Text, limited("NguoiXuLy")] = Field(alias="NguoiXuLy")
    handler_title: OptText = Field(None, alias="ChucDanh")
    handled_at: WireDate = Field(alias="ThoiDiemXuLy")
    department: OptText = Field(None, alias="PhongBanXuLy")
    # "" for an action without a name (OpenCPS): the intake flags it (step_content_empty).
    content: str = Field(alias="NoiDungXuLy")
    status: DossierStatus = Field(alias="TrangThai")
    started_at: OptWireDate = Field(None, alias="NgayBatDau")
    statutory_end_at: OptWireDate = Field(None, alias="NgayKetThucTheoQuyDinh")

    @property
    def agency(self) -> str:
        """The agency code that opens ``MaHoSo`` (the whole number for a local number)."""
        return dossier_agency(self.dossier_no) or self.dossier_no
