"""The LLTP (judicial record certificate) application forms, as ``nhanHoSoDangKy`` takes them.

Field names are the ministry's (national-formats.md §6). Dates stay strings in the ministry's
shapes (``dd/mm/yyyy``; birth dates also ``mm/yyyy`` or ``yyyy``), checked by shape here and
converted by :mod:`gateway.mappers.dates`. Code tables are the enums of :mod:`.ministry_codes`,
so a wrong ``genderId`` is refused naming the field. Unknown fields are refused: a misspelt
national name would otherwise be dropped without a word.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.schemas.ministry_codes import DeclareType, Gender, IdType, ObjectRequest

__all__ = ["DeclarationForm", "LltpApplication", "MandatorForm", "ResidenceForm"]

LltpDay = Annotated[str, StringConstraints(pattern=r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$")]
LltpBirth = Annotated[
    str, StringConstraints(pattern=r"^([0-9]{2}/){0,2}[0-9]{4}$", min_length=4, max_length=10)
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Opt = Annotated[str, StringConstraints(max_length=500)] | None


class _Form(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=False)


class DeclarationForm(_Form):
    """``declarationWSForm``: the applicant and the request."""

    fullName: Name
    genderId: Gender
    birthDateStr: LltpBirth
    nationalityId: int | None = None
    ethnicId: int | None = None
    residence: Opt = None
    residenceProvinceId: int | None = None
    residenceDistrictId: int | None = None
    residenceWardId: int | None = None
    idTypeId: IdType
    identifyNo: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{6,20}$")]
    dadName: Opt = None
    momName: Opt = None
    partnerName: Opt = None
    phone: Opt = None
    email: Opt = None
    declareDate: LltpDay | None = None
    declareTypeId: DeclareType = DeclareType.INDIVIDUAL
    requestQty: int = Field(1, ge=1, le=20)
    objectRequestId: ObjectRequest = ObjectRequest.VIETNAMESE_CITIZEN
    formType: Literal[1, 2] = 1
    purpose: Opt = None
    receiveNo: Opt = None


class ResidenceForm(_Form):
    """One line of ``residenceWSForm``: where the applicant lived and worked, and when."""

    fromDateStr: Annotated[str, StringConstraints(pattern=r"^([0-9]{2}/){0,2}[0-9]{4}$")]
    toDateStr: Annotated[str, StringConstraints(pattern=r"^([0-9]{2}/){0,2}[0-9]{4}$")] | None = (
        None
    )
    residencePlace: Opt = None
    job: Opt = None
    workPlace: Opt = None


class MandatorForm(_Form):
    """``mandatorWSForm``: the proxy, when ``declareTypeId`` is 3845 (by proxy)."""

    fullName: Name
    idTypeId: IdType
    identifyNo: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{6,20}$")]
    phone: Opt = None
    relationship: Opt = None


class LltpApplication(_Form):
    """What a province adds to a DVCQG record for LLTP (``ThongTinKhac`` → ``{"lltp": …}``)."""

    declarationWSForm: DeclarationForm
    residenceWSForm: list[ResidenceForm] = Field(default_factory=list, max_length=50)
    mandatorWSForm: MandatorForm | None = None
    idMoneyReceipt: Opt = None
