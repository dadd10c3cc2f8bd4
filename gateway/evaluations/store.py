"""Evaluation records in Redis, updated atomically, with a change feed.

Keys (``ns`` is ``Settings.namespace``):

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

_PUT = """
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return -1 end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'v', v + 1, 'seq', seq, 'body', ARGV[2])
redis.call('ZADD', KEYS[3], seq, ARGV[3])
redis.call('SADD', KEYS[4], ARGV[3])
redis.call('SADD', KEYS[5], ARGV[4])
return seq
"""

# The page and its bodies in one atomic read, so each body is exactly the version at its position.
# Key names are built from ARGV (like the outbox scripts): fine on one Redis, not on a cluster.
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
        self._feed = client.register_script(_FEED)

    def _key(self, no: str) -> str:
        return f"{self.ns}:eval:d:{no}"

    def get(self, no: str) -> EvaluationRecord | None:
        """The evaluation record of dossier ``no``, if the gateway has one."""
        body = self.client.hget(self._key(no), "body")
        return None if body is None else EvaluationRecord.from_json(body)

    def apply(self, updates: Sequence[Update]) -> list[int | None]:
        """Apply each fold atomically; per update the new feed position (None: nothing changed).

        Updates of one dossier apply in order. Reads and writes are pipelined; an update that
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
            pipe = self.client.pipeline(transaction=False)
            for no in pending:
                pipe.hmget(self._key(no), "v", "body")
            current = pipe.execute()
            writes: list[tuple[str, bytes | None]] = []
            pipe = self.client.pipeline(transaction=False)
            for no, (v, body) in zip(pending, current, strict=True):
                first = updates[by_no[no][0]]
                old = (
                    EvaluationRecord.from_json(body)
                    if body is not None
                    else EvaluationRecord(no=no, agency=first.agency)
                )
                new = old
                for i in by_no[no]:
                    new = updates[i].fold(new)
                if new is old:
                    writes.append((no, None))
                    continue
                writes.append((no, b"x"))
                self._put(
                    keys=[
                        self._key(no),
                        f"{self.ns}:eval:seq",
                        f"{self.ns}:eval:feed",
                        f"{self.ns}:eval:ag:{new.agency}",
                        f"{self.ns}:eval:agencies",
                    ],
                    args=[int(v or 0), new.to_json(), no, new.agency],
                    client=pipe,
                )
            answers = iter(pipe.execute())
            retry: list[str] = []
            for no, marker in writes:
                if marker is None:
                    continue
                seq = int(next(answers))
                if seq < 0:
                    retry.append(no)
                else:
                    result[by_no[no][-1]] = seq
            pending = retry
        raise redis.RedisError(
            f"evaluation update of {pending[0]} lost {_MAX_TRIES} races in a row"
        )

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
