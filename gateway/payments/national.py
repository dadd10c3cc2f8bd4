"""A payment reflected in the dossier's national record: ``DuocThanhToanTrucTuyen`` only.

The DVCQG dossier channel is latest-state: the portal must get the dossier's newest state, with
the payment flag set and every other field as the province last sent it. Read-modify-accept is
made atomic by a guard, not a lock: the patched state is accepted by ``accept.lua`` itself,
preceded by ``_guard_last.lua``, which refuses (``conflict``) when the state it was derived from
is no longer the latest. Then we read the newer state and patch that. A lock would need every
province intake to take it too; the guard needs nothing of them, and ``accept.lua``'s own rules
(duplicates, order, life cycle) still apply unchanged. A patch equal to the latest state is a
duplicate (same fingerprint): reflecting a payment twice sends nothing twice.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

from gateway.backoff import pause_after_lost_races
from gateway.connectors.dvcqg import Service, entries
from gateway.pipeline.keys import Keys
from gateway.pipeline.outbox import text
from gateway.schemas.codes import OnlinePayment
from gateway.schemas.national import DossierRecord
from gateway.service import GatewayService

__all__ = ["Reflected", "patch_state", "reflect_payment"]

Reflected = Literal["new", "dup", "conflict", "no_state", "refused"]
_ATTEMPTS = 20
# Between attempts, a growing, jittered pause (ceilings 1 ms doubling to 100 ms, about 0.7 s in
# all on average): a province pushing a burst of states would otherwise win every race while it
# lasts, since its accept is quicker than our read-patch-accept. Bursts end; the pause outlasts
# them.
_PAUSE_S = 0.001
_PAUSE_MAX_S = 0.1


@cache
def _source() -> str:
    lua = resources.files("gateway.pipeline").joinpath("lua")
    return "\n".join(
        lua.joinpath(f"{n}.lua").read_text("utf-8") for n in ("_prelude", "_guard_last", "accept")
    )


def patch_state(
    gateway: GatewayService, dossier_no: str, value: OnlinePayment, base_id: str
) -> Reflected:
    """Accept the state ``base_id`` with ``DuocThanhToanTrucTuyen`` set, if it is still latest."""
    keys = Keys(gateway.settings.namespace)
    channel = gateway.channels[Service.DOSSIER.value]
    body, part, client = gateway.client.hmget(keys.rec(base_id), "body", "part", "client")
    if body is None or part is None:
        return "no_state"
    record = DossierRecord.model_validate_json(body)
    patched = record.model_copy(update={"online_payment": value})
    (entry,) = entries(Service.DOSSIER, [patched])
    meta = f"{entry.subject} {entry.fingerprint} {entry.status or '-'} {entry.order} -"
    script = gateway.client.register_script(_source())
    raw = script(
        args=[
            gateway.settings.namespace,
            gateway.outbox.now_ms(),
            *channel.script_args(),
            "",  # notifications are the delivery scripts' business, not accept's
            ",,",
            text(part) or "",
            text(client) or "",
            channel.allowed,
            "",  # no correlation id: this is the gateway's own patch, not a request's record
            1,
            meta,
            entry.body,
            dossier_no,
            base_id,
        ]
    )
    line = text(raw) or ""
    if line == "conflict":
        return "conflict"
    code = line.split(" ")[0]
    if code == "new":
        partition = text(part) or ""
        if gateway.outbox.mark_triggered(channel.id, partition):
            gateway.trigger(channel.id, partition, None)
        return "new"
    return "dup" if code == "dup" else "refused"


def reflect_payment(gateway: GatewayService, dossier_no: str, value: OnlinePayment) -> Reflected:
    """Set the flag on the dossier's latest accepted state (retrying over concurrent states).

    ``no_state`` when the gateway holds no state of the dossier (nothing to patch).
    """
    keys = Keys(gateway.settings.namespace)
    sub = keys.sub(Service.DOSSIER.value, dossier_no)
    for attempt in range(_ATTEMPTS):
        pause_after_lost_races(attempt, first=_PAUSE_S, cap=_PAUSE_MAX_S)
        last = text(gateway.client.hget(sub, "last"))
        if last is None:
            return "no_state"
        result = patch_state(gateway, dossier_no, value, last)
        if result != "conflict":
            return result
    return "conflict"
