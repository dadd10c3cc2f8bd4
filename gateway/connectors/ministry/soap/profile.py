"""The generic SOAP profile: a ministry case service described by a WSDL, called with zeep over
the system's ``httpx.Client`` (:mod:`.transport`).

Out of the box it speaks the gateway's own contract, ``contracts/ministry/generic-case.wsdl``
(``NopHoSo`` keyed by ``MaBienNhan``, ``TraCuuTrangThai``, ``LayKetQua``): a ministry built to
it needs configuration only. A ministry with its own WSDL is one small module: subclass
:class:`SoapCaseProfile`, override the ``*_args`` / ``read_*`` hooks that map our hand-over to
its messages and its replies back, point ``wsdl``/``binding``/``operations`` at its contract, and
register it (the README's "Adding a ministry").

The WSDL is read from a local file once, when the profile is built (a missing or unusable one is
a :class:`~gateway.errors.ConfigurationError` at start-up); replies are parsed by zeep with
``forbid_dtd``, ``forbid_entities`` and ``forbid_external`` on. A SOAP fault is classified by
its ``faultcode``'s local part through the configured table (``Client.NotFound`` tried as
itself, then ``Client``), into permanent, transient, "no such case" (``find`` returns ``None``)
or "no result yet" (``result`` returns ``None``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
import orjson
import zeep
import zeep.exceptions
import zeep.helpers
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.connectors._http import parse_retry_after, transport_error
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
from gateway.connectors.ministry.soap.transport import HttpxTransport, NotSoapStatus
from gateway.contracts import contracts_dir
from gateway.errors import (
    ConfigurationError,
    ContractError,
    PeerAuthError,
    PeerError,
    PeerReplyError,
    PermanentPeerError,
    TransientPeerError,
)
from gateway.mappers.dates import parse_dvcqg_datetime

__all__ = [
    "DEFAULT_FAULTS",
    "DEFAULT_STATUSES",
    "GENERIC_WSDL",
    "FaultClass",
    "SoapCaseProfile",
    "SoapOperations",
    "SoapSettings",
    "build",
    "fault_class",
]

GENERIC_WSDL = "ministry/generic-case.wsdl"
"""Our generic contract, relative to the contracts directory."""

FaultClass = Literal["permanent", "transient", "not_found", "not_ready"]

DEFAULT_FAULTS: Mapping[str, FaultClass] = {
    "Client.NotFound": "not_found",
    "Client.NotReady": "not_ready",
    "Client": "permanent",
    "Server.Busy": "transient",
    "Server": "transient",
}
DEFAULT_STATUSES: Mapping[str, CaseState] = {
    "DA_TIEP_NHAN": CaseState.RECEIVED,
    "DANG_XU_LY": CaseState.PROCESSING,
    "YEU_CAU_BO_SUNG": CaseState.SUPPLEMENT_REQUESTED,
    "DA_CO_KET_QUA": CaseState.COMPLETED,
    "TU_CHOI": CaseState.REFUSED,
}


class SoapOperations(BaseModel):
    """The WSDL's operation names for our three calls."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    submit: str = "NopHoSo"
    status: str = "TraCuuTrangThai"
    result: str = "LayKetQua"


class SoapSettings(BaseModel):
    """``[peers.<system>] options`` of a SOAP ministry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agency_code: str = Field(min_length=1, description="MaDonVi: the sending office")
    wsdl: str = GENERIC_WSDL
    """A local file; a relative path is read from the contracts directory."""
    binding: str = "{urn:vn:lienthong:hoso:1}HoSoBinding"
    endpoint: str | None = Field(None, pattern=r"^https?://")
    """Where to post; the system's ``base_url`` when unset."""
    operations: SoapOperations = SoapOperations()
    faults: dict[str, FaultClass] = Field(default_factory=lambda: dict(DEFAULT_FAULTS))
    default_fault: FaultClass = "permanent"
    """For a fault code the table does not name: refuse (a dead letter an operator can read)."""
    statuses: dict[str, CaseState] = Field(default_factory=lambda: dict(DEFAULT_STATUSES))

    def wsdl_path(self) -> Path:
        """The WSDL file this system uses."""
        path = Path(self.wsdl)
        return path if path.is_absolute() else contracts_dir() / path


def fault_class(code: str, table: Mapping[str, FaultClass], default: FaultClass) -> FaultClass:
    """How to treat a fault: ``code`` (a ``faultcode``, prefix dropped) looked up as itself,
    then without its last dotted part, and so on; ``default`` when nothing matches."""
    local = code.rpartition(":")[2].strip()
    parts = local.split(".")
    while parts:
        found = table.get(".".join(parts))
        if found is not None:
            return found
        parts.pop()
    return default


class _Absent(Exception):
    """A fault that means "no such case" or "nothing yet", where the caller expects one."""

    def __init__(self, kind: FaultClass) -> None:
        self.kind = kind


_T = TypeVar("_T")


class SoapCaseProfile:
    """A SOAP ministry; the ``*_args``/``read_*`` methods are the seam a ministry module
    overrides for its own WSDL. Thread-safe (zeep's service proxy holds no per-call state)."""

    natural_key = True
    """Our contract's ``MaBienNhan`` de-duplicates: a repeat returns the open case."""
    has_feed = False

    def __init__(self, system: SystemContext, settings: SoapSettings) -> None:
        self.system = system
        self.settings = settings
        zeep_settings = zeep.Settings(
            strict=True,
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
            xml_huge_tree=False,
        )
        endpoint = settings.endpoint or system.config.base_url
        path = settings.wsdl_path()
        try:
            # zeep ships no type hints: its constructors are untyped calls.
            client = zeep.Client(
                str(path), transport=HttpxTransport(system.http), settings=zeep_settings
            )  # type: ignore[no-untyped-call]
            self._service: Any = client.create_service(settings.binding, endpoint)  # type: ignore[no-untyped-call]
            binding = client.wsdl.bindings[settings.binding]
            # zeep unwraps a reply element with one child to that child's value: remember each
            # reply's child names so every reply reads as a mapping of them.
            self._reply_fields: dict[str, list[str]] = {}
            for name in settings.operations.model_dump().values():
                self._service[name]
                body = binding.get(name).output.body  # type: ignore[no-untyped-call]  # zeep is untyped
                self._reply_fields[name] = [n for n, _ in body.type.elements]
        except (OSError, KeyError, AttributeError, ValueError, zeep.exceptions.Error) as exc:
            raise ConfigurationError(
                f"[peers.{system.name}]: cannot use {path.name} with binding {settings.binding}"
                f" and operations {settings.operations.model_dump()} ({type(exc).__name__})"
            ) from None

    @property
    def operation(self) -> str:
        """The submit operation's name (the channel is ``<system>.<operation>``)."""
        return self.settings.operations.submit

    # -- the seam: our hand-over ↔ the ministry's messages --------------------------------------

    def submit_args(self, handover: HandOver) -> dict[str, Any]:
        """The submit message's fields for ``handover``."""
        record = handover.record
        return {
            "MaBienNhan": handover.dossier_no,
            "MaDonVi": self.settings.agency_code,
            "MaTTHC": handover.procedure,
            "NgayTiepNhan": record.received_at,
            "ChuHoSo": record.owner_name,
            "TrichYeu": record.summary,
            "DuLieu": orjson.dumps(dict(handover.forms)).decode() if handover.forms else None,
        }

    def read_submit(self, handover: HandOver, reply: Mapping[str, Any]) -> CaseRef:
        """The case reference from the submit reply (a repeat's ``DaTonTai`` is a success)."""
        return CaseRef(dossier_no=handover.dossier_no, case_id=_str(reply.get("MaHoSoBo")))

    def key_args(self, ref: CaseRef) -> dict[str, Any]:
        """The status and result messages' fields for ``ref``."""
        return {"MaBienNhan": ref.dossier_no}

    def read_status(self, ref: CaseRef, reply: Mapping[str, Any]) -> CaseStatus:
        """A status reply as a :class:`CaseStatus` (its ``TrangThai`` through ``statuses``)."""
        code = _str(reply.get("TrangThai")) or ""
        changed_at = self._when(reply.get("ThoiDiemCapNhat"), self.settings.operations.status)
        return CaseStatus(
            dossier_no=ref.dossier_no,
            status=code,
            state=self.state_of(code, self.settings.operations.status),
            case_id=_str(reply.get("MaHoSoBo")) or ref.case_id,
            changed_at=changed_at,
            detail=_str(reply.get("GhiChu")),
            # Its time in epoch ms orders it in the case's history (None: arrival order).
            order=None if changed_at is None else int(changed_at.timestamp() * 1000),
        )

    def read_result(self, ref: CaseRef, reply: Mapping[str, Any]) -> CaseResult:
        """A result reply as a :class:`CaseResult`."""
        return CaseResult(
            number=_str(reply.get("SoKetQua")),
            issued_at=self._when(reply.get("NgayCap"), self.settings.operations.result),
            url=_str(reply.get("DuongDan")),
            note=_str(reply.get("GhiChu")),
        )

    def state_of(self, code: str, operation: str) -> CaseState:
        """Our state for the ministry's status ``code``; an unknown one breaks the contract."""
        state = self.settings.statuses.get(code)
        if state is None:
            raise PeerReplyError("status_unknown", system=self.system.name, operation=operation)
        return state

    # -- the profile ---------------------------------------------------------------------------

    def hand_over(self, handover: HandOver) -> CaseRef:
        """Submit; a fault the table calls "not found"/"not ready" here is permanent."""
        op = self.settings.operations.submit
        reply = self._absent_is_refusal(
            lambda: self._call(op, self.submit_args(handover), writes=True), op
        )
        return self._read(lambda: self.read_submit(handover, reply), op)

    def find(self, ref: CaseRef) -> CaseStatus | None:
        """The status; ``None`` on a "not found" fault."""
        op = self.settings.operations.status
        try:
            reply = self._call(op, self.key_args(ref), writes=False)
        except _Absent as absent:
            if absent.kind == "not_found":
                return None
            raise self._refusal(op) from None
        status = self._read(lambda: self.read_status(ref, reply), op)
        if status.state is CaseState.COMPLETED and status.result is None:
            # Tracking ends at a terminal state: the completed status carries its result.
            found = self.result(ref)
            if found is not None:
                status = _with_result(status, found)
        return status

    def result(self, ref: CaseRef) -> CaseResult | None:
        """The result; ``None`` on a "not ready" fault."""
        op = self.settings.operations.result
        try:
            reply = self._call(op, self.key_args(ref), writes=False)
        except _Absent as absent:
            if absent.kind == "not_ready":
                return None
            raise self._refusal(op) from None
        return self._read(lambda: self.read_result(ref, reply), op)

    def changes(self) -> Sequence[CaseStatus]:
        """No feed in the generic contract: statuses come by polling."""
        return ()

    def acknowledge(self, changes: Sequence[CaseStatus]) -> None:
        """Nothing to acknowledge."""

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> Sequence[CaseStatus]:
        """The generic SOAP contract pushes nothing: every callback is refused."""
        raise ContractError.single("", "callback_unsupported", "this SOAP ministry does not push")

    def close(self) -> None:
        """Nothing beyond ``system.http``."""

    # -- the boundary ----------------------------------------------------------------------------

    def _call(self, operation: str, args: Mapping[str, Any], *, writes: bool) -> dict[str, Any]:
        name = self.system.name
        try:
            reply = self._service[operation](**args)
        except NotSoapStatus as exc:
            raise _status_failure(exc.status, name, operation, writes, exc.retry_after) from None
        except zeep.exceptions.Fault as exc:
            if not exc.code:
                # A 500 whose body is XML but no SOAP fault (a proxy's error page).
                raise _status_failure(500, name, operation, writes) from None
            raise self._fault(str(exc.code), operation, writes) from None
        except (zeep.exceptions.DTDForbidden, zeep.exceptions.EntitiesForbidden):
            raise PeerReplyError("xml_dtd_forbidden", system=name, operation=operation) from None
        except zeep.exceptions.TransportError as exc:
            raise _status_failure(int(exc.status_code or 0), name, operation, writes) from None
        except (zeep.exceptions.XMLSyntaxError, zeep.exceptions.XMLParseError):
            raise PeerReplyError("xml_malformed", system=name, operation=operation) from None
        except zeep.exceptions.ValidationError as exc:
            # Our message breaks the WSDL's schema: the dossier as sent cannot go.
            raise PermanentPeerError(
                f"request refused by the WSDL schema ({exc.path or 'message'})",
                system=name,
                operation=operation,
            ) from None
        except httpx.TransportError as exc:
            raise transport_error(exc, system=name, operation=operation, writes=writes) from exc
        except zeep.exceptions.Error:
            raise PeerReplyError("reply_shape", system=name, operation=operation) from None
        serialized = zeep.helpers.serialize_object(reply, dict)  # type: ignore[no-untyped-call]
        fields = self._reply_fields.get(operation, [])
        if not isinstance(serialized, dict) and len(fields) == 1:
            serialized = {fields[0]: serialized}
        if not isinstance(serialized, dict):
            raise PeerReplyError("reply_shape", system=name, operation=operation)
        return serialized

    def _fault(self, code: str, operation: str, writes: bool) -> Exception:
        local = code.rpartition(":")[2].strip() or "unknown"
        kind = fault_class(local, self.settings.faults, self.settings.default_fault)
        name = self.system.name
        if kind in ("not_found", "not_ready"):
            return _Absent(kind)
        if kind == "transient":
            # A server-side fault after a submit may come after the case was stored.
            return TransientPeerError(
                f"SOAP fault {local}",
                system=name,
                operation=operation,
                peer_code=local,
                ambiguous=writes,
            )
        return PermanentPeerError(
            f"SOAP fault {local}", system=name, operation=operation, peer_code=local
        )

    def _refusal(self, operation: str) -> PeerError:
        return PermanentPeerError(
            "SOAP fault not expected for this call", system=self.system.name, operation=operation
        )

    def _absent_is_refusal(self, call: Callable[[], _T], operation: str) -> _T:
        try:
            return call()
        except _Absent:
            raise self._refusal(operation) from None

    def _read(self, read: Callable[[], _T], operation: str) -> _T:
        try:
            return read()
        except (ValueError, TypeError, ValidationError):
            # The peer's values are not quoted: they may carry personal data.
            raise PeerReplyError(
                "reply_shape", system=self.system.name, operation=operation
            ) from None

    def _when(self, value: object, operation: str) -> datetime | None:
        if value in (None, ""):
            return None
        return parse_dvcqg_datetime(str(value))


def _with_result(status: CaseStatus, result: CaseResult) -> CaseStatus:
    fields = {name: getattr(status, name) for name in CaseStatus.__slots__}
    return CaseStatus(**{**fields, "result": result})


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _status_failure(
    status: int, system: str, operation: str, writes: bool, retry_after: str | None = None
) -> PeerError:
    """An HTTP status zeep could not read a SOAP reply from (a proxy's page, no body)."""
    if status in (401, 403):
        return PeerAuthError(
            f"HTTP {status}: the LGSP refused our token",
            system=system,
            operation=operation,
            status=status,
        )
    if status in (408, 429) or status >= 500:
        return TransientPeerError(
            f"HTTP {status}",
            system=system,
            operation=operation,
            status=status,
            retry_after=parse_retry_after(retry_after),
            ambiguous=writes and status != 503,
        )
    if status == 200:
        return PeerReplyError("xml_malformed", system=system, operation=operation, status=200)
    return PermanentPeerError(f"HTTP {status}", system=system, operation=operation, status=status)


def build(system: SystemContext) -> SoapCaseProfile:
    """The generic SOAP profile of one ``[peers.<system>]`` (options: :class:`SoapSettings`)."""
    return SoapCaseProfile(system, system_options(system, SoapSettings))


PROFILES["soap"] = ProfileType(
    name="soap", build=build, options=NoOptions, system_options=SoapSettings
)
