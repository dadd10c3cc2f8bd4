"""Evaluation records in Redis, updated atomically, with a change feed.

Keys (``ns`` is ``Settings.namespace``; the scripts build key names from ARGV like the outbox
scripts do, which is fine on one Redis, not on a cluster):

    ns:eval:d:<MaHoSo>     hash: v (version), seq (feed position), body (record JSON)
    ns:eval:seq            counter: the last feed position handed out
    ns:eval:feed           sorted set: MaHoSo scored by the feed position of its newest version
    ns:eval:ag:<agency>    set: dossiers evaluated under an agency
    ns:eval:agencies       set: every agency with an evaluation record

An update is optimistic: read version and body, fold in Python (the rules stay above storage),
then one script writes the new body only if the version is unchanged, and in the same atomic
step takes the next feed position and moves the dossier there. A lost race re-reads and folds
again, so concurrent intakes and workers never lose an update. Because a position is taken and
published in one step, positions become visible in order: a reader that has seen position N has
seen every change up to N, and a dossier appears once per version.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import redis

from gateway.evaluations.record import EvaluationRecord

__all__ = ["EvaluationStore", "Update"]

Fold = Callable[[EvaluationRecord], EvaluationRecord]

# Compare-and-set of many records in one call: ARGV = ns, then (MaHoSo, expected version,
# agency, body) per record; per record the new feed position, or -1 when its version moved on.
_PUT = """
local ns = ARGV[1]
local out = {}
for i = 2, #ARGV, 4 do
  local no, agency = ARGV[i], ARGV[i + 2]
  local key = ns .. ':eval:d:' .. no
  local v = tonumber(redis.call('HGET', key, 'v') or '0')
  if v ~= tonumber(ARGV[i + 1]) then
    out[#out + 1] = -1
  else
    local seq = redis.call('INCR', ns .. ':eval:seq')
    redis.call('HSET', key, 'v', v + 1, 'seq', seq, 'body', ARGV[i + 3])
    redis.call('ZADD', ns .. ':eval:feed', seq, no)
    redis.call('SADD', ns .. ':eval:ag:' .. agency, no)
    redis.call('SADD', ns .. ':eval:agencies', agency)
    out[#out + 1] = seq
  end
end
return out
"""

# Everything an intake batch's fold needs, in one call: ARGV = ns, the number of dossiers, the
# MaHoSo values, then the delivery ids. Per dossier {version, body, look-ups}; per delivery
# its intake flags.
_READ = """
local ns, n = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 3, 2 + n do
  local no = ARGV[i]
  local h = redis.call('HMGET', ns .. ':eval:d:' .. no, 'v', 'body')
  out[#out + 1] = h[1] or ''
  out[#out + 1] = h[2] or ''
  out[#out + 1] = redis.call('LRANGE', ns .. ':idchecks:' .. no, 0, -1)
end
for i = 3 + n, #ARGV do
  out[#out + 1] = redis.call('HGET', ns .. ':rec:' .. ARGV[i], 'flags') or ''
end
return out
"""

# The page and its bodies in one atomic read, so each body is exactly the version at its position.
_FEED = """
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0, ARGV[2])
local out = {}
for _, no in ipairs(items) do
  local h = redis.call('HMGET', ARGV[3] .. no, 'seq', 'body')
  out[#out + 1] = h[1]
  out[#out + 1] = h[2]
end
return out
"""

_MAX_TRIES = 100


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class Update:
    """One pending change: the dossier, the agency to create it under, and the fold."""

    no: str
    agency: str
    fold: Fold


class EvaluationStore:
    """Typed access to the evaluation keys of one namespace."""

    def __init__(self, client: redis.Redis, *, namespace: str = "gw") -> None:
        self.client = client
        self.ns = namespace
        self._put = client.register_script(_PUT)
        self._read_script = client.register_script(_READ)
        self._feed = client.register_script(_FEED)

    def _key(self, no: str) -> str:
        return f"{self.ns}:eval:d:{no}"

    def get(self, no: str) -> EvaluationRecord | None:
        """The evaluation record of dossier ``no``, if the gateway has one."""
        body = self.client.hget(self._key(no), "body")
        return None if body is None else EvaluationRecord.from_json(body)

    def apply(self, updates: Sequence[Update]) -> list[int | None]:
        """Apply each fold atomically; per update the new feed position (None: nothing changed).

        Updates of one dossier apply in order. One script call reads, one writes; an update that
        lost a race with another writer is read and folded again.
        """
        result: list[int | None] = [None] * len(updates)
        # Several updates of one dossier in one call: fold them together, in order.
        by_no: dict[str, list[int]] = {}
        for i, u in enumerate(updates):
            by_no.setdefault(u.no, []).append(i)
        pending = list(by_no)
        for attempt in range(_MAX_TRIES):
            if not pending:
                return result
            if attempt:
                # Lost a race: back off a little (full jitter) so hot dossiers do not livelock.
                time.sleep(random.uniform(0, 0.0005 * 2 ** min(attempt, 6)))  # noqa: S311
            current = self._read(pending)
            args: list[str | int | bytes] = [self.ns]
            written: list[str] = []
            for no, (v, body) in zip(pending, current, strict=True):
                first = updates[by_no[no][0]]
                old = (
                    EvaluationRecord.from_json(body)
                    if body
                    else EvaluationRecord(no=no, agency=first.agency)
                )
                new = old
                for i in by_no[no]:
                    new = updates[i].fold(new)
                if new is old:
                    continue
                written.append(no)
                args += [no, int(v or 0), new.agency, new.to_json()]
            retry: list[str] = []
            if written:
                for no, seq in zip(written, self._put(args=args), strict=True):
                    if int(seq) < 0:
                        retry.append(no)
                    else:
                        result[by_no[no][-1]] = int(seq)
            pending = retry
        raise redis.RedisError(
            f"evaluation update of {pending[0]} lost {_MAX_TRIES} races in a row"
        )

    def _read(self, nos: Sequence[str]) -> list[tuple[bytes | None, bytes | None]]:
        raw = self._read_script(args=[self.ns, len(nos), *nos])
        return [(raw[i] or None, raw[i + 1] or None) for i in range(0, 3 * len(nos), 3)]

    def read_batch(
        self, nos: Sequence[str], delivery_ids: Sequence[str]
    ) -> tuple[dict[str, list[bytes]], list[str]]:
        """For an intake batch, in one call: each dossier's identity look-ups
        (``ns:idchecks:<MaHoSo>``) and each delivery's intake flags (``ns:rec:<id>`` ``flags``)."""
        raw = self._read_script(args=[self.ns, len(nos), *nos, *delivery_ids])
        checks = {no: list(raw[3 * i + 2]) for i, no in enumerate(nos)}
        flags = [_text(f) for f in raw[3 * len(nos) :]]
        return checks, flags

    def update(self, no: str, agency: str, fold: Fold) -> int | None:
        """Apply one fold to dossier ``no`` atomically; the new feed position, or None."""
        return self.apply([Update(no, agency, fold)])[0]

    # -- reading -----------------------------------------------------------------------------

    def high_water(self) -> int:
        """The newest feed position handed out (0 when there is none)."""
        return int(self.client.get(f"{self.ns}:eval:seq") or 0)

    def feed(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` (position, record JSON) pairs after position ``after``, oldest first."""
        raw = self._feed(keys=[f"{self.ns}:eval:feed"], args=[after, limit, f"{self.ns}:eval:d:"])
        out: list[tuple[int, bytes]] = []
        for i in range(0, len(raw), 2):
            if raw[i] is not None and raw[i + 1] is not None:
                out.append((int(raw[i]), bytes(raw[i + 1])))
        return out

    def agencies(self) -> set[str]:
        """Every agency that has evaluation records."""
        return {_text(a) for a in self.client.smembers(f"{self.ns}:eval:agencies")}

    def records(self, agencies: Sequence[str], *, chunk: int = 2000) -> Iterator[EvaluationRecord]:
        """Every evaluation record filed under one of ``agencies`` (streamed in chunks)."""
        seen: set[str] = set()
        for agency in agencies:
            batch: list[str] = []
            for raw in self.client.sscan_iter(f"{self.ns}:eval:ag:{agency}", count=chunk):
                no = _text(raw)
                if no in seen:
                    continue
                seen.add(no)
                batch.append(no)
                if len(batch) >= chunk:
                    yield from self._bodies(batch)
                    batch = []
            if batch:
                yield from self._bodies(batch)

    def _bodies(self, nos: Sequence[str]) -> Iterator[EvaluationRecord]:
        pipe = self.client.pipeline(transaction=False)
        for no in nos:
            pipe.hget(self._key(no), "body")
        for body in pipe.execute():
            if body is not None:
                yield EvaluationRecord.from_json(body)
