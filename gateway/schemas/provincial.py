"""The provincial dossier record: the gateway's own, well-typed model of a dossier.

This is what a provincial system that does not yet speak the national format sends. Datetimes
are ISO 8601 text with an offset (:mod:`gateway.schemas.isotime`: a naive one, an epoch number or
a wire-format date is refused, never guessed), codes are enums, money is whole VND
as ``int``, booleans are ``bool``. The mappers turn it into the national packets and back; its
JSON Schema is exported to ``contracts/provincial-dossier.schema.json``.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from gateway.schemas.codes import (
    ApplicantType,
    Channel,
    DossierStatus,
    FeeCollection,
    FeeType,
    IdentifierType,
    OnlinePayment,
    ResultDelivery,
)
from gateway.schemas.identifiers import check_old_id_card, check_personal_id
from gateway.schemas.isotime import IsoDateTime
from gateway.schemas.wire import DOSSIER_NO_PATTERN, check_dossier_number

__all__ = [
    "Applicant",
    "AttachedPaper",
    "Document",
    "Dossier",
    "Fee",
    "PersonalIdentifier",
    "ProgressStep",
    "ResultPaper",
    "Sex",
    "Supplement",
]

NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class Sex(StrEnum):
    """Sex as stated by the applicant (used to check the personal ID's century/sex digit)."""

    MALE = "male"
    FEMALE = "female"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonalIdentifier(_Record):
    """An identifier of the dossier owner (national ``DinhDanhCHS``)."""

    kind: IdentifierType = IdentifierType.PERSONAL_ID
    number: NonEmpty

    @field_validator("number")
    @classmethod
    def _shape(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind is IdentifierType.PERSONAL_ID:
            return check_personal_id(value)
        if kind is IdentifierType.OLD_ID_CARD:
            return check_old_id_card(value)
        return value


class Applicant(_Record):
    """The dossier owner.

    ``birth_date`` and ``sex`` are not sent to the portal; when given, each 12-digit personal ID of
    the applicant must agree with them (century/sex digit and birth year).
    """

    kind: ApplicantType
    name: str | None = None
    paper_number: NonEmpty = Field(description="SoGiayToChuHoSo: ID paper or business number")
    account_id: str | None = Field(None, description="MaDoiTuong: national account id")
    email: str | None = None
    phone: str | None = None
    fax: str | None = None
    other_info: str | None = None
    birth_date: date | None = None
    sex: Sex | None = None
    identifiers: list[PersonalIdentifier] = Field(default_factory=list)
    verified_with_vneid: bool | None = None

    @model_validator(mode="after")
    def _ids_match_person(self) -> Self:
        if self.birth_date is None and self.sex is None:
            return self
        female = None if self.sex is None else self.sex is Sex.FEMALE
        for ident in self.identifiers:
            if ident.kind is IdentifierType.PERSONAL_ID:
                check_personal_id(ident.number, birth_date=self.birth_date, female=female)
        return self


class Document(_Record):
    """A submitted document (national ``TaiLieuNop``)."""

    name: NonEmpty
    file_id: str | None = None
    component_code: str | None = None
    url: str | None = None
    deleted: bool = False
    digitised: bool | None = None
    reused: bool | None = None
    from_national_store: bool | None = None
    replacing_result_code: str | None = None


class Fee(_Record):
    """A fee or charge (national ``DanhSachLePhi``); ``amount`` in whole VND, never negative."""

    name: NonEmpty
    code: str | None = None
    collection: FeeCollection
    amount: StrictInt
    kind: FeeType = FeeType.ORDINARY

    @field_validator("amount")
    @classmethod
    def _non_negative(cls, value: int) -> int:
        if value < 0:
            raise PydanticCustomError("amount_non_negative", "fee amount must not be negative")
        return value


class AttachedPaper(_Record):
    """Another paper handed in (national ``DanhSachTepDinhKemKhac``)."""

    name: NonEmpty
    quantity: Annotated[StrictInt, Field(ge=0, le=999_999)] = 1
    kind: str | None = None


class Supplement(_Record):
    """A supplement request and its receipt (national ``DanhSachHoSoBoSung``)."""

    supplement_id: NonEmpty
    content: NonEmpty
    requested_at: IsoDateTime
    requested_by: str | None = None
    received_by: str | None = None
    reception_info: str | None = None
    received_at: IsoDateTime | None = None
    status: str | None = None
    documents: list[Document] = Field(default_factory=list)
    fees: list[Fee] = Field(default_factory=list)
    previous_due_at: IsoDateTime | None = None
    new_due_at: IsoDateTime | None = None


class ResultPaper(_Record):
    """A result paper issued (national ``DanhSachGiayToKetQua``)."""

    name: NonEmpty
    component_code: str | None = None
    paper_id: str | None = None
    url: str | None = None
    result_code: str | None = None


class Dossier(_Record):
    """A dossier as the province holds it. All datetimes must carry a time zone."""

    dossier_no: NonEmpty = Field(
        description="MaHoSo: <agency code>-<YYMMDD>-<NNNN>",
        json_schema_extra={"pattern": DOSSIER_NO_PATTERN},
    )
    procedure_code: NonEmpty
    procedure_name: NonEmpty
    field_code: NonEmpty
    field_name: NonEmpty
    channel: Channel = Channel.IN_PERSON
    receipt_no: str | None = None
    applicant: Applicant
    summary: NonEmpty
    received_at: IsoDateTime
    due_at: IsoDateTime
    status: DossierStatus
    returned_at: IsoDateTime | None = None
    return_info: str | None = None
    result_delivery: ResultDelivery = ResultDelivery.AT_COUNTER
    finished_at: IsoDateTime | None = None
    processing_unit: NonEmpty
    note: str | None = None
    submission_place: str | None = None
    has_digitised_components: bool | None = None
    online_payment: OnlinePayment | None = None
    rejected_at: IsoDateTime | None = None
    submitted_at: IsoDateTime | None = None
    connected_databases: list[str] = Field(default_factory=list)
    documents: list[Document] = Field(default_factory=list)
    fees: list[Fee] = Field(default_factory=list)
    attached_papers: list[AttachedPaper] = Field(default_factory=list)
    supplements: list[Supplement] = Field(default_factory=list)
    results: list[ResultPaper] = Field(default_factory=list)

    @field_validator("dossier_no")
    @classmethod
    def _dossier_no_shape(cls, value: str) -> str:
        return check_dossier_number(value)

    @field_validator("due_at")
    @classmethod
    def _due_not_before_received(cls, value: IsoDateTime, info: ValidationInfo) -> IsoDateTime:
        received = info.data.get("received_at")
        if received is not None and value < received:
            raise PydanticCustomError(
                "due_before_received", "due_at is before received_at (NgayHenTra < NgayTiepNhan)"
            )
        return value

    @property
    def agency(self) -> str:
        """The agency code that opens the dossier number."""
        return self.dossier_no.rsplit("-", 2)[0]


class ProgressStep(_Record):
    """A processing step of a dossier (national ``CapNhatTienDoHoSoMC``)."""

    dossier_no: NonEmpty = Field(json_schema_extra={"pattern": DOSSIER_NO_PATTERN})
    handler: NonEmpty
    handler_title: str | None = None
    handled_at: IsoDateTime
    department: str | None = None
    content: NonEmpty
    status: DossierStatus
    started_at: IsoDateTime | None = None
    statutory_end_at: IsoDateTime | None = None

    @field_validator("dossier_no")
    @classmethod
    def _dossier_no_shape(cls, value: str) -> str:
        return check_dossier_number(value)

    @property
    def agency(self) -> str:
        """The agency code that opens the dossier number."""
        return self.dossier_no.rsplit("-", 2)[0]
