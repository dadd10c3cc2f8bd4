"""The civil-status service of the Ministry of Justice, ``…/apiHoTichTuPhap/`` (national-formats
§6): every call a JSON ``POST`` with the LGSP's bearer token.

Replies carry a status (1 success, 0 error) and an error code; :func:`classify` is the one place
a code becomes an exception: 100, 101, 106, 108, 302 and 500 are permanent for the request as
sent; 200 ("registration not complete") means ask again later; 201 ("record not found") means
the ministry holds no case under that ``maHoSo``, which :meth:`HoTichClient.state` returns as
``None`` so that reconcile can tell a resend is safe. The reply's field names are not published
and are configuration (:class:`HoTichReplyFields`).

The ministry is not known to refuse a second ``dangKyHoTich`` for the same ``maHoSo``: a resend
may open a second case, so after an ambiguous failure the caller asks :meth:`state` first.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.connectors.ministry.http import post_json
from gateway.errors import PeerError, PeerReplyError, PermanentPeerError, TransientPeerError
from gateway.mappers.dates import format_lltp_date
from gateway.mappers.hotich_xml import build_registration_xml
from gateway.schemas.hotich import (
    HOTICH_PERMANENT_CODES,
    HoTichCaseState,
    HoTichCatalogue,
    HoTichCatalogueEntry,
    HoTichChange,
    HoTichErrorCode,
    HoTichModule,
    HoTichRegistration,
    HoTichResult,
)

__all__ = [
    "CATALOGUE",
    "CHANGES",
    "REGISTER",
    "RESULT",
    "STATE",
    "SYSTEM",
    "HoTichClient",
    "HoTichReplyFields",
    "HoTichSettings",
    "classify",
]

SYSTEM = "hotich"
_M = TypeVar("_M", bound=BaseModel)

REGISTER = "dangKyHoTich"
STATE = "traTrangThaiHoSo"
RESULT = "ketQuaDangKyHS"
CHANGES = "dsHoSoDangKy"
CATALOGUE = "danhMuc"


class HoTichReplyFields(BaseModel):
    """Where a reply puts its status, error code, message and payload (not published)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: str = "status"
    error_code: str = "errorCode"
    message: str = "message"
    data: str = "data"


class HoTichSettings(BaseModel):
    """The hộ tịch part of ``[peers.<system>] options``: who we are and how replies read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency_code: str = Field(min_length=1, description="maDonVi: the registering office")
    fields: HoTichReplyFields = HoTichReplyFields()
    feed_modules: tuple[HoTichModule, ...] = ()
    """Registers whose ``dsHoSoDangKy`` is read as the changed-cases feed (none: poll only)."""
    feed_days: int = Field(2, ge=1, le=31)
    """How many days back the feed asks (``ngayCapNhat``); repeats are harmless."""


def classify(
    code: str | None, *, operation: str, message: str = "", system: str = SYSTEM
) -> PeerError:
    """The exception for a reply with status 0 and error ``code``.

    Permanent: 100, 101, 106, 108, 302, 500, 201 (no such record: the caller asked for a case
    that does not exist), a code we do not know, or none. Transient: 200 (not complete yet).
    The peer's message is scrubbed by :class:`~gateway.errors.PeerError`.
    """
    text = f"error {code}: {message}" if message else f"error {code}"
    if code == HoTichErrorCode.NOT_COMPLETE:
        return TransientPeerError(
            f"{text} (ask again later)", system=system, operation=operation, peer_code=code
        )
    if code in HOTICH_PERMANENT_CODES or code == HoTichErrorCode.NOT_FOUND:
        return PermanentPeerError(text, system=system, operation=operation, peer_code=code)
    return PermanentPeerError(f"unknown {text}", system=system, operation=operation, peer_code=code)


class HoTichClient:
    """The service's calls over ``http``, an ``httpx.Client`` carrying the base URL
    (``…/apiHoTichTuPhap/``), timeouts and the LGSP's OAuth2 auth (the framework's
    :func:`~gateway.connectors.ministry.system_client`). Thread-safe; owns no connections.
    """

    def __init__(self, http: httpx.Client, settings: HoTichSettings, *, system: str = SYSTEM):
        self.settings = settings
        self.system = system
        self._http = http

    # -- calls -----------------------------------------------------------------------------

    def register(self, registration: HoTichRegistration) -> None:
        """``dangKyHoTich``: hand the registration over (its XML built by the mapper).

        Raises ContractError when the registration cannot be written as XML, and PeerError
        subclasses (transient with ``ambiguous`` when the call may have opened a case).
        """
        body = {
            "maDonVi": self.settings.agency_code,
            "module": registration.module.value,
            "maHoSo": registration.dossier_no,
            "ngayTiepNhan": format_lltp_date(registration.received_on),
            "data": build_registration_xml(registration),
        }
        self._call(REGISTER, body, writes=True)

    def state(self, dossier_no: str) -> HoTichCaseState | None:
        """``traTrangThaiHoSo``: the registration's status; ``None`` when the ministry holds no
        record under ``dossier_no`` (error 201)."""
        body = {"maDonVi": self.settings.agency_code, "maHoSo": dossier_no}
        data = self._call(STATE, body, writes=False, absent=HoTichErrorCode.NOT_FOUND)
        if data is _ABSENT:
            return None
        return self._model(HoTichCaseState, data, STATE)

    def result(self, dossier_no: str) -> HoTichResult | None:
        """``ketQuaDangKyHS``: the result once completed; ``None`` while it is not (error 200).

        A missing record (201) raises PermanentPeerError: a result was asked for a case that
        does not exist.
        """
        body = {"maDonVi": self.settings.agency_code, "maHoSo": dossier_no}
        data = self._call(RESULT, body, writes=False, absent=HoTichErrorCode.NOT_COMPLETE)
        if data is _ABSENT:
            return None
        return self._model(HoTichResult, data, RESULT)

    def changes(self, module: HoTichModule, since: date) -> tuple[HoTichChange, ...]:
        """``dsHoSoDangKy``: registrations of ``module`` changed since ``since`` (a day)."""
        body = {"module": module.value, "ngayCapNhat": format_lltp_date(since)}
        data = self._call(CHANGES, body, writes=False)
        return tuple(
            self._model(HoTichChange, item, CHANGES) for item in self._listed(data, CHANGES)
        )

    def catalogue(self, kind: HoTichCatalogue) -> tuple[HoTichCatalogueEntry, ...]:
        """``danhMuc``: one catalogue (nationalities, countries, ethnicities, places, papers)."""
        data = self._call(CATALOGUE, {"loaiDanhMuc": int(kind)}, writes=False)
        return tuple(
            self._model(HoTichCatalogueEntry, item, CATALOGUE)
            for item in self._listed(data, CATALOGUE)
        )

    # -- the envelope ----------------------------------------------------------------------

    def _listed(self, data: Any, operation: str) -> list[Any]:
        if data is None:
            return []
        if not isinstance(data, list):
            raise PeerReplyError("reply_shape", system=self.system, operation=operation)
        return data

    def _call(
        self,
        operation: str,
        body: dict[str, Any],
        *,
        writes: bool,
        absent: HoTichErrorCode | None = None,
    ) -> Any:
        reply = post_json(self._http, self.system, operation, body, writes=writes)
        f = self.settings.fields
        status = reply.get(f.status)
        if status in (1, "1"):
            return reply.get(f.data)
        if status not in (0, "0"):
            raise PeerReplyError("reply_status", system=self.system, operation=operation)
        raw_code = reply.get(f.error_code)
        code = None if raw_code is None else str(raw_code)
        if absent is not None and code == absent:
            return _ABSENT
        raise classify(
            code, operation=operation, message=str(reply.get(f.message) or ""), system=self.system
        )

    def _model(self, model: type[_M], data: Any, operation: str) -> _M:
        try:
            return model.model_validate(data)
        except ValidationError:
            # The peer's values are not quoted: they may carry personal data.
            raise PeerReplyError("reply_shape", system=self.system, operation=operation) from None


class _Absent:
    """The ministry said "no such record" / "not yet" where the caller expects it."""


_ABSENT = _Absent()
