"""The generic REST/JSON profile: a ministry case API described by configuration alone.

Paths for submit, status and result (``{key}`` is our receipt key, the dossier's ``MaHoSo``;
``{case_id}`` the ministry's id once known), the reply fields holding the case id, the status,
its time and the result (dotted paths into the JSON), the table from the ministry's status
values to ours, and the HTTP statuses that mean "no such case", "not ready" and "already
exists". The receipt key travels in the submit body (``key_field``) and, where the ministry
honours one, an ``Idempotency-Key`` header; a ministry that de-duplicates by it sets
``natural_key = true`` (the default).

A ministry whose API does not fit is one small module: subclass :class:`RestCaseProfile` and
override :meth:`~RestCaseProfile.submit_body` or a ``read_*`` method (the README's "Adding a
ministry"). Callbacks (a ministry pushing status changes) are read with the status fields: one
JSON object or a list of them, each naming the receipt key. A completed status carries its
result (the result fields read from the same object, else the result call), because tracking
ends at a terminal state; a completed callback must therefore carry the result fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import orjson
from pydantic import BaseModel, ConfigDict, Field

from gateway.connectors.ministry.profile import (
    PROFILES,
    CaseRef,
    CaseResult,
    CaseState,
    CaseStatus,
    HandOver,
    NoOptions,
    ProfileType,
    SystemContext,
    system_options,
)
from gateway.connectors.ministry.rest._call import call_json
from gateway.errors import ContractError, PeerReplyError
from gateway.mappers.dates import parse_dvcqg_datetime
from gateway.schemas.wire import VIETNAM_TZ

__all__ = ["RestCall", "RestCaseProfile", "RestResultFields", "RestSettings", "build", "pick"]

_MAX_REPLY = 2 * 1024 * 1024


class RestCall(BaseModel):
    """One endpoint: method and path (relative to the system's ``base_url``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["GET", "POST", "PUT"] = "GET"
    path: str = Field(min_length=1)


class RestResultFields(BaseModel):
    """Where the result's parts are in a result reply (dotted paths; ``None``: absent)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: str | None = "result.number"
    issued_at: str | None = "result.issuedAt"
    url: str | None = "result.url"
    note: str | None = "result.note"


class RestSettings(BaseModel):
    """``[peers.<system>] options`` of a REST ministry. Every name is the ministry's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    submit: RestCall = RestCall(method="POST", path="cases")
    status: RestCall = RestCall(path="cases/{key}")
    result: RestCall = RestCall(path="cases/{key}/result")
    key_field: str = "receiptKey"
    """The submit body's field carrying our receipt key (the dossier's ``MaHoSo``)."""
    key_header: str | None = "Idempotency-Key"
    agency_code: str | None = None
    """Sent as ``fields.agency``; the dossier's agency when unset."""
    fields: dict[str, str] = Field(
        default_factory=lambda: {
            "agency": "agencyCode",
            "procedure": "procedureCode",
            "received_at": "receivedAt",
            "owner": "applicantName",
            "summary": "summary",
            "forms": "form",
        }
    )
    """Our hand-over's parts → the ministry's submit fields (leave one out to not send it)."""
    case_id_field: str = "caseId"
    status_field: str = "status"
    changed_at_field: str | None = "updatedAt"
    """ISO 8601 with an offset, or DVCQG ``yyyyMMddHHmmss`` (UTC+7)."""
    detail_field: str | None = "note"
    statuses: dict[str, CaseState] = Field(
        default_factory=lambda: {
            "received": CaseState.RECEIVED,
            "processing": CaseState.PROCESSING,
            "supplement": CaseState.SUPPLEMENT_REQUESTED,
            "completed": CaseState.COMPLETED,
            "refused": CaseState.REFUSED,
        }
    )
    result_fields: RestResultFields = RestResultFields()
    not_found: tuple[int, ...] = (404,)
    """Statuses of a status call meaning "no such case" (``find`` → ``None``)."""
    not_ready: tuple[int, ...] = (404, 409)
    """Statuses of a result call meaning "no result yet" (``result`` → ``None``)."""
    already_exists: tuple[int, ...] = (409,)
    """Statuses of a submit meaning "a case exists for this key": a success."""
    natural_key: bool = True


def pick(data: Any, path: str | None) -> Any:
    """The value at dotted ``path`` in ``data`` (``None`` when any step is missing)."""
    if path is None:
        return None
    for part in path.split("."):
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _when(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit() and len(text) == 14:
        return parse_dvcqg_datetime(text)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=VIETNAM_TZ)


def _order(changed_at: datetime | None) -> int | None:
    """The change's place in the case's history: its time in epoch ms (a late callback older
    than the recorded status is then stale), ``None`` when the ministry gives no time."""
    return None if changed_at is None else int(changed_at.timestamp() * 1000)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


class RestCaseProfile:
    """A REST ministry; thread-safe (state lives in ``system.http``)."""

    has_feed = False

    def __init__(self, system: SystemContext, settings: RestSettings) -> None:
        self.system = system
        self.settings = settings
        self.natural_key = settings.natural_key

    @property
    def operation(self) -> str:
        """The channel's operation: ``submit`` (REST paths make poor names)."""
        return "submit"

    # -- the seam ----------------------------------------------------------------------------

    def submit_body(self, handover: HandOver) -> dict[str, Any]:
        """The submit body for ``handover`` (the receipt key plus the configured fields)."""
        record = handover.record
        ours: dict[str, Any] = {
            "agency": self.settings.agency_code or handover.agency,
            "procedure": handover.procedure,
            "received_at": record.received_at,
            "owner": record.owner_name,
            "summary": record.summary,
            "forms": dict(handover.forms),
        }
        body = {self.settings.key_field: handover.dossier_no}
        for name, theirs in self.settings.fields.items():
            if name in ours and ours[name] is not None:
                body[theirs] = ours[name]
        return body

    def read_status(self, dossier_no: str, data: Any, operation: str) -> CaseStatus:
        """A status object as a :class:`CaseStatus`."""
        s = self.settings
        code = _str(pick(data, s.status_field))
        state = s.statuses.get(code or "")
        if code is None or state is None:
            raise PeerReplyError("status_unknown", system=self.system.name, operation=operation)
        try:
            changed_at = _when(pick(data, s.changed_at_field))
        except ValueError:
            raise PeerReplyError(
                "changed_at_format", system=self.system.name, operation=operation
            ) from None
        result = None
        if state is CaseState.COMPLETED and pick(data, s.result_fields.number) is not None:
            result = self.read_result(data, operation)
        return CaseStatus(
            dossier_no=dossier_no,
            status=code,
            state=state,
            case_id=_str(pick(data, s.case_id_field)),
            changed_at=changed_at,
            detail=_str(pick(data, s.detail_field)),
            result=result,
            order=_order(changed_at),
        )

    def read_result(self, data: Any, operation: str) -> CaseResult:
        """A result reply as a :class:`CaseResult`."""
        f = self.settings.result_fields
        try:
            issued = _when(pick(data, f.issued_at))
        except ValueError:
            raise PeerReplyError(
                "issued_at_format", system=self.system.name, operation=operation
            ) from None
        return CaseResult(
            number=_str(pick(data, f.number)),
            issued_at=issued,
            url=_str(pick(data, f.url)),
            note=_str(pick(data, f.note)),
        )

    # -- the profile -------------------------------------------------------------------------

    def hand_over(self, handover: HandOver) -> CaseRef:
        """Submit; "already exists" is a success and the case is then asked for its id."""
        s = self.settings
        headers = {s.key_header: handover.dossier_no} if s.key_header else {}
        reply = call_json(
            self.system.http,
            s.submit.method,
            self._path(s.submit, CaseRef(handover.dossier_no)),
            system=self.system.name,
            operation=self.operation,
            writes=True,
            max_bytes=_MAX_REPLY,
            json_body=self.submit_body(handover),
            headers=headers,
            accept_statuses=frozenset(s.already_exists),
        )
        case_id = _str(pick(reply.body, s.case_id_field))
        if case_id is None and reply.status in s.already_exists:
            found = self.find(CaseRef(handover.dossier_no))
            case_id = found.case_id if found else None
        return CaseRef(dossier_no=handover.dossier_no, case_id=case_id)

    def find(self, ref: CaseRef) -> CaseStatus | None:
        """The status; ``None`` for a ``not_found`` status."""
        s = self.settings
        reply = self._get(s.status, ref, "status", frozenset(s.not_found))
        if reply is None:
            return None
        status = self.read_status(ref.dossier_no, reply, "status")
        if status.case_id is None and ref.case_id is not None:
            status = CaseStatus(**{**_fields(status), "case_id": ref.case_id})
        if status.state is CaseState.COMPLETED and status.result is None:
            # Tracking ends at a terminal state: the completed status carries its result.
            found = self.result(ref)
            if found is not None:
                status = CaseStatus(**{**_fields(status), "result": found})
        return status

    def result(self, ref: CaseRef) -> CaseResult | None:
        """The result; ``None`` for a ``not_ready`` status."""
        reply = self._get(self.settings.result, ref, "result", frozenset(self.settings.not_ready))
        if reply is None:
            return None
        return self.read_result(reply, "result")

    def changes(self) -> Sequence[CaseStatus]:
        """No feed: statuses come by polling and callbacks."""
        return ()

    def acknowledge(self, changes: Sequence[CaseStatus]) -> None:
        """Nothing to acknowledge."""

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> Sequence[CaseStatus]:
        """A pushed change: a JSON object (or a list) with the receipt key and the status
        fields. Raises ContractError naming the item and field it cannot read."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ContractError.single("", "json_invalid", "the callback is not JSON") from None
        items = data if isinstance(data, list) else [data]
        out: list[CaseStatus] = []
        s = self.settings
        for i, item in enumerate(items):
            where = f"{i}." if isinstance(data, list) else ""
            key = pick(item, s.key_field)
            if not isinstance(key, str) or not key:
                raise ContractError.single(where + s.key_field, "missing", "the receipt key")
            try:
                out.append(self.read_status(key, item, "callback"))
            except PeerReplyError as exc:
                raise ContractError.single(
                    where + s.status_field, exc.rule, "a status the configuration does not map"
                ) from None
        return out

    def close(self) -> None:
        """Nothing beyond ``system.http``."""

    # -- helpers -----------------------------------------------------------------------------

    def _path(self, call: RestCall, ref: CaseRef) -> str:
        return call.path.replace("{key}", quote(ref.dossier_no, safe="")).replace(
            "{case_id}", quote(ref.case_id or "", safe="")
        )

    def _get(self, call: RestCall, ref: CaseRef, operation: str, absent: frozenset[int]) -> Any:
        if "{case_id}" in call.path and ref.case_id is None:
            return None  # no id yet: the ministry cannot be asked by it
        reply = call_json(
            self.system.http,
            call.method,
            self._path(call, ref),
            system=self.system.name,
            operation=operation,
            writes=False,
            max_bytes=_MAX_REPLY,
            accept_statuses=absent,
        )
        if reply.status in absent:
            return None
        return reply.body


def _fields(status: CaseStatus) -> dict[str, Any]:
    return {name: getattr(status, name) for name in CaseStatus.__slots__}


def build(system: SystemContext) -> RestCaseProfile:
    """The generic REST profile of one ``[peers.<system>]`` (options: :class:`RestSettings`)."""
    return RestCaseProfile(system, system_options(system, RestSettings))


PROFILES["rest"] = ProfileType(
    name="rest", build=build, options=NoOptions, system_options=RestSettings
)
