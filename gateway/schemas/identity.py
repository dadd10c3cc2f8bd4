"""The identity-check API: what a provincial system asks, and what the gateway answers.

These are our own shapes (English names); the citizen record inside an answer keeps the national
spelling (:class:`~gateway.schemas.citizen.Citizen`). The ID number is only bounded here: its
structure is checked by :func:`gateway.mappers.identity.offline_violations`, which names the
broken rule instead of pydantic's generic one.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.schemas.wire import DossierNumber

__all__ = ["IdentityAnswer", "IdentityOutcome", "IdentityQuery"]


class IdentityOutcome(StrEnum):
    """How a look-up ended (also what the 766 evaluation list of a dossier records)."""

    MATCH = "match"
    MISMATCH = "mismatch"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"


class IdentityQuery(BaseModel):
    """A person as a provincial system states them, optionally for one dossier.

    Give ``birth_date`` or ``birth_year`` (both only if they agree). ``sex`` is optional; when
    given, digit 4 of the ID number is checked against it offline.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    id_number: str = Field(min_length=1, max_length=32, description="số định danh cá nhân")
    # No control characters: they cannot travel in the SOAP profile's XML.
    full_name: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="as on the ID card",
    )
    birth_date: date | None = None
    birth_year: int | None = Field(None, ge=1800, le=2299)
    sex: Literal["male", "female"] | None = None
    old_id_number: str | None = Field(None, pattern=r"^[0-9]{9}$", description="số CMND (9 digits)")
    dossier_no: DossierNumber | None = Field(None, description="MaHoSo the check serves")

    @model_validator(mode="after")
    def _one_birth(self) -> Self:
        if self.birth_date is None and self.birth_year is None:
            raise ValueError("give birth_date or birth_year")
        if (
            self.birth_date is not None
            and self.birth_year is not None
            and self.birth_date.year != self.birth_year
        ):
            raise ValueError("birth_year differs from the year of birth_date")
        return self

    @property
    def year(self) -> int:
        """The stated birth year."""
        if self.birth_date is not None:
            return self.birth_date.year
        assert self.birth_year is not None  # noqa: S101 - guaranteed by _one_birth
        return self.birth_year


class IdentityAnswer(BaseModel):
    """The gateway's answer: match, or mismatch naming the differing fields.

    ``found`` is false when the database holds no one under the number (a mismatch on
    ``id_number``). ``citizen`` carries only the fields the caller is entitled to, under their
    national names; it is absent for verify-only clients. ``request_id`` is the ``MaYeuCau``
    sent to the database, also kept in the audit record.
    """

    model_config = ConfigDict(frozen=True)

    outcome: Literal["match", "mismatch"]
    mismatches: tuple[str, ...] = ()
    found: bool = True
    profile: str
    request_id: str
    citizen: dict[str, Any] | None = None
