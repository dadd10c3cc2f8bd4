"""Evaluation records in Redis, updated atomically, with a change feed.

Keys (``ns`` is ``Settings.namespace``; the scripts build key names from ARGV like the outbox
scripts do, which is fine on one Redis, not on a cluster):

    ns:eval:d:<MaHoSo>     hash: v (version), seq (feed position), body (record JSON)
    ns:eval:seq            counter: the last feed position handed out
    ns:eval:feed           sorted set: MaHoSo scored by the feed position of its newest version
    ns:eval:ag:<agency>    set: dossiers evaluated under an agency
    ns:eval:agencies       set: every agency with an evaluation record
    ns:eval:cursor         string: the last intake item id (``ns:seq``) folded in
    ns:eval:drain          string: the lease of the one process that folds items in

An update is optimistic: read version and body, fold in Python (the rules stay above storage),
then one script writes the new body only if the version is unchanged, and in the same atomic
step takes the next feed position and moves the dossier there. A lost race re-reads and folds
again, so concurrent intakes and workers never lose an update. Because a position is taken and
published in one step, positions become visible in order: a reader that has seen position N has
seen every change up to N, and a dossier appears once per version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import redis

from gateway.backoff import pause_after_lost_races
from gateway.evaluations.record import EvaluationRecord

__all__ = ["EvaluationStore", "Item", "Update"]

Fold = Callable[[EvaluationRecord], EvaluationRecord]

# Whether any of ``keys`` exists, 1,000 keys an EXISTS (``unpack`` is bounded by Lua's stack):
# the scripts below ask this first, as nearly always the answer is no and then no key needs a
# command of its own.
_ANY_EXISTS = """
local function any_exists(keys)
  for j = 1, #keys, 1000 do
    if redis.call('EXISTS', unpack(keys, j, math.min(j + 999, #keys))) > 0 then return true end
  end
  return false
end
"""

# Compare-and-set of many records in one call: ARGV = ns, then (MaHoSo, new version, agency,
# body) per record, each MaHoSo at most once; per record the new feed position, or -1 when its
# version moved on (the new version is one more than the one the fold read). The versions are
# checked first, so that the positions are taken with one INCRBY, the feed gets one ZADD per 500
# records and each agency set one SADD per 1,000 (a call per record for each was most of this
# script's time); positions follow record order. Records read as new (version 1 next) are checked
# with one EXISTS per 1,000: none exists yet (nearly always), and then no HGET each is needed; when
# one does, each is checked as the others are. Versions and positions reach Redis as strings: a
# Lua number passed to redis.call is formatted with snprintf("%.17g") (three a record were a
# tenth of the drain's redis-server instructions), so the caller sends the new version and each
# position is formatted once, as an integer, for both the HSET and the ZADD.
_PUT = (
    _ANY_EXISTS
    + """
local ns = ARGV[1]
local prefix = ns .. ':eval:d:'
local keys, fresh, out = {}, {}, {}
for i = 2, #ARGV, 4 do
  local key = prefix .. ARGV[i]
  keys[#keys + 1] = key
  if ARGV[i + 1] == '1' then fresh[#fresh + 1] = key end
end
local raced = any_exists(fresh)
local n = 0
for k = 1, #keys do
  local version = ARGV[4 * k - 1]
  local ok = version == '1' and not raced
  if not ok then
    ok = tonumber(redis.call('HGET', keys[k], 'v') or '0') + 1 == tonumber(version)
  end
  if ok then
    n = n + 1
    out[k] = 0
  else
    out[k] = -1
  end
end
if n == 0 then return out end
local function chunked(cmd, key, list)
  for j = 1, #list, 1000 do
    redis.call(cmd, key, unpack(list, j, math.min(j + 999, #list)))
  end
end
local seq = redis.call('INCRBY', ns .. ':eval:seq', n) - n
local feed, members, agencies = {}, {}, {}
for k = 1, #out do
  if out[k] >= 0 then
    local i = 4 * k - 2
    local no, agency = ARGV[i], ARGV[i + 2]
    seq = seq + 1
    local position = string.format('%d', seq)
    redis.call('HSET', keys[k], 'v', ARGV[i + 1], 'seq', position, 'body', ARGV[i + 3])
    out[k] = seq
    feed[#feed + 1] = position
    feed[#feed + 1] = no
    local listed = members[agency]
    if not listed then
      listed = {}
      members[agency] = listed
      agencies[#agencies + 1] = agency
    end
    listed[#listed + 1] = no
  end
end
chunked('ZADD', ns .. ':eval:feed', feed)  -- 1000 a call: whole (position, MaHoSo) pairs
for _, agency in ipairs(agencies) do
  chunked('SADD', ns .. ':eval:ag:' .. agency, members[agency])
end
chunked('SADD', ns .. ':eval:agencies', agencies)
return out
"""
)

# Replies below are one bulk string, fields joined by newlines: redis-py parses one string far
# faster than nested arrays. Stored JSON is compact (no raw newlines); a stray one in a look-up
# entry is turned into a space, which JSON allows between tokens.

# The current version and body of each dossier: ARGV = ns, then MaHoSo values.
_READ = """
local ns = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local h = redis.call('HMGET', ns .. ':eval:d:' .. ARGV[i], 'v', 'body')
  out[#out + 1] = h[1] or ''
  out[#out + 1] = h[2] or ''
end
return table.concat(out, '\\n')
"""

# What the drain needs of each intake item: ARGV = ns, then item ids. Per item: channel,
# partition (agency), subject (MaHoSo), body, flags, the number of the dossier's identity
# look-ups, then those look-ups.
_ITEMS = """
local ns = ARGV[1]
local out = {}
-- A plain find (memchr) first: a pattern gsub walked every 2 KB body char by char, most of
-- this script's time, for bodies that (compact JSON) never hold a newline.
local function line(v)
  if string.find(v, '\\n', 1, true) then return (string.gsub(v, '\\n', ' ')) end
  return v
end
for i = 2, #ARGV do
  local h = redis.call('HMGET', ns .. ':rec:' .. ARGV[i], 'ch', 'part', 'subj', 'body', 'flags')
  for j = 1, 5 do out[#out + 1] = line(h[j] or '') end
  local checks = {}
  if h[3] then checks = redis.call('LRANGE', ns .. ':idchecks:' .. h[3], 0, -1) end
  out[#out + 1] = tostring(#checks)
  for _, c in ipairs(checks) do out[#out + 1] = line(c) end
end
return table.concat(out, '\\n')
"""

# The identity look-ups of the dossiers that have any: ARGV = ns, then MaHoSo values. Per such
# dossier its index among the MaHoSo values (0 for the first), the count, then the look-ups;
# nothing for the others, nearly all of them (the items themselves came from the intake in this
# process: see Evaluations.observe). Because nearly all have none, one EXISTS per 1,000 dossiers
# looks first: when no list exists, every LRANGE would answer nothing (an LRANGE per dossier was
# most of this script's time); when one does, each is read as before.
_CHECKS = (
    _ANY_EXISTS
    + """
local ns = ARGV[1]
local keys = {}
for i = 2, #ARGV do keys[#keys + 1] = ns .. ':idchecks:' .. ARGV[i] end
if not any_exists(keys) then return '' end
local out = {}
for i = 1, #keys do
  local checks = redis.call('LRANGE', keys[i], 0, -1)
  if #checks > 0 then
    out[#out + 1] = tostring(i - 1)
    out[#out + 1] = tostring(#checks)
    for _, c in ipairs(checks) do
      if string.find(c, '\\n', 1, true) then c = string.gsub(c, '\\n', ' ') end
      out[#out + 1] = c
    end
  end
end
return table.concat(out, '\\n')
"""
)

_ADVANCE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# The page and its bodies in one atomic read, so each body is exactly the version at its position.
_FEED = """
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0, ARGV[2])
local out = {}
for _, no in ipairs(items) do
  local h = redis.call('HMGET', ARGV[3] .. no, 'seq', 'body')
  if h[1] and h[2] then
    out[#out + 1] = h[1]
    out[#out + 1] = h[2]
  end
end
return table.concat(out, '\\n')
"""

_MAX_TRIES = 100


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Update(NamedTuple):
    """One pending change: the dossier, the agency to create it under, and the fold.

    A named tuple rather than a frozen dataclass, like :class:`Item`: the drain makes one for
    every dossier of a batch.
    """

    no: str
    agency: str
    fold: Fold


class Item(NamedTuple):
    """One accepted intake item, as the drain reads it.

    A named tuple rather than a frozen dataclass: as immutable, and made in a third of the time
    (the intake makes one for every record it hands over to the drain).
    """

    channel: str
    agency: str
    dossier_no: str
    body: bytes
    flags: str
    idchecks: list[bytes]


class EvaluationStore:
    """Typed access to the evaluation keys of one namespace."""

    def __init__(self, client: redis.Redis, *, namespace: str = "gw") -> None:
        self.client = client
        self.ns = namespace
        self._put = client.register_script(_PUT)
        self._read_script = client.register_script(_READ)
        self._feed = client.register_script(_FEED)
        self._items = client.register_script(_ITEMS)
        self._checks = client.register_script(_CHECKS)
        self._unlock = client.register_script(_UNLOCK)
        self._advance = client.register_script(_ADVANCE)

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
        # Several updates of one dossier in one call: fold them together, in order. Nearly
        # every dossier has one: only the later updates of the others go into lists.
        first: dict[str, int] = {}
        later: dict[str, list[int]] = {}
        for i, u in enumerate(updates):
            if first.setdefault(u.no, i) != i:
                later.setdefault(u.no, []).append(i)
        pending = list(first)
        for attempt in range(_MAX_TRIES):
            if not pending:
                return result
            # Lost a race: back off a little so hot dossiers do not livelock.
            pause_after_lost_races(attempt, first=0.001, cap=0.032)
            versions, bodies = self._read(pending)
            args: list[str | int | bytes] = [self.ns]
            written: list[str] = []
            for no, v, body in zip(pending, versions, bodies, strict=True):
                u = updates[first[no]]
                old = EvaluationRecord.from_json(body) if body else EvaluationRecord(no, u.agency)
                new = u.fold(old)
                for i in later.get(no, ()):
                    new = updates[i].fold(new)
                if new is old:
                    continue
                written.append(no)
                args.extend((no, int(v or 0) + 1, new.agency, new.to_json()))
            retry: list[str] = []
            if written:
                for no, seq in zip(written, self._put(args=args), strict=True):
                    if int(seq) < 0:
                        retry.append(no)
                    else:
                        result[later[no][-1] if no in later else first[no]] = int(seq)
            pending = retry
        raise redis.RedisError(
            f"evaluation update of {pending[0]} lost {_MAX_TRIES} races in a row"
        )

    def _read(self, nos: Sequence[str]) -> tuple[list[bytes], list[bytes]]:
        """The version and body of each of ``nos`` (empty when it has none), as two lists."""
        raw = bytes(self._read_script(args=[self.ns, *nos])).split(b"\n")
        return raw[0 : 2 * len(nos) : 2], raw[1 : 2 * len(nos) : 2]

    def update(self, no: str, agency: str, fold: Fold) -> int | None:
        """Apply one fold to dossier ``no`` atomically; the new feed position, or None."""
        return self.apply([Update(no, agency, fold)])[0]

    # -- the intake's items -------------------------------------------------------------------
    # The outbox numbers every item it accepts from one counter (``ns:seq``), in the same atomic
    # step that stores it, so items 1..seq all exist and their order is the acceptance order.
    # The drain walks them from its cursor: the intake writes nothing for the evaluations.

    def cursor(self) -> int:
        """The last item id folded in (0 before the first)."""
        return int(self.client.get(f"{self.ns}:eval:cursor") or 0)

    def newest_item(self) -> int:
        """The newest item id the outbox has handed out."""
        return int(self.client.get(f"{self.ns}:seq") or 0)

    def backlog(self) -> int:
        """Items accepted but not yet looked at by the drain (of every channel)."""
        return max(0, self.newest_item() - self.cursor())

    def advance(self, token: str, cursor: int) -> bool:
        """Move the cursor to ``cursor`` while ``token`` holds the drain lease; False if not."""
        keys = [f"{self.ns}:eval:drain", f"{self.ns}:eval:cursor"]
        return bool(self._advance(keys=keys, args=[token, cursor]))

    def items(self, item_ids: Sequence[str]) -> list[Item]:
        """What the drain needs of each intake item (empty fields when the item is gone)."""
        if not item_ids:
            return []
        raw = bytes(self._items(args=[self.ns, *item_ids])).split(b"\n")
        out: list[Item] = []
        i = 0
        for _ in item_ids:
            ch, part, subj, body, flags, count = raw[i : i + 6]
            n = int(count or 0)
            out.append(
                Item(
                    ch.decode(),
                    part.decode(),
                    subj.decode(),
                    body,
                    flags.decode(),
                    raw[i + 6 : i + 6 + n],
                )
            )
            i += 6 + n
        return out

    def idchecks(self, nos: Sequence[str]) -> dict[str, list[bytes]]:
        """The identity look-ups stored for each of ``nos`` that has any (as :meth:`items`
        reads them); a dossier without is left out."""
        if not nos:
            return {}
        raw = bytes(self._checks(args=[self.ns, *nos]))
        if not raw:
            return {}
        parts = raw.split(b"\n")
        out: dict[str, list[bytes]] = {}
        i = 0
        while i < len(parts):
            n = int(parts[i + 1])
            out[nos[int(parts[i])]] = parts[i + 2 : i + 2 + n]
            i += 2 + n
        return out

    def lock(self, token: str, ttl_ms: int) -> bool:
        """Take (or keep) the drain lease for ``ttl_ms``; False when another holds it."""
        key = f"{self.ns}:eval:drain"
        if _text(self.client.get(key) or b"") == token:
            return bool(self.client.set(key, token, px=ttl_ms, xx=True))
        return bool(self.client.set(key, token, nx=True, px=ttl_ms))

    def unlock(self, token: str) -> None:
        """Give the drain lease back, if it is still ours."""
        self._unlock(keys=[f"{self.ns}:eval:drain"], args=[token])

    # -- reading -----------------------------------------------------------------------------

    def high_water(self) -> int:
        """The newest feed position handed out (0 when there is none)."""
        return int(self.client.get(f"{self.ns}:eval:seq") or 0)

    def feed(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` (position, record JSON) pairs after position ``after``, oldest first."""
        raw = self._feed(keys=[f"{self.ns}:eval:feed"], args=[after, limit, f"{self.ns}:eval:d:"])
        if not raw:
            return []
        # Record bodies are compact JSON: no raw newline can occur inside one.
        parts = bytes(raw).split(b"\n")
        return [(int(parts[i]), parts[i + 1]) for i in range(0, len(parts), 2)]

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
