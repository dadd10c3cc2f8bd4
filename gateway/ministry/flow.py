"""Results flow back: a recorded case change becomes a webhook event and, where the route says
so, a DVCQG progress step.

Both are outbox entries, so the core delivers them with its guarantees, and both are built from
the queued change alone (:mod:`.store`), so building them again after a crash gives the same
fingerprints and the outbox answers "duplicate":

- the event goes on :data:`~gateway.connectors.webhook.ORDERED_CHANNEL` (append mode, subject
  ``<system>.<MaHoSo>``, order = the case's change number), so one case's events reach the
  client one after the other, in the order the changes were recorded;
- the step goes on the DVCQG append channel ``CapNhatTienDoHoSoMC`` with ``ThoiDiemXuLy`` the
  recorded time, which the store keeps strictly increasing per case, so steps stay in order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from gateway.connectors.base import Entry
from gateway.connectors.dvcqg import Service
from gateway.connectors.ministry.profile import CaseState
from gateway.connectors.ministry.settings import Route
from gateway.connectors.webhook import ORDERED_CHANNEL
from gateway.ministry.store import CaseStore
from gateway.schemas.codes import DossierStatus
from gateway.schemas.national import ProgressRecord
from gateway.schemas.wire import format_wire_datetime

if TYPE_CHECKING:
    from gateway.service import GatewayService

__all__ = ["EVENT_TYPE", "NATIONAL_STATUS", "FlowBack", "progress_record"]

log = logging.getLogger("gateway.ministry")

EVENT_TYPE = "ministry.status"

NATIONAL_STATUS: Mapping[CaseState, DossierStatus] = {
    CaseState.RECEIVED: DossierStatus.PROCESSING,
    CaseState.PROCESSING: DossierStatus.PROCESSING,
    CaseState.SUPPLEMENT_REQUESTED: DossierStatus.SUPPLEMENT_REQUESTED,
    CaseState.COMPLETED: DossierStatus.FINISHED,
    CaseState.REFUSED: DossierStatus.STOPPED,
}
"""The dossier's national status while the ministry holds it: processing until the ministry
settles; "finished" (9) when it issued a result, which the one-stop desk then returns (10)."""

_CONTENT: Mapping[CaseState, str] = {
    CaseState.RECEIVED: "Cơ quan liên thông đã tiếp nhận hồ sơ",
    CaseState.PROCESSING: "Cơ quan liên thông đang xử lý hồ sơ",
    CaseState.SUPPLEMENT_REQUESTED: "Cơ quan liên thông yêu cầu bổ sung hồ sơ",
    CaseState.COMPLETED: "Cơ quan liên thông đã có kết quả",
    CaseState.REFUSED: "Cơ quan liên thông từ chối hồ sơ",
}


def _vn(ms: int) -> str:
    from datetime import UTC, datetime

    return format_wire_datetime(datetime.fromtimestamp(ms / 1000, tz=UTC))


def progress_record(route: Route, change: Mapping[str, Any], at_ms: int) -> ProgressRecord:
    """The DVCQG progress step of one recorded change (deterministic: same change, same step)."""
    state = CaseState(change["state"])
    return ProgressRecord.model_validate(
        {
            "MaHoSo": change["dossier_no"],
            "NguoiXuLy": route.handler,
            "ThoiDiemXuLy": _vn(at_ms),
            "PhongBanXuLy": change["system"],
            "NoiDungXuLy": f"{_CONTENT[state]} (mã trạng thái {change['status']})",
            "TrangThai": NATIONAL_STATUS[state].value,
        }
    )


class FlowBack:
    """Drains the store's queued changes into the outbox."""

    def __init__(self, gateway: GatewayService, store: CaseStore, routes: Mapping[str, Route]):
        self.gateway = gateway
        self.store = store
        self.routes = dict(routes)
        self.subscribed = {c.id for c in gateway.settings.clients if c.webhook_url is not None}
        self.steps_refused = 0

    def drain(self, limit: int = 500) -> int:
        """Flow back up to ``limit`` queued changes, oldest first; returns how many."""
        done = 0
        for member, at_ms, change in self.store.pending(limit):
            case = self.store.get(change["system"], change["dossier_no"])
            if case is None:  # the case was removed by an operator: nothing to tell
                self.store.done(member)
                continue
            seq = int(member.rsplit("|", 1)[1])
            self._event(case.client, change, seq, at_ms)
            route = self.routes.get(case.route)
            if route is not None and route.progress:
                self._step(route, case.agency, case.client, change, at_ms)
            self.store.done(member)
            done += 1
        return done

    def _event(self, client: str, change: Mapping[str, Any], seq: int, at_ms: int) -> None:
        if client not in self.subscribed or ORDERED_CHANNEL not in self.gateway.channels:
            return
        system, dossier = change["system"], change["dossier_no"]
        body = orjson.dumps(
            {
                "type": EVENT_TYPE,
                "at": at_ms,
                "system": system,
                "dossier_no": dossier,
                "case_id": change.get("case_id"),
                "status": change["status"],
                "state": change["state"],
                "sequence": seq,
                "result": change.get("result"),
            }
        )
        self.gateway.accept_entries(
            ORDERED_CHANNEL,
            client,
            [
                Entry(
                    subject=f"{system}.{dossier}",
                    # The change's number, not its status: a status reached twice is two
                    # events; a redo after a crash has the same number (a duplicate).
                    fingerprint=f"ministry|{system}|{dossier}|{seq}",
                    body=body,
                    order=seq,
                )
            ],
            # Not the client's own item: its delivery must not raise a delivery.* event about
            # the event (the core notifies an item's client of its deliveries).
            client="gateway",
        )

    def _step(
        self, route: Route, agency: str, client: str, change: Mapping[str, Any], at_ms: int
    ) -> None:
        record = progress_record(route, change, at_ms)
        (outcome,) = self.gateway.accept(
            Service.PROGRESS, agency, [record], client=client or "gateway"
        )
        if not outcome.accepted:
            # The province's own steps moved the dossier on (or it ended): the portal keeps
            # the province's history; the webhook still told the client.
            self.steps_refused += 1
            log.info(
                "ministry step for %s not accepted: %s", change["dossier_no"], outcome.refused_rule
            )
