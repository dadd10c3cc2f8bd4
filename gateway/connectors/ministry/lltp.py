"""The Ministry of Justice judicial-record profile (LLTP, ``…/apiLyLichTuPhap/``).

Calls (national-formats.md §6), each a JSON ``POST`` through the LGSP with a bearer token:

- ``nhanHoSoDangKy``: hand over; ``idReceivedDec`` (our ``MaHoSo``) is the natural key, so the
  ministry answers a second hand-over of one receipt with the case it already holds.
- ``traTrangThaiHs {idReceivedDec, infoType, identifyNo}``: one case's status
  (``DEC_STATUS_ID`` 3 received, 4 processing, 5 certificate issued).
- ``traDsTrangThaiHs {infoType}`` → ``LISTCONTENT``: every change not yet acknowledged;
  ``danhDauHsThanhCong {declarationId: "id;id", infoType}`` acknowledges them.
- ``traDanhMuc {type}``: catalogues (:meth:`LltpProfile.catalogue`).

**Reply classification.** Every reply is ``{STATUS, DESCRIPTION, …}``. The profile publishes
``STATUS`` 1 (success) and 0 (refused) and no code table, so the rest is our reading, chosen so
that nothing is dead-lettered on a guess:

====================  ==================================================================
``STATUS`` 1          success
``STATUS`` 0          the ministry refused the request as sent: permanent (dead letter);
                      for ``traTrangThaiHs``, "no such case" (the caller may hand over:
                      ``idReceivedDec`` keeps a second case from opening)
any other / missing   the ministry's own failure, unknown meaning: transient
no JSON object        ``PeerReplyError`` (permanent; for the hand-over, ambiguous: the
                      connector retries after asking, as the case may exist)
====================  ==================================================================

Transport failures and HTTP statuses are classified by
:func:`~gateway.connectors.ministry.http.post_json` (timeouts after sending are ambiguous for
``nhanHoSoDangKy``; 503 is not; a 401 refreshes the token once, then ``PeerAuthError``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.connectors.ministry.http import post_json
from gateway.connectors.ministry.profile import (
    PROFILES,
    CaseRef,
    CaseResult,
    CaseState,
    CaseStatus,
    HandOver,
    ProfileType,
    SystemContext,
)
from gateway.errors import (
    ContractError,
    PeerReplyError,
    PermanentPeerError,
    TransientPeerError,
)
from gateway.mappers.dates import parse_dvcqg_datetime
from gateway.mappers.lltp import lltp_application, lltp_body, lltp_instant
from gateway.schemas.ministry_codes import LltpStatus

__all__ = [
    "CATALOGUES",
    "HAND_OVER",
    "LltpOptions",
    "LltpProfile",
    "LltpSystemOptions",
    "classify_reply",
]

HAND_OVER = "nhanHoSoDangKy"
STATUS = "traTrangThaiHs"
FEED = "traDsTrangThaiHs"
ACK = "danhDauHsThanhCong"
CATALOGUE = "traDanhMuc"
CATALOGUES = {
    1: "administrative units",
    2: "nationalities",
    3: "ethnicities",
    4: "agencies",
    5: "offices",
}
"""``traDanhMuc`` kinds (national-formats.md §6)."""

_STATES = {
    LltpStatus.RECEIVED: CaseState.RECEIVED,
    LltpStatus.PROCESSING: CaseState.PROCESSING,
    LltpStatus.ISSUED: CaseState.COMPLETED,
}


class LltpOptions(BaseModel):
    """Route options: the receiving justice office (``idMinistryJustice``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    office: str = Field(min_length=1, max_length=64)


class LltpSystemOptions(BaseModel):
    """``[peers.<system>.options]`` of an LLTP system."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    info_type: int = Field(1, ge=0, le=99)
    """``infoType`` of status and feed calls (which information the province subscribes to)."""


def classify_reply(reply: Mapping[str, Any], *, operation: str, system: str = "lltp") -> str:
    """``"ok"`` or ``"refused"`` for an LLTP reply; raises ``TransientPeerError`` otherwise.

    The ministry's ``DESCRIPTION`` is kept (scrubbed by ``PeerError``) for dead letters.
    """
    status = reply.get("STATUS")
    text = str(status).strip() if status is not None else ""
    if text == "1":
        return "ok"
    if text == "0":
        return "refused"
    raise TransientPeerError(
        f"STATUS {text or 'missing'}: {reply.get('DESCRIPTION') or 'no description'}",
        system=system,
        operation=operation,
        peer_code=text or None,
    )


class LltpProfile:
    """One LLTP system; stateless between calls, so thread-safe."""

    operation = HAND_OVER
    natural_key = True
    has_feed = True

    def __init__(self, system: SystemContext) -> None:
        self._system = system
        self._name = system.name
        self._http = system.http
        self._options = LltpSystemOptions.model_validate(system.config.options)

    def _post(self, operation: str, body: Mapping[str, Any], *, writes: bool) -> dict[str, Any]:
        return post_json(self._http, self._name, operation, body, writes=writes)

    def _refused(self, reply: Mapping[str, Any], operation: str) -> PermanentPeerError:
        return PermanentPeerError(
            f"refused: {reply.get('DESCRIPTION') or 'no description'}",
            system=self._name,
            operation=operation,
            peer_code="0",
        )

    # -- hand-over ----------------------------------------------------------------------------

    def hand_over(self, handover: HandOver) -> CaseRef:
        """``nhanHoSoDangKy``; the reply's ``ID`` is the case id (the same for a repeat)."""
        try:
            application = lltp_application(handover.record, handover.forms)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            path = ".".join(str(p) for p in first["loc"])
            # Named by field and rule, never quoting the value (it may be an ID number).
            raise PermanentPeerError(
                f"LLTP form invalid at {path}: {first['msg']}",
                system=self._name,
                operation=HAND_OVER,
                peer_code="form_invalid",
            ) from None
        office = handover.options.model_dump().get("office", "")
        body = lltp_body(handover.record, application, office)
        reply = self._post(HAND_OVER, body, writes=True)
        if classify_reply(reply, operation=HAND_OVER, system=self._name) == "refused":
            raise self._refused(reply, HAND_OVER)
        case_id = reply.get("ID")
        if case_id in (None, ""):
            raise PeerReplyError("lltp_reply_without_id", system=self._name, operation=HAND_OVER)
        return CaseRef(
            handover.dossier_no,
            case_id=str(case_id),
            identify_no=application.declarationWSForm.identifyNo,
        )

    # -- status -------------------------------------------------------------------------------

    def find(self, ref: CaseRef) -> CaseStatus | None:
        """``traTrangThaiHs``; ``None`` when the ministry holds no case for the receipt."""
        body = {
            "idReceivedDec": ref.dossier_no,
            "infoType": self._options.info_type,
            "identifyNo": ref.identify_no or "",
        }
        reply = self._post(STATUS, body, writes=False)
        if classify_reply(reply, operation=STATUS, system=self._name) == "refused":
            return None
        return self._status(reply, ref.dossier_no, operation=STATUS)

    def _status(
        self, row: Mapping[str, Any], dossier_no: str, *, operation: str, ack: str | None = None
    ) -> CaseStatus:
        raw = row.get("DEC_STATUS_ID")
        try:
            code = LltpStatus(int(str(raw)))
        except (TypeError, ValueError):
            raise PeerReplyError(
                "lltp_unknown_status", system=self._name, operation=operation
            ) from None
        state = _STATES[code]
        issued = lltp_instant(row.get("ISSUE_DATE"))
        approved = lltp_instant(row.get("APPROVE_DATE"))
        result = None
        if state is CaseState.COMPLETED:
            result = CaseResult(
                number=_text(row.get("CERTIFICATE_NO")),
                approved_at=parse_dvcqg_datetime(approved) if approved else None,
                issued_at=parse_dvcqg_datetime(issued) if issued else None,
            )
        case_id = _text(row.get("ID")) if ack is None else ack
        return CaseStatus(
            dossier_no=dossier_no,
            status=str(int(code)),
            state=state,
            case_id=case_id,
            result=result,
            ack=ack,
            order=int(code),  # 3 → 4 → 5: LLTP statuses only rise
        )

    # -- feed ---------------------------------------------------------------------------------

    def changes(self) -> Sequence[CaseStatus]:
        """``traDsTrangThaiHs``: every change the ministry has not been told we took."""
        reply = self._post(FEED, {"infoType": self._options.info_type}, writes=False)
        if classify_reply(reply, operation=FEED, system=self._name) == "refused":
            raise self._refused(reply, FEED)
        rows = reply.get("LISTCONTENT") or []
        if not isinstance(rows, list):
            raise PeerReplyError("lltp_listcontent", system=self._name, operation=FEED)
        out = []
        for row in rows:
            if not isinstance(row, dict) or not row.get("idReceivedDec") or not row.get("ID"):
                raise PeerReplyError("lltp_listcontent_row", system=self._name, operation=FEED)
            out.append(
                self._status(row, str(row["idReceivedDec"]), operation=FEED, ack=str(row["ID"]))
            )
        return out

    def acknowledge(self, changes: Sequence[CaseStatus]) -> None:
        """``danhDauHsThanhCong`` with the changes' declaration ids, ``;``-separated."""
        ids = sorted({c.ack for c in changes if c.ack})
        if not ids:
            return
        body = {"declarationId": ";".join(ids), "infoType": self._options.info_type}
        reply = self._post(ACK, body, writes=True)
        if classify_reply(reply, operation=ACK, system=self._name) == "refused":
            raise self._refused(reply, ACK)

    def catalogue(self, kind: int) -> list[dict[str, Any]]:
        """``traDanhMuc``: one of the ministry's catalogues (:data:`CATALOGUES`), as rows.

        The ids in the forms (``nationalityId``, ``ethnicId``, residence ids) and the route's
        ``office`` come from these; ValueError for a kind the profile does not publish.
        """
        if kind not in CATALOGUES:
            raise ValueError(f"no LLTP catalogue {kind}; known: {sorted(CATALOGUES)}")
        reply = self._post(CATALOGUE, {"type": kind}, writes=False)
        if classify_reply(reply, operation=CATALOGUE, system=self._name) == "refused":
            raise self._refused(reply, CATALOGUE)
        rows = reply.get("LISTCONTENT") or []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise PeerReplyError("lltp_catalogue", system=self._name, operation=CATALOGUE)
        return rows

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> Sequence[CaseStatus]:
        """A pushed change: one ``LISTCONTENT`` row, or ``{"LISTCONTENT": [rows]}``.

        The published profile has no push; LGSPs that relay the feed as callbacks send its rows
        as they are, so this reads them the same way (never acknowledged: nothing was pulled).
        """
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ContractError.single("", "json", "the callback body is not JSON") from None
        rows = parsed.get("LISTCONTENT", [parsed]) if isinstance(parsed, dict) else None
        if not isinstance(rows, list) or not rows:
            raise ContractError.single("", "lltp_callback", "expected a LISTCONTENT row or list")
        out = []
        for n, row in enumerate(rows):
            if not isinstance(row, dict):
                raise ContractError.single(f"LISTCONTENT.{n}", "type", "expected an object")
            for name in ("idReceivedDec", "DEC_STATUS_ID"):
                if row.get(name) in (None, ""):
                    raise ContractError.single(f"LISTCONTENT.{n}.{name}", "missing", "required")
            try:
                out.append(self._status(row, str(row["idReceivedDec"]), operation="callback"))
            except PeerReplyError:
                raise ContractError.single(
                    f"LISTCONTENT.{n}.DEC_STATUS_ID", "lltp_status", "expected 3, 4 or 5"
                ) from None
        return out

    def result(self, ref: CaseRef) -> CaseResult | None:
        """The status reply carries the dates of the result already."""
        status = self.find(ref)
        return None if status is None else status.result

    def close(self) -> None:
        """Nothing beyond the shared client."""


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


PROFILES["lltp"] = ProfileType(
    name="lltp", build=LltpProfile, options=LltpOptions, system_options=LltpSystemOptions
)
