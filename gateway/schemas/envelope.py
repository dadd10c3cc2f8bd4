"""The DVCQG adapter-style call envelope and reply (national-formats.md §2.1).

Every call is ``POST`` with ``{"session", "madonvi", "service", ...params}``; the reply is
``{"error_code", "message", "result"}``. ``error_code`` arrives as 0, "0" or "00" for success
depending on the implementation; all three are accepted.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from gateway.schemas.codes import TextBool
from gateway.schemas.national import DossierRecord, ProgressRecord
from gateway.schemas.wire import Code, Text

__all__ = [
    "SERVICE_DOSSIER_SYNC",
    "SERVICE_LOOKUP",
    "SERVICE_PROGRESS",
    "SUCCESS_CODES",
    "TYPED_CALL",
    "CallEnvelope",
    "DossierSyncCall",
    "LoginReply",
    "LoginRequest",
    "ProgressCall",
    "Reply",
]

SERVICE_DOSSIER_SYNC = "DongBoHoSoMC"
SERVICE_PROGRESS = "CapNhatTienDoHoSoMC"
SERVICE_LOOKUP = "TraCuuHoSo"
SUCCESS_CODES = frozenset({"0", "00"})


class LoginRequest(BaseModel):
    """Body of the adapter login; the ``dstcode`` routing code travels as a header."""

    model_config = ConfigDict(extra="forbid")

    username: Text
    password: Text


class LoginReply(BaseModel):
    """Answer to a login: ``error_code`` 0 and a session token on success."""

    error_code: int | str = 0
    message: str = ""
    session: str | None = None


class CallEnvelope(BaseModel):
    """The envelope around every adapter call; ``data`` records are validated one by one."""

    model_config = ConfigDict(extra="allow")

    session: Text
    madonvi: Code
    service: Text
    is_updating: TextBool | None = Field(None, alias="isUpdating")
    data: list[Any] | None = None
    dossier_no: str | None = Field(None, alias="MaHoSo")


class Reply(BaseModel):
    """The portal's (and the gateway intake's) answer to a call."""

    model_config = ConfigDict(extra="allow")

    error_code: int | str = 0
    message: str = ""
    result: list[Any] | None = None

    @field_validator("error_code")
    @classmethod
    def _as_text(cls, value: int | str) -> str:
        return str(value)

    @property
    def ok(self) -> bool:
        """True when ``error_code`` is any of the success spellings."""
        return str(self.error_code) in SUCCESS_CODES


ServiceName = Literal["DongBoHoSoMC", "CapNhatTienDoHoSoMC", "TraCuuHoSo"]


class DossierSyncCall(CallEnvelope):
    """A ``DongBoHoSoMC`` call with every record validated as part of the envelope."""

    service: Literal["DongBoHoSoMC"]
    data: list[DossierRecord]


class ProgressCall(CallEnvelope):
    """A ``CapNhatTienDoHoSoMC`` call with every record validated as part of the envelope."""

    service: Literal["CapNhatTienDoHoSoMC"]
    data: list[ProgressRecord]


TYPED_CALL: TypeAdapter[DossierSyncCall | ProgressCall] = TypeAdapter(
    Annotated[DossierSyncCall | ProgressCall, Field(discriminator="service")]
)
"""Parses and validates a whole call from JSON bytes in one pass (no Python dicts on the way).

The intake's fast path: when it fails for any reason, the intake falls back to reading the
envelope and each record on its own, which locates every error per record.
"""
