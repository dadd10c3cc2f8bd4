"""The hộ tịch profile: :class:`~gateway.connectors.ministry.MinistryProfile` over
:class:`~gateway.connectors.ministry.hotich.client.HoTichClient`.

- Hand-over: ``dangKyHoTich`` with the registration XML built from the dossier record and the
  route's ``module``; the register's own fields come from the hand-over's ``forms`` (the
  dossier's ``ThongTinKhac`` object), each a string or a number.
- The ministry is not known to de-duplicate by ``maHoSo`` (``natural_key = False``): after an
  ambiguous failure the framework calls :meth:`HoTichProfile.find`, and ``traTrangThaiHoSo``'s
  error 201 ("record not found") is what tells it a resend opens no second case.
- Status: ``traTrangThaiHoSo`` 1 → received, 2 → supplement requested (the detail says what),
  3 → processing (eligible, not registered yet), 4 → completed, 0 → refused.
- Feed: ``dsHoSoDangKy`` per configured register over the last ``feed_days`` days; it has no
  acknowledgement, so entries repeat and the framework's fingerprint makes them harmless.
- Result: ``ketQuaDangKyHS`` once completed (error 200 while it is not), fetched with the
  completed status itself (from a poll or the feed), since tracking ends there.

Configuration: route ``options = { module = "KS" }``; system ``options = { agency_code = "…",
feed_modules = ["KS"] }`` (:class:`~gateway.connectors.ministry.hotich.client.HoTichSettings`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from gateway.connectors.ministry.hotich.client import (
    REGISTER,
    HoTichClient,
    HoTichSettings,
)
from gateway.connectors.ministry.profile import (
    PROFILES,
    CaseRef,
    CaseResult,
    CaseState,
    CaseStatus,
    HandOver,
    ProfileType,
    SystemContext,
    system_options,
)
from gateway.errors import ConfigurationError, ContractError, PermanentPeerError
from gateway.mappers.dates import parse_lltp_date
from gateway.mappers.hotich_xml import registration_from_dossier
from gateway.schemas.hotich import HoTichModule, HoTichStatus
from gateway.schemas.wire import VIETNAM_TZ

__all__ = ["HOTICH_STATES", "HoTichProfile", "HoTichRouteOptions", "build"]

HOTICH_STATES: Mapping[HoTichStatus, CaseState] = {
    HoTichStatus.RECEIVED: CaseState.RECEIVED,
    HoTichStatus.SUPPLEMENT: CaseState.SUPPLEMENT_REQUESTED,
    HoTichStatus.ELIGIBLE: CaseState.PROCESSING,
    HoTichStatus.COMPLETED: CaseState.COMPLETED,
    HoTichStatus.ERROR: CaseState.REFUSED,
}


_RESULTS_KEPT = 4096


class HoTichRouteOptions(BaseModel):
    """``[[ministry.routes]] options`` of a hộ tịch route: which register it files into."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    module: HoTichModule


def _day(text: str | None) -> datetime | None:
    """A ministry ``dd/mm/yyyy`` as the start of that day in Vietnam; ``None`` if unreadable
    (a status is still worth having without its date)."""
    if not text:
        return None
    try:
        day = parse_lltp_date(text)
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=VIETNAM_TZ)


def _details(forms: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for name, value in forms.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ContractError.single(
                f"ThongTinKhac.{name}", "hotich_field_scalar", "must be a string or a number"
            )
        out.append((name, str(value)))
    return tuple(out)


class HoTichProfile:
    """One configured hộ tịch system."""

    operation = REGISTER
    natural_key = False

    def __init__(self, system: SystemContext, settings: HoTichSettings) -> None:
        self._system = system
        self._settings = settings
        self._client = HoTichClient(system.http, settings, system=system.name)
        # Results of completed registrations, kept because dsHoSoDangKy repeats a completed
        # entry on every read of its window: a settled result never changes.
        self._results: OrderedDict[str, CaseResult] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def has_feed(self) -> bool:
        """True when registers to read ``dsHoSoDangKy`` for are configured."""
        return bool(self._settings.feed_modules)

    def hand_over(self, handover: HandOver) -> CaseRef:
        """``dangKyHoTich``; a dossier the ministry cannot take as XML is refused permanently."""
        options = handover.options
        if not isinstance(options, HoTichRouteOptions):
            raise ConfigurationError(f"route {handover.route}: not hộ tịch route options")
        try:
            registration = registration_from_dossier(
                handover.record, module=options.module, details=_details(handover.forms)
            )
            self._client.register(registration)
        except ContractError as exc:
            first = exc.violations[0] if exc.violations else None
            where = f"{first.path}: {first.rule}" if first else "contract"
            raise PermanentPeerError(
                f"the dossier cannot be registered ({where})",
                system=self._system.name,
                operation=REGISTER,
                peer_code=None,
            ) from exc
        return CaseRef(dossier_no=handover.dossier_no)

    def find(self, ref: CaseRef) -> CaseStatus | None:
        """``traTrangThaiHoSo``; ``None`` on 201 (no such record)."""
        state = self._client.state(ref.dossier_no)
        if state is None:
            return None
        return CaseStatus(
            dossier_no=ref.dossier_no,
            status=str(int(state.status)),
            state=HOTICH_STATES[state.status],
            changed_at=_day(state.updated_on),
            detail=state.supplement if state.status is HoTichStatus.SUPPLEMENT else state.note,
            result=self._settled(ref.dossier_no, state.status),
        )

    def _settled(self, dossier_no: str, status: HoTichStatus) -> CaseResult | None:
        # A completed status carries its result: tracking stops at a terminal state, so the
        # result is fetched with the status that ends the case.
        if status is not HoTichStatus.COMPLETED:
            return None
        with self._lock:
            known = self._results.get(dossier_no)
        if known is not None:
            return known
        found = self.result(CaseRef(dossier_no=dossier_no))
        if found is not None:
            with self._lock:
                self._results[dossier_no] = found
                while len(self._results) > _RESULTS_KEPT:
                    self._results.popitem(last=False)
        return found

    def changes(self) -> Sequence[CaseStatus]:
        """``dsHoSoDangKy`` for every configured register, over the last ``feed_days`` days."""
        today = datetime.fromtimestamp(self._system.clock(), VIETNAM_TZ).date()
        since: date = today - timedelta(days=self._settings.feed_days)
        out: list[CaseStatus] = []
        for module in self._settings.feed_modules:
            for change in self._client.changes(module, since):
                out.append(
                    CaseStatus(
                        dossier_no=change.dossier_no,
                        status=str(int(change.status)),
                        state=HOTICH_STATES[change.status],
                        changed_at=_day(change.updated_on),
                        result=self._settled(change.dossier_no, change.status),
                    )
                )
        return out

    def acknowledge(self, changes: Sequence[CaseStatus]) -> None:
        """``dsHoSoDangKy`` has no acknowledgement: nothing to tell the ministry."""

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> Sequence[CaseStatus]:
        """The hộ tịch service pushes nothing: every callback is refused."""
        raise ContractError.single("", "callback_unsupported", "hộ tịch does not push statuses")

    def result(self, ref: CaseRef) -> CaseResult | None:
        """``ketQuaDangKyHS``; ``None`` while the registration is not complete (200)."""
        found = self._client.result(ref.dossier_no)
        if found is None:
            return None
        return CaseResult(
            number=found.registration_no,
            issued_at=_day(found.registered_on),
            url=found.document_url,
            note=f"quyển số {found.book_no}" if found.book_no else None,
        )

    def close(self) -> None:
        """Nothing beyond ``system.http``."""


def build(system: SystemContext) -> HoTichProfile:
    """The profile of one ``[peers.<system>]``; its ``options`` must be :class:`HoTichSettings`."""
    return HoTichProfile(system, system_options(system, HoTichSettings))


PROFILES["hotich"] = ProfileType(
    name="hotich", build=build, options=HoTichRouteOptions, system_options=HoTichSettings
)
