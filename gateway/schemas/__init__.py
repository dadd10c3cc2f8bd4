"""Pydantic models of the packets the gateway speaks.

- :mod:`~gateway.schemas.codes`: the national code tables as enums.
- :mod:`~gateway.schemas.ministry_codes`: the LLTP code tables (``genderId`` …) as enums.
- :mod:`~gateway.schemas.wire`: wire scalars (dates, amounts, ``MaHoSo``) and :class:`WireRules`.
- :mod:`~gateway.schemas.national`: ``DongBoHoSoMC`` / ``CapNhatTienDoHoSoMC`` records.
- :mod:`~gateway.schemas.envelope`: the adapter call envelope and reply.
- :mod:`~gateway.schemas.provincial`: the gateway's own typed dossier and step.
- :mod:`~gateway.schemas.lifecycle`: which status may follow which.
- :mod:`~gateway.schemas.policy`: the quirks of real senders and their intake policy.
- :mod:`~gateway.schemas.isotime`: native date-times (ISO 8601 with an offset, nothing else).

This package imports nothing else of the gateway.
"""

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
from gateway.schemas.envelope import CallEnvelope, LoginReply, LoginRequest, Reply
from gateway.schemas.identifiers import check_personal_id, mask_id
from gateway.schemas.isotime import IsoDateTime
from gateway.schemas.lifecycle import Lifecycle
from gateway.schemas.ministry_codes import DeclareType, Gender, IdType, LltpStatus, ObjectRequest
from gateway.schemas.national import (
    ConnectedDatabase,
    DossierRecord,
    NationalDocument,
    NationalFee,
    NationalOtherAttachment,
    NationalResultDocument,
    NationalSupplement,
    OwnerIdentifier,
    ProgressRecord,
)
from gateway.schemas.policy import IntakePolicy, Policy, Quirk
from gateway.schemas.provincial import (
    Applicant,
    AttachedPaper,
    Document,
    Dossier,
    Fee,
    PersonalIdentifier,
    ProgressStep,
    ResultPaper,
    Sex,
    Supplement,
)
from gateway.schemas.wire import VIETNAM_TZ, WireRules, format_wire_datetime, parse_wire_datetime

__all__ = [
    "VIETNAM_TZ",
    "Applicant",
    "ApplicantType",
    "AttachedPaper",
    "CallEnvelope",
    "Channel",
    "ConnectedDatabase",
    "DeclareType",
    "Document",
    "Dossier",
    "DossierRecord",
    "DossierStatus",
    "Fee",
    "FeeCollection",
    "FeeType",
    "Flag",
    "Gender",
    "IdType",
    "IdentifierType",
    "IntakePolicy",
    "IsoDateTime",
    "Lifecycle",
    "LltpStatus",
    "LoginReply",
    "LoginRequest",
    "NationalDocument",
    "NationalFee",
    "NationalOtherAttachment",
    "NationalResultDocument",
    "NationalSupplement",
    "ObjectRequest",
    "OnlinePayment",
    "OwnerIdentifier",
    "PersonalIdentifier",
    "Policy",
    "ProgressRecord",
    "ProgressStep",
    "Quirk",
    "Reply",
    "ResultDelivery",
    "ResultPaper",
    "Sex",
    "Supplement",
    "TextBool",
    "WireRules",
    "check_personal_id",
    "format_wire_datetime",
    "mask_id",
    "parse_wire_datetime",
]
