"""Code tables of the Ministry of Justice judicial-record service (LLTP, national-formats.md §6).

LLTP sends and expects these as JSON numbers, so the enums are ``IntEnum``: a pydantic field
typed with one refuses any other value (``genderId = 2`` is a validation error naming the field),
and ``int(member)`` is the wire value.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["DeclareType", "Gender", "IdType", "LltpStatus", "ObjectRequest"]


class Gender(IntEnum):
    """``genderId``."""

    FEMALE = 0
    MALE = 1


class IdType(IntEnum):
    """``idTypeId``: the applicant's identity paper."""

    PASSPORT = 0
    OLD_ID_CARD = 1
    """Chứng minh nhân dân."""
    RESIDENCE_CARD = 2
    """Thẻ thường trú / tạm trú (foreigners)."""
    CITIZEN_ID_CARD = 3
    """Căn cước công dân."""


class DeclareType(IntEnum):
    """``declareTypeId``: who declares."""

    JUDICIAL_BODY = 3844
    BY_PROXY = 3845
    INDIVIDUAL = 3846
    ORGANISATION = 3847


class ObjectRequest(IntEnum):
    """``objectRequestId``: who the certificate is requested for."""

    FOREIGNER = 71
    VIETNAMESE_CITIZEN = 72
    ORGANISATION = 73
    JUDICIAL_BODY = 74


class LltpStatus(IntEnum):
    """``DEC_STATUS_ID`` of ``traTrangThaiHs``: where a case stands at the ministry."""

    RECEIVED = 3
    """Received by the provincial justice department."""
    PROCESSING = 4
    ISSUED = 5
    """Certificate issued (terminal)."""
