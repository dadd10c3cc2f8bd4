"""An append-only SHA-256 hash chain of audit entries in a Redis stream.

Each entry is one canonical JSON document (sorted keys) holding its sequence number ``seq``, the
previous entry's hash ``prev`` and what happened; its ``hash`` is the SHA-256 of those bytes. So
changing, removing or inserting any entry breaks every link after it, and :meth:`AuditChain.verify`
names the first entry that does not follow from the one before.

Appending is compare-and-set in one Lua call: the script adds the entry only if the chain's head
(``<ns>:auditchain:head`` = ``"<seq>:<hash>"``) is still the one the hash was computed from, and
moves the head in the same step. A writer that lost a race recomputes on the new head, so
concurrent writers (API threads, worker threads, other processes) can never fork the chain.
The threads of one :class:`AuditChain` take turns (a lock around the write): otherwise eight
threads of one process raced each other, and under load one could lose a hundred races in a row
and fail its append ("too much contention"). Entries that arrive while a write is in flight go
together in the next one (one script call, each entry still its own link), and each append
returns once its own entry is in the chain. Only other processes are left to race, and a writer
that lost pauses a random, growing moment before it tries again, so writers that keep colliding
fall out of step instead of one of them losing every time.

Layout: ``<ns>:auditchain`` (stream; fields ``body`` and ``hash``; the stream id's milliseconds
are Redis's clock at append, which ``export --from --to`` ranges over), the head key, and the
anchor ``<ns>:auditchain:anchor`` (``"<seq>:<hash>"`` of the last entry archived, absent until
the first archive). Each write also leaves a mark ``<ns>:auditchain:call:<random>`` for a minute
(longer than redis-py's retries of it take), so a resent write is known for done.

Nothing trims the stream silently. :meth:`AuditChain.archive` (``gateway audit archive
--before``) writes the entries older than a date to a file, fsyncs it, then in one Lua step
records the last archived entry as the anchor and trims through it; :meth:`verify` then starts
from the anchor, so the chain still proves unbroken, and the file holds the links before it.

What a hash chain cannot show: the newest entries cut off together with the head. Record the
head that ``gateway audit verify`` prints somewhere else (a ticket, a daily e-mail) to close that.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, cast

import orjson
import redis

from gateway.backoff import pause_after_lost_races
from gateway.errors import AuditUnavailableError

__all__ = ["GENESIS", "Archived", "AuditChain", "ChainBreak", "Verification"]

log = logging.getLogger("gateway.audit")

GENESIS = "0" * 64
"""The ``prev`` of the first entry."""

# KEYS: stream, head, this call's mark. ARGV: the head the entries were computed from, the empty
# chain's head, the new head, then body and hash of each entry, oldest first. Adds them all, moves
# the head and sets the mark only if the head is still ARGV[1]; otherwise answers the real head,
# and done (1) if the mark is set: redis-py resends a command whose reply was lost (a connection
# killed or timed out after Redis ran it), and that replay finds the head moved by its own first
# run; taken for a lost race, its entries were written a second time as the next links.
_APPEND = """
local head = redis.call('GET', KEYS[2]) or ARGV[2]
if head ~= ARGV[1] then
  if redis.call('EXISTS', KEYS[3]) == 1 then return {1, head} end
  return {0, head}
end
local id
for i = 4, #ARGV, 2 do
  id = redis.call('XADD', KEYS[1], '*', 'body', ARGV[i], 'hash', ARGV[i + 1])
end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('SET', KEYS[3], '1', 'PX', 60000)
return {1, id}
"""

# KEYS: stream, anchor. ARGV: last archived id, its hash, the anchor "<seq>:<hash>", the id
# after it (XTRIM MINID keeps ids from there). Refuses (0) unless that entry is still there,
# unchanged, and the anchor was not moved by another archive meanwhile (ARGV[5]: old anchor).
_TRIM = """
local got = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #got == 0 then return 0 end
local fields, h = got[1][2], nil
for i = 1, #fields, 2 do if fields[i] == 'hash' then h = fields[i + 1] end end
if h ~= ARGV[2] then return 0 end
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[5] then return 0 end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('XTRIM', KEYS[1], 'MINID', ARGV[4])
return 1
"""

_MAX_RACES = 100
_PAUSE_FIRST = 0.000_2
"""Seconds: the longest pause after a first lost race; it doubles with each further loss ..."""
_PAUSE_CAP = 0.02
"""... up to this (100 losses in a row then wait about a second in all)."""


@dataclass(slots=True)
class _Pending:
    """One append waiting to be written, and what became of it."""

    kind: str
    fields: Mapping[str, Any]
    at: int
    written: bool = False
    seq: int = 0
    error: Exception | None = None


@dataclass(frozen=True, slots=True)
class Archived:
    """What :meth:`AuditChain.archive` moved out: how many entries, through which."""

    entries: int
    anchor: str
    """``"<seq>:<hash>"`` of the last entry archived: where the chain in Redis now starts."""


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first entry that does not follow: its stream id, expected position and what is wrong."""

    entry_id: str
    seq: int
    problem: str


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of :meth:`AuditChain.verify`: entries checked, the head, or the first break."""

    entries: int
    head: str
    broken: ChainBreak | None = None
    archived: int = 0
    """Entries archived before the first one checked (the anchor's ``seq``)."""

    @property
    def ok(self) -> bool:
        """True when every entry follows from the one before and the head matches the last."""
        return self.broken is None


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class AuditChain:
    """The audit chain of one namespace on one Redis; thread-safe.

    ``writable()`` is what the intake asks before taking new work: False after a failed write
    or probe until a probe finds the store writable again. Probes run at most every
    ``probe_seconds``, so the intake pays about one round trip per second for it, not per call.
    """

    def __init__(
        self,
        client: redis.Redis,
        namespace: str,
        *,
        clock: Callable[[], float] = time.time,
        probe_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.key = f"{namespace}:auditchain"
        self.head_key = f"{namespace}:auditchain:head"
        self.anchor_key = f"{namespace}:auditchain:anchor"
        self._probe_key = f"{namespace}:auditchain:probe"
        self._call_key = f"{namespace}:auditchain:call:"
        self._clock = clock
        self._monotonic = monotonic
        self._probe_seconds = probe_seconds
        self._script = client.register_script(_APPEND)
        self._lock = threading.Lock()
        # Held for a whole write (one round trip, as a rule): this process's writers cannot
        # all win the same head anyway, and taking turns spares the lost races.
        self._append_lock = threading.Lock()
        self._queue: list[_Pending] = []  # appends not yet taken by a write (under _lock)
        self._failing: str | None = None
        self._next_probe = 0.0
        self._last_head: str | None = None
        self.appended = 0
        self.failures = 0

    # -- health --------------------------------------------------------------------------------

    @property
    def failure(self) -> str | None:
        """Why the store is failing (the last error's type), or None while it is healthy."""
        return self._failing

    def writable(self) -> bool:
        """True while the store takes writes: the last probe or append succeeded.

        A probe (one small write) runs at most every ``probe_seconds``, also while healthy, so
        a store that went away is noticed even when nothing else was appended. While healthy,
        an append that succeeded proves as much as a probe and puts the next one off: under
        load the probe was a write waiting its turn behind the intake's (10-30 ms on the bench's
        2-CPU VM, appendfsync always) on the intake's event loop or a worker's delivery.
        """
        now = self._monotonic()
        with self._lock:
            due = now >= self._next_probe
            if due:
                self._next_probe = now + self._probe_seconds
            failures = self.failures
        if not due:
            return self._failing is None
        try:
            self.client.set(self._probe_key, b"1", px=60_000)
        except redis.RedisError as exc:
            self._fail(exc)
            return False
        with self._lock:
            # A write that failed after the probe's was taken is newer news than the probe:
            # clearing it reopened the gate until the next probe while every append failed.
            if self.failures != failures:
                return False
            recovered, self._failing = self._failing is not None, None
        if recovered:
            log.warning("audit store writable again")
        return True

    def _fail(self, exc: Exception) -> None:
        why = f"audit store not writable ({type(exc).__name__})"
        with self._lock:  # counted under the lock: a probe compares the count to clear failing
            self.failures += 1
            self._failing = why
        log.error("%s", why)

    # -- writing -------------------------------------------------------------------------------

    def append(self, kind: str, fields: Mapping[str, Any]) -> int:
        """Add one entry of ``kind`` (``exchange``, ``identity``, ``operator``); its ``seq``.

        Raises :class:`~gateway.errors.AuditUnavailableError` when the store cannot be written
        (and marks it failing, so the intake refuses new work until a probe succeeds).
        """
        mine = _Pending(kind, fields, int(self._clock() * 1000))
        with self._lock:
            self._queue.append(mine)
        try:
            with self._append_lock:
                # The writer before this one may have taken this entry with its own (group
                # commit); else this one writes every entry queued so far, its own among them.
                if not mine.written:
                    with self._lock:
                        batch, self._queue = self._queue, []
                    self._write(batch)
        except BaseException:
            # Interrupted while waiting its turn (KeyboardInterrupt, a timeout's exception): this
            # append raises, so its entry must not stay queued for a later append to write.
            with self._lock:
                self._queue = [p for p in self._queue if p is not mine]
            raise
        if mine.error is not None:
            raise mine.error
        if not mine.written:
            # Taken by a write that raised something unforeseen (its own caller got that):
            # never answer a seq for an entry that is not in the chain.
            raise AuditUnavailableError("audit chain: the write that took this entry failed")
        return mine.seq

    def _write(self, batch: list[_Pending]) -> None:
        """Append ``batch`` in one script call (under ``_append_lock``); each entry's outcome."""
        why = "audit store not writable"
        cause: BaseException | None = None
        try:
            # The head this process last wrote saves a round trip; if another writer moved it
            # since, the script answers the real head and the loop recomputes on it.
            head = self._last_head
            if head is None:
                raw = self.client.get(self.head_key)
                head = _text(raw) if raw is not None else f"0:{GENESIS}"
            for lost in range(_MAX_RACES):
                pause_after_lost_races(lost, first=_PAUSE_FIRST, cap=_PAUSE_CAP)
                links = self._links(head, batch)
                if not links:
                    return
                new_head = f"{links[-1][0].seq}:{links[-1][2]}"
                args: list[str | bytes] = [head, f"0:{GENESIS}", new_head]
                for _, body, digest in links:
                    args += [body, digest]
                # A new mark per attempt: only a resend of this very call may count as done.
                mark = self._call_key + os.urandom(16).hex()
                done, value = cast(
                    "list[Any]", self._script(keys=[self.key, self.head_key, mark], args=args)
                )
                if int(done):
                    self.appended += len(links)
                    self._last_head = new_head
                    if self._failing is None:  # a failing store still waits for its probe
                        with self._lock:
                            self._next_probe = self._monotonic() + self._probe_seconds
                    for p, _, _ in links:
                        p.written = True
                    return
                head = _text(value)
            # Only reachable when other processes won 100 races against this one in a row.
            why = "audit chain: too much contention to append"
        except redis.RedisError as exc:
            self._fail(exc)
            why, cause = self._failing or why, exc
        for p in batch:
            if not p.written:
                # An exception of its own per append: one object raised in several threads
                # gathers every raise's traceback, so each caller's log showed the others' frames.
                error = AuditUnavailableError(why)
                error.__cause__ = cause
                p.error, p.written = error, True

    @staticmethod
    def _links(head: str, batch: list[_Pending]) -> list[tuple[_Pending, bytes, str]]:
        """Each entry of ``batch`` as the link after ``head`` and the ones before it: (entry,
        body, hash). An entry whose fields cannot be encoded gets that error and no link."""
        seq_text, _, prev = head.partition(":")
        seq = int(seq_text)
        links: list[tuple[_Pending, bytes, str]] = []
        for p in batch:
            if p.written:
                continue
            try:
                doc = {**p.fields, "kind": p.kind, "at": p.at, "seq": seq + 1, "prev": prev}
                body = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
            except Exception as exc:  # this entry's own error, so it fails alone
                # orjson.JSONEncodeError (a TypeError) for a field it cannot encode, or whatever
                # a Mapping that is not a dict raises while read: the other entries are fine.
                p.error, p.written = exc, True
                continue
            seq, prev = seq + 1, _digest(body)
            p.seq = seq
            links.append((p, body, prev))
        return links

    # -- reading -------------------------------------------------------------------------------

    def head(self) -> str:
        """``"<seq>:<hash>"`` of the newest entry (``0:000…`` for an empty chain)."""
        raw = self.client.get(self.head_key)
        return _text(raw) if raw is not None else f"0:{GENESIS}"

    def entries(
        self, start: str = "-", end: str = "+", *, chunk: int = 1000
    ) -> Iterator[tuple[str, bytes, str]]:
        """``(stream id, body, hash)`` of every entry between two stream ids, oldest first."""
        lo = start
        while True:
            rows = cast(
                "list[tuple[bytes, dict[bytes, bytes]]]",
                self.client.xrange(self.key, lo, end, count=chunk),
            )
            for entry_id, f in rows:
                yield _text(entry_id), f.get(b"body", b""), _text(f.get(b"hash", b""))
            if len(rows) < chunk:
                return
            lo = "(" + _text(rows[-1][0])

    def anchor(self) -> str | None:
        """``"<seq>:<hash>"`` of the last archived entry, None if nothing was archived."""
        raw = self.client.get(self.anchor_key)
        return _text(raw) if raw is not None else None

    def verify(self) -> Verification:
        """Walk the chain (from the anchor, if some was archived); the first entry whose hash,
        ``seq`` or ``prev`` is wrong."""
        prev, expected, count = GENESIS, 1, 0
        anchor = self.anchor()
        if anchor is not None:
            seq_text, _, prev = anchor.partition(":")
            expected = int(seq_text) + 1
        archived = expected - 1
        for entry_id, body, digest in self.entries():
            problem = None
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError:
                doc = {}
                problem = "body is not JSON"
            if problem is None and _digest(body) != digest:
                problem = "hash does not match the entry's content (entry altered)"
            elif problem is None and doc.get("seq") != expected:
                problem = (
                    f"sequence {doc.get('seq')} where {expected} was expected"
                    " (entries removed or inserted)"
                )
            elif problem is None and doc.get("prev") != prev:
                problem = "prev does not match the previous entry's hash (chain relinked)"
            if problem is not None:
                where = ChainBreak(entry_id, expected, problem)
                return Verification(count, self.head(), where, archived)
            prev, expected, count = digest, expected + 1, count + 1
        head = self.head()
        last = expected - 1
        if head != f"{last}:{prev}":
            problem = f"head is {head}, the last entry {last}:{prev} (entries cut off)"
            return Verification(count, head, ChainBreak("(head)", expected, problem), archived)
        return Verification(count, head, None, archived)

    def archive(self, before_ms: int, out: IO[bytes]) -> Archived | None:
        """Write the entries appended before ``before_ms`` to ``out`` (JSON lines, as
        :meth:`export`), fsync it, then trim them and keep the last one as the anchor.

        Refuses (:class:`ValueError`) a chain that does not verify: its evidence stays where
        ``verify`` can name it. None when nothing is that old. If the trim is refused (the
        entries changed, or another archive ran meanwhile), nothing is trimmed and
        :class:`RuntimeError` says so; the file written is then only a copy.
        """
        checked = self.verify()
        if not checked.ok:
            raise ValueError(f"the chain does not verify; nothing archived: {checked.broken}")
        old_anchor = self.anchor() or ""
        last: tuple[str, int, str] | None = None
        count = 0
        for entry_id, body, digest in self.entries("-", str(before_ms - 1)):
            doc: dict[str, Any] = orjson.loads(body)
            out.write(orjson.dumps({"id": entry_id, "hash": digest, **doc}) + b"\n")
            last, count = (entry_id, int(doc["seq"]), digest), count + 1
        if last is None:
            return None
        out.flush()
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            os.fsync(out.fileno())  # a file, not a pipe: on disk before anything is trimmed
        entry_id, seq, digest = last
        ms, _, n = entry_id.partition("-")
        anchor = f"{seq}:{digest}"
        done = self.client.eval(
            _TRIM,
            2,
            self.key,
            self.anchor_key,
            entry_id,
            digest,
            anchor,
            f"{ms}-{int(n) + 1}",
            old_anchor,
        )
        if not int(cast("int", done)):
            raise RuntimeError("the chain changed while archiving; nothing was trimmed")
        log.info("audit chain archived through seq %d", seq)
        return Archived(count, anchor)

    def export(self, start_ms: int | None, end_ms: int | None) -> Iterator[dict[str, Any]]:
        """Entries appended between two times (ms, inclusive), each with ``id`` and ``hash``."""
        lo = "-" if start_ms is None else str(start_ms)
        hi = "+" if end_ms is None else str(end_ms)
        for entry_id, body, digest in self.entries(lo, hi):
            doc: dict[str, Any] = orjson.loads(body)
            yield {"id": entry_id, "hash": digest, **doc}
