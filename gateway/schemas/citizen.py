"""A citizen record as the population database (CSDLQG về dân cư) answers it: ``CongDan``.

Field names are ours (English); aliases keep the national spelling, so a record validates from
the peer's shape and is shown to entitled clients in it. No public specification exists: the
shapes follow deployed code (national-formats.md §3), so every field is optional and unknown
children are ignored rather than refused.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CITIZEN_FIELDS", "Address", "BirthDate", "Citizen", "FullName", "Relative"]

_RECORD = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class FullName(BaseModel):
    """``HoVaTen``: family name, middle name(s), given name; or one text when unsplit."""

    model_config = _RECORD

    family: str | None = Field(None, alias="Ho")
    middle: str | None = Field(None, alias="ChuDem")
    given: str | None = Field(None, alias="Ten")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        # Some deployments send the whole name as one text; keep it whole in the given name.
        return {"Ten": value} if isinstance(value, str) else value

    def text(self) -> str:
        """The name as written: family, middle, given, separated by single spaces."""
        return " ".join(
            p.strip() for p in (self.family, self.middle, self.given) if p and p.strip()
        )


class BirthDate(BaseModel):
    """``NgayThangNamSinh``: the year, and the full date (``yyyyMMdd``) when it is known."""

    model_config = _RECORD

    year: str | None = Field(None, alias="Nam")
    date: str | None = Field(None, alias="NgayThangNam")


class Address(BaseModel):
    """An address (``ThuongTru``, ``NoiOHienTai`` …) as codes plus free text."""

    model_config = _RECORD

    province: str | None = Field(None, alias="MaTinhThanh")
    district: str | None = Field(None, alias="MaQuanHuyen")
    ward: str | None = Field(None, alias="MaPhuongXa")
    detail: str | None = Field(None, alias="ChiTiet")
    country: str | None = Field(None, alias="QuocGia")


class Relative(BaseModel):
    """A relative or representative (``Cha``, ``Me``, ``VoChong``, ``NguoiDaiDien``, ``ChuHo``)."""

    model_config = _RECORD

    full_name: str | None = Field(None, alias="HoVaTen")
    nationality: str | None = Field(None, alias="QuocTich")
    id_number: str | None = Field(None, alias="SoDinhDanh")
    old_id_number: str | None = Field(None, alias="SoCMND")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"HoVaTen": value}
        if isinstance(value, dict) and isinstance(value.get("HoVaTen"), dict):
            # A split name (Ho, ChuDem, Ten): join it as written.
            value = {**value, "HoVaTen": FullName.model_validate(value["HoVaTen"]).text()}
        return value


class Citizen(BaseModel):
    """One ``CongDan`` of a ``CongdanCollection``."""

    model_config = _RECORD

    id_number: str | None = Field(None, alias="SoDinhDanh")
    old_id_number: str | None = Field(None, alias="SoCMND")
    name: FullName = Field(default_factory=FullName, alias="HoVaTen")
    sex: str | None = Field(None, alias="GioiTinh")
    birth: BirthDate = Field(default_factory=BirthDate, alias="NgayThangNamSinh")
    nationality: str | None = Field(None, alias="QuocTich")
    ethnicity: str | None = Field(None, alias="DanToc")
    religion: str | None = Field(None, alias="TonGiao")
    marital_status: str | None = Field(None, alias="TinhTrangHonNhan")
    birth_registration: Address | None = Field(None, alias="NoiDangKyKhaiSinh")
    home_town: Address | None = Field(None, alias="QueQuan")
    permanent_address: Address | None = Field(None, alias="ThuongTru")
    current_address: Address | None = Field(None, alias="NoiOHienTai")
    father: Relative | None = Field(None, alias="Cha")
    mother: Relative | None = Field(None, alias="Me")
    spouse: Relative | None = Field(None, alias="VoChong")
    representative: Relative | None = Field(None, alias="NguoiDaiDien")
    household_head: Relative | None = Field(None, alias="ChuHo")
    household_book: str | None = Field(None, alias="SoSoHoKhau")


CITIZEN_FIELDS: frozenset[str] = frozenset(
    str(f.alias) for f in Citizen.model_fields.values() if f.alias is not None
)
"""The national names of a citizen record's fields: what an entitlement may list."""
