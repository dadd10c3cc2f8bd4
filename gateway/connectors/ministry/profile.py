"""The interface a ministry profile implements, and the registry the framework finds it in.

A **profile** is one small module that knows one ministry protocol (LLTP, hộ tịch, a generic
SOAP or REST service): how to hand a dossier over, how to ask for a case's status and result, and
optionally how to read a changed-cases feed or a pushed callback. Everything else is generic and
lives in the framework (:mod:`gateway.connectors.ministry` and the pipeline): routing by
procedure code, the hand-over channel with the delivery core's retries, breaker, dead letters and
replay, the case store, the polling schedule, feed deduplication, and the flow back to the
provincial webhook and the DVCQG progress steps.

How a profile plugs in
======================

1. Write a module (``gateway/connectors/ministry/<name>.py``) with a class satisfying
   :class:`MinistryProfile` and a builder ``build(system: SystemContext) -> MinistryProfile``.
2. Register it: ``PROFILES["<name>"] = ProfileType(name=..., build=..., options=<pydantic model>)``
   at import time, and add the module to :data:`PROFILE_MODULES` so it is imported on demand.
   ``options`` validates ``[[ministry.routes]] options = {...}`` of routes using the profile,
   ``system_options`` the ``options`` of its ``[peers.<system>]`` section.
3. Configure it: a ``[[ministry.routes]]`` entry naming ``procedures``, ``system`` and ``profile``,
   and a ``[peers.<system>]`` section (:class:`~gateway.connectors.ministry.settings.SystemConfig`:
   base URL, OAuth2 client credentials, timeouts, poll schedule, and the core's ``retry``,
   ``breaker``, ``concurrency``).

What the framework guarantees a profile
---------------------------------------
- :meth:`MinistryProfile.hand_over` is called from the delivery core's worker threads (several at
  once: be thread-safe), at most once per attempt, with the same :class:`HandOver` on every retry
  and replay. After an *ambiguous* failure the framework first calls :meth:`~MinistryProfile.find`
  and only hands over again when the ministry holds no case for the dossier; a profile whose
  ministry de-duplicates by a natural key (LLTP ``idReceivedDec``) sets ``natural_key = True`` and
  the framework still asks first (cheaper than a second case if the ministry's dedupe is wrong).
  Without a natural key, :meth:`~MinistryProfile.find` is asked before every hand-over.
- :meth:`~MinistryProfile.status`, :meth:`~MinistryProfile.changes` and callbacks may report the
  same change any number of times; the framework dedupes by :attr:`CaseStatus.fingerprint` and
  records a change before :meth:`~MinistryProfile.acknowledge` is called, so a lost
  acknowledgement only means seeing the change again.
- ``system.http`` (:class:`SystemContext`) is an ``httpx.Client`` already carrying the base URL,
  timeouts and OAuth2 client-credentials auth (:class:`~gateway.connectors.ministry.oauth.
  ClientCredentials`: token cached, refreshed before expiry and once on a 401).
  :func:`gateway.connectors.ministry.http.post_json` wraps one call with the shared transport
  error classification; profiles that speak SOAP may build their own client from ``system``
  (``ClientCredentials`` also works as the auth of an ``httpx.AsyncClient``, for zeep's
  ``AsyncTransport``).

What a profile must do
----------------------
- Translate every failure into :mod:`gateway.errors` at the boundary: ``TransientPeerError``
  (``ambiguous=True`` when a writing call may have been applied), ``PermanentPeerError`` (the
  ministry refused this dossier as sent: dead letter), ``PeerAuthError`` (our credentials).
  The classification of the ministry's own codes lives in the profile (``classify_reply``).
- Never log or put in error messages personal data (names, ID numbers); ``PeerError`` scrubs long
  digit runs, but do not rely on it for names.
- Keep ``CaseStatus.status`` the ministry's own code (a string) and map it to a generic
  :class:`CaseState`; the framework turns states into webhook events and progress steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.errors import ConfigurationError
from gateway.schemas.national import DossierRecord

if TYPE_CHECKING:
    import httpx

    from gateway.connectors.ministry.settings import SystemConfig

__all__ = [
    "PROFILES",
    "PROFILE_MODULES",
    "CaseRef",
    "CaseResult",
    "CaseState",
    "CaseStatus",
    "HandOver",
    "MinistryProfile",
    "NoOptions",
    "ProfileType",
    "SystemContext",
    "profile_type",
    "system_options",
]


class CaseState(StrEnum):
    """A ministry case's state, normalised across profiles (the ministry's code is kept too)."""

    RECEIVED = "received"
    """The ministry holds the case and has not started (LLTP 3, hộ tịch 1)."""
    PROCESSING = "processing"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    """The ministry needs more from the applicant (hộ tịch 2)."""
    COMPLETED = "completed"
    """Settled with a result (LLTP 5 certificate issued, hộ tịch 4). Terminal."""
    REFUSED = "refused"
    """Settled without a result (the ministry rejected it). Terminal."""

    @property
    def terminal(self) -> bool:
        """No further change is expected: tracking of the case stops."""
        return self in (CaseState.COMPLETED, CaseState.REFUSED)


@dataclass(frozen=True, slots=True)
class HandOver:
    """What the framework hands a profile: one dossier for one route.

    ``record`` is the dossier as accepted at the intake (the DVCQG ``DongBoHoSoMC`` record);
    ``dossier_no`` its ``MaHoSo`` (the one-stop receipt number, LLTP's ``idReceivedDec``).
    ``forms`` is the profile-specific part the DVCQG record cannot carry (LLTP's
    ``declarationWSForm`` …), taken from the dossier's ``ThongTinKhac`` when it is a JSON object
    (see :func:`gateway.connectors.ministry.connector.forms_of`), else empty. ``options`` are the
    route's validated ``options`` (the profile's :attr:`ProfileType.options` model).
    """

    dossier_no: str
    procedure: str
    agency: str
    route: str
    record: DossierRecord
    options: BaseModel
    forms: Mapping[str, Any] = field(default_factory=dict)
    client: str = ""
    """The provincial client that sent the dossier (who hears of the case's progress)."""


@dataclass(frozen=True, slots=True)
class CaseRef:
    """A case at the ministry: our dossier number and the ministry's id once known."""

    dossier_no: str
    case_id: str | None = None
    identify_no: str | None = None
    """An applicant identifier some lookups require (LLTP ``identifyNo``); never logged."""


@dataclass(frozen=True, slots=True)
class CaseResult:
    """What the ministry settled: a document number, dates, an optional link and a note."""

    number: str | None = None
    approved_at: datetime | None = None
    issued_at: datetime | None = None
    url: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class CaseStatus:
    """One observation of a case's status (from a poll, the feed or a callback).

    ``status`` is the ministry's own code as a string; ``state`` its normalised meaning.
    ``ack`` is what :meth:`MinistryProfile.acknowledge` needs to mark this change taken (LLTP's
    declaration id), ``None`` for polled statuses. ``changed_at`` is when the ministry says the
    change happened, if it says.
    """

    dossier_no: str
    status: str
    state: CaseState
    case_id: str | None = None
    changed_at: datetime | None = None
    detail: str | None = None
    result: CaseResult | None = None
    ack: str | None = None
    order: int | None = None
    """Grows with each change of one case in the ministry's own history (LLTP: the status
    code, which only rises; a profile with change times: their epoch ms). A change seen late
    (a callback queued before the poll that saw a newer status) whose order is below the last
    recorded one is stale: deduplicated, never flowed back, so changes reach the province in
    order. ``None``: the profile cannot order them, and arrival order is kept."""

    @property
    def fingerprint(self) -> str:
        """What makes a repeat of this change a duplicate: the case and the status reached
        (a status reached again with an ``order`` above every recorded one is a new change)."""
        return f"{self.dossier_no}|{self.status}"


@dataclass(frozen=True, slots=True)
class SystemContext:
    """What a profile is built with: the system's name, its configuration, a ready HTTP client
    and the clock (seconds since the epoch; injectable so tests never sleep)."""

    name: str
    config: SystemConfig
    http: httpx.Client
    clock: Callable[[], float]


@runtime_checkable
class MinistryProfile(Protocol):
    """One ministry protocol, bound to one configured system. Must be thread-safe."""

    @property
    def operation(self) -> str:
        """The hand-over operation's name (``nhanHoSoDangKy``); the channel is
        ``<system>.<operation>``."""
        ...

    @property
    def natural_key(self) -> bool:
        """True when the ministry itself refuses a second case for the same dossier number."""
        ...

    @property
    def has_feed(self) -> bool:
        """True when :meth:`changes`/:meth:`acknowledge` are implemented."""
        ...

    def hand_over(self, handover: HandOver) -> CaseRef:
        """Open the case; returns its reference (``case_id`` set when the ministry gives one).

        A ministry answering "already exists" for our dossier number is a success: return the
        existing case. Raises the :mod:`gateway.errors` peer tree.
        """
        ...

    def find(self, ref: CaseRef) -> CaseStatus | None:
        """The case's current status, or ``None`` when the ministry holds no such case.

        Used after an ambiguous hand-over and by polling. Raises like :meth:`hand_over` (reads
        are never ambiguous).
        """
        ...

    def changes(self) -> Sequence[CaseStatus]:
        """The changed-cases feed: every change not yet acknowledged (may repeat). Profiles
        without a feed return ``()``."""
        ...

    def acknowledge(self, changes: Sequence[CaseStatus]) -> None:
        """Tell the ministry these changes were taken (their :attr:`CaseStatus.ack`)."""
        ...

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> Sequence[CaseStatus]:
        """Read a pushed status change (the endpoint authenticated the caller already).

        Raises :class:`gateway.errors.ContractError` naming the field for a body it cannot read;
        profiles without callbacks raise it for any body.
        """
        ...

    def result(self, ref: CaseRef) -> CaseResult | None:
        """The settled result of a completed case, when the status did not carry it."""
        ...

    def close(self) -> None:
        """Release what the profile holds beyond ``system.http`` (closed by the framework)."""
        ...


class NoOptions(BaseModel):
    """Route options of a profile that takes none."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class ProfileType:
    """A registered profile: its name, its builder, and the models of its route options
    (``[[ministry.routes]] options``) and of its system options (``[peers.<system>] options``),
    both checked when the configuration loads."""

    name: str
    build: Callable[[SystemContext], MinistryProfile]
    options: type[BaseModel] = NoOptions
    system_options: type[BaseModel] = NoOptions


PROFILES: dict[str, ProfileType] = {}
"""Registered profiles by name; a profile module adds itself at import time."""

PROFILE_MODULES: dict[str, str] = {
    "lltp": "gateway.connectors.ministry.lltp",
    "hotich": "gateway.connectors.ministry.hotich.profile",
    "soap": "gateway.connectors.ministry.soap.profile",
    "rest": "gateway.connectors.ministry.rest.profile",
}
"""Profile name → module that registers it (imported on first use); add yours here."""


_M = TypeVar("_M", bound=BaseModel)


def system_options(system: SystemContext, model: type[_M]) -> _M:
    """``[peers.<system>] options`` read as ``model``; a ConfigurationError naming the section."""
    try:
        return model.model_validate(system.config.options)
    except ValidationError as exc:
        raise ConfigurationError(f"[peers.{system.name}] options: {exc}") from None


def profile_type(name: str) -> ProfileType:
    """The registered profile ``name`` (importing its module if needed); KeyError if unknown."""
    if name not in PROFILES and name in PROFILE_MODULES:
        import importlib

        importlib.import_module(PROFILE_MODULES[name])
    return PROFILES[name]
