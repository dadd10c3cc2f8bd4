"""The Ministry of Justice civil-status (hộ tịch) service, ``…/apiHoTichTuPhap/``: its code tables
and the registration carried as XML in ``dangKyHoTich.data`` (national-formats.md §6).

Wire names stay as the ministry spells them (``maHoSo``, ``trangThai`` …); ours are English.
What the service's published profile does not fix (the registration XML's element names, the
reply's field names) is our reading of deployed clients and is kept configurable where it is
read (:mod:`gateway.connectors.ministry.hotich`).
"""

from __future__ import annotations

from datetime import date
from enum import IntEnum, StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "HOTICH_PERMANENT_CODES",
    "HoTichCaseState",
    "HoTichCatalogue",
    "HoTichCatalogueEntry",
    "HoTichChange",
    "HoTichErrorCode",
    "HoTichModule",
    "HoTichRegistration",
    "HoTichRequester",
    "HoTichResult",
    "HoTichStatus",
]


class HoTichStatus(IntEnum):
    """``traTrangThaiHoSo``'s status of a registration."""

    ERROR = 0
    """The ministry could not process the registration (its text says why)."""
    RECEIVED = 1
    """Received, waiting to be processed."""
    SUPPLEMENT = 2
    """Needs a supplement; the reply says what is missing."""
    ELIGIBLE = 3
    """Eligible for registration."""
    COMPLETED = 4
    """Registration completed: ``ketQuaDangKyHS`` has the result."""


class HoTichErrorCode(StrEnum):
    """The error code of a reply whose status is 0."""

    AUTH_FAILED = "100"
    IP_NOT_ALLOWED = "101"
    WRONG_AGENCY = "106"
    WRONG_PROVINCE = "108"
    NOT_COMPLETE = "200"
    """The registration is not complete yet: ask again later."""
    NOT_FOUND = "201"
    """No record under that ``maHoSo``: the case does not exist at the ministry."""
    INVALID_CATALOGUE = "302"
    DATA_ERROR = "500"
    """The data was refused; the detail is the peer's own text."""


HOTICH_PERMANENT_CODES = frozenset(
    {
        HoTichErrorCode.AUTH_FAILED,
        HoTichErrorCode.IP_NOT_ALLOWED,
        HoTichErrorCode.WRONG_AGENCY,
        HoTichErrorCode.WRONG_PROVINCE,
        HoTichErrorCode.INVALID_CATALOGUE,
        HoTichErrorCode.DATA_ERROR,
    }
)
"""Codes that retrying the same request cannot cure (§6): dead-letter at once."""


class HoTichCatalogue(IntEnum):
    """``danhMuc``'s ``loaiDanhMuc``."""

    NATIONALITY = 1
    COUNTRY = 2
    ETHNICITY = 3
    PLACE = 4
    ID_PAPER = 5


class HoTichModule(StrEnum):
    """``module``: which civil-status register the registration belongs to.

    The ministry's list is not public; these are the registers of the Law on Civil Status
    (Luật Hộ tịch 2014) under the short codes deployed clients send.
    """

    BIRTH = "KS"  # khai sinh
    DEATH = "KT"  # khai tử
    MARRIAGE = "KH"  # kết hôn
    MARITAL_STATUS = "XNTTHN"  # xác nhận tình trạng hôn nhân
    PARENTAGE = "CMC"  # nhận cha, mẹ, con
    GUARDIANSHIP = "GH"  # giám hộ
    CHANGE = "TDHT"  # thay đổi, cải chính, bổ sung hộ tịch
    EXTRACT = "TLBS"  # trích lục bản sao


_Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
_OptText = Annotated[str, StringConstraints(max_length=2000)] | None
_FieldName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]


class HoTichRequester(BaseModel):
    """``nguoiYeuCau``: who asks for the registration (the dossier's owner)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    full_name: _Text = Field(alias="hoTen")
    paper_no: _OptText = Field(None, alias="soGiayTo")
    phone: _OptText = Field(None, alias="soDienThoai")
    email: _OptText = Field(None, alias="email")


class HoTichRegistration(BaseModel):
    """The registration document carried in ``dangKyHoTich.data`` (as XML).

    ``details`` are the register's own fields (``tenTre``, ``ngaySinh`` … for a birth) as the
    provincial system's form gives them, in order; their names must be XML names. ``documents``
    are the submitted files' names and links.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    dossier_no: _Text = Field(alias="maHoSo")
    module: HoTichModule = Field(alias="module")
    procedure_code: _Text = Field(alias="maTTHC")
    received_on: date = Field(alias="ngayTiepNhan")
    requester: HoTichRequester = Field(alias="nguoiYeuCau")
    summary: _OptText = Field(None, alias="trichYeu")
    details: tuple[tuple[_FieldName, Annotated[str, StringConstraints(max_length=2000)]], ...] = (
        Field((), alias="thongTin")
    )
    documents: tuple[tuple[_Text, _OptText], ...] = Field((), alias="taiLieu")


class _Reply(BaseModel):
    # Replies are read leniently: the ministry may add fields, and we keep only ours.
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class HoTichCaseState(_Reply):
    """``traTrangThaiHoSo``'s answer for one registration.

    ``supplement`` says what is missing when the status is :attr:`HoTichStatus.SUPPLEMENT`; the
    ministry's free text, so it is shown to the officer and never logged.
    """

    dossier_no: str = Field(alias="maHoSo")
    status: HoTichStatus = Field(alias="trangThai")
    supplement: str | None = Field(None, alias="noiDungBoSung")
    note: str | None = Field(None, alias="ghiChu")
    updated_on: str | None = Field(None, alias="ngayCapNhat")
    """``dd/mm/yyyy`` as the ministry sends it."""


class HoTichResult(_Reply):
    """``ketQuaDangKyHS``: the completed registration."""

    dossier_no: str = Field(alias="maHoSo")
    registration_no: str = Field(alias="soDangKy")
    registered_on: str = Field(alias="ngayDangKy")
    """``dd/mm/yyyy``."""
    book_no: str | None = Field(None, alias="quyenSo")
    signer: str | None = Field(None, alias="nguoiKy")
    document_url: str | None = Field(None, alias="duongDanKetQua")


class HoTichChange(_Reply):
    """One entry of ``dsHoSoDangKy``: a registration changed since the date asked."""

    dossier_no: str = Field(alias="maHoSo")
    status: HoTichStatus = Field(alias="trangThai")
    updated_on: str | None = Field(None, alias="ngayCapNhat")


class HoTichCatalogueEntry(_Reply):
    """One ``danhMuc`` entry."""

    code: str = Field(alias="ma")
    name: str = Field(alias="ten")
