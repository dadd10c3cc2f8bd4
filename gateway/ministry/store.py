"""The case store (Redis): which ministry case each handed-over dossier became, and what we saw.

Keys, under the gateway's namespace ``ns`` (system ``Y``, dossier ``D``)::

    ns:min:case:Y:D     hash: route, agency, client, case_id, identify, opened_at, status,
                        state, seq (status changes recorded), last_at (ms of the last one),
                        order (the last change's, see CaseStatus.order), terminal
    ns:min:seen:Y:D     set: fingerprints (case|status) of the changes recorded
    ns:min:poll:Y       zset: open cases of Y, score = next poll (ms)
    ns:min:pending      hash: "Y|D|seq" -> JSON change waiting to flow back
    ns:min:pendz        zset: the same members, score = its ``at`` (ms): the flow-back order

**Exactly once, in order.** A change is *recorded* by one script (:data:`_OBSERVE`): its
fingerprint joins the seen set, the case's ``seq`` grows by one, and the change is queued for
flow-back with a time ``at`` strictly after the case's previous change, all atomically. A change
seen again (a lost acknowledgement, a duplicate callback, a poll after a feed) is ``dup`` and
has no second effect, unless its ``order`` is above every recorded one (the case came back to
a status it had: a new change); one seen late, older than one recorded (its ``order`` is
lower), or after the case settled, is ``stale`` and has none either. Flow-back (:mod:`.flow`)
turns a queued change into outbox entries whose fingerprints derive from (case, change number)
and whose bodies are built from the queued JSON only, so redoing it after a crash is a
duplicate at accept; only then is it unqueued.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from gateway.connectors.ministry.profile import CaseRef, CaseStatus, HandOver

__all__ = ["CaseStore", "Observed", "StoredCase"]

_OPEN = """
local case, poll = KEYS[1], KEYS[2]
local now, poll_ms, dossier = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
if redis.call('EXISTS', case) == 0 then
  redis.call('HSET', case, 'route', ARGV[4], 'agency', ARGV[5], 'client', ARGV[6],
    'identify', ARGV[7], 'opened_at', now, 'seq', 0, 'last_at', 0, 'state', 'open')
  redis.call('ZADD', poll, 'NX', now + poll_ms, dossier)
end
if ARGV[8] ~= '' then redis.call('HSET', case, 'case_id', ARGV[8]) end
return redis.call('HGET', case, 'seq')
"""

# KEYS: case, seen, poll, pending, pendz. ARGV: now, poll_ms, dossier, fingerprint, status,
# state, terminal (1/0), member prefix "Y|D|", JSON of the change, case id ('' unknown), the
# change's order ('' none): below the case's last recorded order is stale.
_OBSERVE = """
local case, seen, poll, pending, pendz = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, poll_ms, dossier = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
if redis.call('EXISTS', case) == 0 then return 'unknown' end
local last_order = redis.call('HGET', case, 'order')
-- A status reached again later (2 -> 3 -> 2) has the fingerprint of its first time, but an
-- order above every recorded one: it is a new change, not a repeat.
local newer = ARGV[11] ~= '' and last_order and tonumber(ARGV[11]) > tonumber(last_order)
if redis.call('SISMEMBER', seen, ARGV[4]) == 1 and not newer then return 'dup' end
if redis.call('HGET', case, 'terminal') == '1' or
   (ARGV[11] ~= '' and last_order and tonumber(ARGV[11]) < tonumber(last_order)) then
  redis.call('SADD', seen, ARGV[4])
  return 'stale'
end
if ARGV[11] ~= '' then redis.call('HSET', case, 'order', ARGV[11]) end
redis.call('SADD', seen, ARGV[4])
local seq = redis.call('HINCRBY', case, 'seq', 1)
local last = tonumber(redis.call('HGET', case, 'last_at') or '0')
local at = now
if at <= last then at = last + 1000 end
redis.call('HSET', case, 'status', ARGV[5], 'state', ARGV[6], 'last_at', at)
if ARGV[10] ~= '' then redis.call('HSET', case, 'case_id', ARGV[10]) end
local member = ARGV[8] .. string.format('%06d', seq)
redis.call('HSET', pending, member, at .. '|' .. ARGV[9])
redis.call('ZADD', pendz, at, member)
if ARGV[7] == '1' then
  redis.call('HSET', case, 'terminal', '1')
  redis.call('ZREM', poll, dossier)
else
  redis.call('ZADD', poll, now + poll_ms, dossier)
end
return 'new ' .. seq .. ' ' .. at
"""


@dataclass(frozen=True, slots=True)
class Observed:
    """What recording a change did: ``new`` (queued to flow back), ``dup`` (seen before),
    ``stale`` (the case is settled already) or ``unknown`` (no such case handed over)."""

    code: str
    seq: int = 0
    at_ms: int = 0


@dataclass(frozen=True, slots=True)
class StoredCase:
    """One case as stored."""

    system: str
    dossier_no: str
    route: str
    agency: str
    client: str
    case_id: str | None
    identify_no: str | None
    status: str | None
    state: str
    seq: int
    terminal: bool

    @property
    def ref(self) -> CaseRef:
        """The reference a profile looks the case up by."""
        return CaseRef(self.dossier_no, self.case_id, self.identify_no)


class CaseStore:
    """Cases of every ministry system of one gateway. ``clock`` is seconds since the epoch."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        poll_seconds: Callable[[str], float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.ns = namespace
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._open = client.register_script(_OPEN)
        self._observe = client.register_script(_OBSERVE)
        self.pending_key = f"{namespace}:min:pending"
        self.pendz_key = f"{namespace}:min:pendz"

    def now_ms(self) -> int:
        """The store's clock in ms."""
        return int(self._clock() * 1000)

    def case_key(self, system: str, dossier_no: str) -> str:
        """One case's hash."""
        return f"{self.ns}:min:case:{system}:{dossier_no}"

    def seen_key(self, system: str, dossier_no: str) -> str:
        """One case's recorded fingerprints."""
        return f"{self.ns}:min:seen:{system}:{dossier_no}"

    def poll_key(self, system: str) -> str:
        """Open cases of one system by next poll time."""
        return f"{self.ns}:min:poll:{system}"

    # -- writing -------------------------------------------------------------------------------

    def opened(
        self, system: str, handover: HandOver, ref: CaseRef, status: CaseStatus | None
    ) -> None:
        """Record that the ministry holds ``handover``'s case (idempotent), and its status."""
        identify = ref.identify_no or ""
        self._open(
            keys=[self.case_key(system, ref.dossier_no), self.poll_key(system)],
            args=[
                self.now_ms(),
                int(self._poll_seconds(system) * 1000),
                ref.dossier_no,
                handover.route,
                handover.agency,
                handover.client,
                identify,
                ref.case_id or "",
            ],
        )
        if status is not None:
            self.observe(system, status)

    def observe(self, system: str, status: CaseStatus) -> Observed:
        """Record one change of a case (see the module docs); never has a second effect."""
        change = {
            "system": system,
            "dossier_no": status.dossier_no,
            "status": status.status,
            "state": status.state.value,
            "case_id": status.case_id,
            "detail": status.detail,
            "result": _result(status),
        }
        raw = self._observe(
            keys=[
                self.case_key(system, status.dossier_no),
                self.seen_key(system, status.dossier_no),
                self.poll_key(system),
                self.pending_key,
                self.pendz_key,
            ],
            args=[
                self.now_ms(),
                int(self._poll_seconds(system) * 1000),
                status.dossier_no,
                status.fingerprint,
                status.status,
                status.state.value,
                "1" if status.state.terminal else "0",
                f"{system}|{status.dossier_no}|",
                orjson.dumps(change),
                status.case_id or "",
                "" if status.order is None else str(status.order),
            ],
        )
        parts = (raw.decode() if isinstance(raw, bytes) else str(raw)).split(" ")
        if parts[0] == "new":
            return Observed("new", int(parts[1]), int(parts[2]))
        return Observed(parts[0])

    def reschedule(self, system: str, dossier_no: str, *, after_seconds: float) -> None:
        """Poll an open case again later (only if it is still open)."""
        at = self.now_ms() + int(after_seconds * 1000)
        self.client.zadd(self.poll_key(system), {dossier_no: at}, xx=True)

    # -- reading -------------------------------------------------------------------------------

    def is_open(self, system: str, dossier_no: str) -> bool:
        """True when ``dossier_no`` has a case at ``system`` (recorded by :meth:`opened`)."""
        return bool(self.client.exists(self.case_key(system, dossier_no)))

    def due(self, system: str, limit: int) -> list[str]:
        """Open cases of ``system`` whose poll is due."""
        raw = self.client.zrangebyscore(self.poll_key(system), "-inf", self.now_ms(), 0, limit)
        return [m.decode() if isinstance(m, bytes) else str(m) for m in raw]

    def get(self, system: str, dossier_no: str) -> StoredCase | None:
        """One stored case, ``None`` if the dossier was never handed over to ``system``."""
        h = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in self.client.hgetall(self.case_key(system, dossier_no)).items()
        }
        if not h:
            return None
        return StoredCase(
            system=system,
            dossier_no=dossier_no,
            route=h.get("route", ""),
            agency=h.get("agency", ""),
            client=h.get("client", ""),
            case_id=h.get("case_id") or None,
            identify_no=h.get("identify") or None,
            status=h.get("status") or None,
            state=h.get("state", "open"),
            seq=int(h.get("seq", "0")),
            terminal=h.get("terminal") == "1",
        )

    def pending(self, limit: int) -> list[tuple[str, int, dict[str, Any]]]:
        """Changes waiting to flow back, oldest first: ``(member, at_ms, change)``."""
        members = [
            m.decode() if isinstance(m, bytes) else str(m)
            for m in self.client.zrange(self.pendz_key, 0, limit - 1)
        ]
        if not members:
            return []
        values = self.client.hmget(self.pending_key, members)
        out = []
        for member, value in zip(members, values, strict=True):
            if value is None:
                self.client.zrem(self.pendz_key, member)
                continue
            text = value.decode() if isinstance(value, bytes) else str(value)
            at, _, body = text.partition("|")
            out.append((member, int(at), orjson.loads(body)))
        return out

    def done(self, member: str) -> None:
        """A change has flowed back: unqueue it."""
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(self.pendz_key, member)
        pipe.hdel(self.pending_key, member)
        pipe.execute()


def _result(status: CaseStatus) -> dict[str, Any] | None:
    r = status.result
    if r is None:
        return None
    return {
        "number": r.number,
        "approved_at": r.approved_at.isoformat() if r.approved_at else None,
        "issued_at": r.issued_at.isoformat() if r.issued_at else None,
        "url": r.url,
        "note": r.note,
    }
