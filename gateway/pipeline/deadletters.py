"""Dead-letter operations: list, show, replay, discard — each operator action audited.

A dead letter keeps the original wire record, the peer, the reason, the last message and every
failed attempt with its time. Replay puts the record back in the outbox with a fresh attempt
count; a replayed or discarded letter cannot be replayed again, so replaying twice delivers once.
A dossier state that a newer accepted state has replaced is not resent (it would move the portal
backwards): its replay reports ``superseded``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import orjson

from gateway.errors import NotFoundError
from gateway.pipeline.outbox import Outbox, text

__all__ = ["DeadLetter", "DeadLetterFilter", "DeadLetters", "Page", "ReplayResult"]


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """Which dead letters to select; ``None`` fields match anything. Times are inclusive."""

    peer: str | None = None
    reason: str | None = None
    partition: str | None = None
    channel: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, letter: DeadLetter) -> bool:
        """True when ``letter`` passes every given criterion."""
        return (
            (self.peer is None or letter.peer == self.peer)
            and (self.reason is None or letter.reason == self.reason)
            and (self.partition is None or letter.partition == self.partition)
            and (self.channel is None or letter.channel == self.channel)
        )

    def to_json(self) -> dict[str, str]:
        """The given criteria as strings (times ISO 8601). :meth:`from_json` reverses it."""
        given = {
            "peer": self.peer,
            "reason": self.reason,
            "partition": self.partition,
            "channel": self.channel,
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
        }
        return {k: v for k, v in given.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> DeadLetterFilter:
        """The filter that :meth:`to_json` wrote; absent keys match anything.

        Jobs stored before channels named ``agency`` and the DVCQG ``service``; both are read.
        """
        since, until = data.get("since"), data.get("until")
        channel = data.get("channel")
        if channel is None and data.get("service") is not None:
            channel = f"dvcqg.{data['service']}"
        return cls(
            peer=data.get("peer"),
            reason=data.get("reason"),
            partition=data.get("partition", data.get("agency")),
            channel=channel,
            since=None if since is None else datetime.fromisoformat(since),
            until=None if until is None else datetime.fromisoformat(until),
        )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record that could not be delivered."""

    id: str
    channel: str
    partition: str
    subject: str
    peer: str
    reason: str
    message: str
    dead_at: datetime
    status: str
    record: dict[str, Any]
    attempts: tuple[tuple[datetime, str], ...] = ()
    cid: str = ""
    """The correlation id of the intake request that brought the record (when one was bound)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view (times in ISO 8601 UTC)."""
        return {
            "id": self.id,
            "channel": self.channel,
            "partition": self.partition,
            "subject": self.subject,
            "peer": self.peer,
            "reason": self.reason,
            "message": self.message,
            "dead_at": self.dead_at.isoformat(),
            "status": self.status,
            "record": self.record,
            "attempts": [{"at": at.isoformat(), "error": err} for at, err in self.attempts],
            "cid": self.cid,
        }


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing; pass ``next_offset`` back for the next one (None: no more)."""

    items: list[DeadLetter]
    next_offset: int | None


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay did: ``queued``, ``superseded``, ``out_of_order``, ``unknown_channel`` (its
    peer is not configured), or ``already`` (with the letter's status)."""

    id: str
    outcome: str
    detail: str = ""


@dataclass
class DeadLetters:
    """Operator access to the dead-letter queue of one outbox."""

    outbox: Outbox
    on_replayed: Callable[[set[tuple[str, str]]], None] = field(default=lambda queues: None)
    """Called with the queues ``(channel, partition)`` a replay made ready."""

    def _key(self, suffix: str) -> str:
        return f"{self.outbox.ns}:{suffix}"

    def get(self, letter_id: str) -> DeadLetter:
        """One dead letter (any status); NotFoundError if there is none with that id."""
        h = self.outbox.client.hgetall(self._key(f"dl:{letter_id}"))
        if not h:
            raise NotFoundError(f"no dead letter {letter_id}")
        f = {text(k) or "": text(v) or "" for k, v in h.items()}
        body, cid = self.outbox.client.hmget(self._key(f"rec:{letter_id}"), ["body", "cid"])
        return DeadLetter(
            id=letter_id,
            channel=f["ch"],
            partition=f["part"],
            subject=f["subj"],
            peer=f["peer"],
            reason=f["reason"],
            message=f["message"],
            dead_at=datetime.fromtimestamp(int(f["dead_at"]) / 1000, tz=UTC),
            status=f["status"],
            record=orjson.loads(body) if body else {},
            attempts=tuple(self.outbox.attempt_log(letter_id)),
            cid=text(cid) or "",
        )

    def find(
        self, flt: DeadLetterFilter | None = None, *, offset: int = 0, limit: int = 50
    ) -> Page:
        """Dead letters still waiting (newest first) that match ``flt``, paginated."""
        flt = flt or DeadLetterFilter()
        hi = "+inf" if flt.until is None else int(flt.until.timestamp() * 1000)
        lo = "-inf" if flt.since is None else int(flt.since.timestamp() * 1000)
        items: list[DeadLetter] = []
        skipped = 0
        position = 0
        chunk = 500
        while True:
            ids = self.outbox.client.zrevrangebyscore(
                self._key("dl:index"), hi, lo, start=position, num=chunk
            )
            if not ids:
                return Page(items, None)
            for raw in cast("list[bytes]", ids):
                position += 1
                letter = self.get(raw.decode())
                if not flt.matches(letter):
                    continue
                if skipped < offset:
                    skipped += 1
                    continue
                if len(items) == limit:
                    return Page(items, offset + limit)
                items.append(letter)

    def iter_matching(self, flt: DeadLetterFilter | None = None) -> Iterator[DeadLetter]:
        """Every waiting dead letter matching ``flt`` (a snapshot of ids, read lazily)."""
        page = self.find(flt, offset=0, limit=10_000_000)
        yield from page.items

    def replay(self, letter_id: str, *, actor: str) -> ReplayResult:
        """Put one dead letter back in the outbox (once); audited under ``actor``."""
        outcome, detail, woke = self.outbox.replay(letter_id, actor=actor)
        result = ReplayResult(letter_id, outcome, detail)
        if result.outcome == "missing":
            raise NotFoundError(f"no dead letter {letter_id}")
        if woke:
            self.on_replayed(woke)
        return result

    def replay_many(
        self,
        flt: DeadLetterFilter | None,
        *,
        actor: str,
        rate: float = 50.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[ReplayResult]:
        """Replay every matching letter, at most ``rate`` per second (the portal just recovered:
        a flood would knock it over again). ``progress(done, total)`` is called after each."""
        letters = list(self.iter_matching(flt))
        interval = 1.0 / rate
        due = clock()
        results: list[ReplayResult] = []
        for done, letter in enumerate(letters, start=1):
            wait = due - clock()
            if wait > 0:
                sleep(wait)
            results.append(self.replay(letter.id, actor=actor))
            due += interval
            if progress is not None:
                progress(done, len(letters))
        return results

    def discard(self, letter_id: str, *, actor: str, reason: str) -> ReplayResult:
        """Give up on one dead letter for good, with a reason; audited under ``actor``."""
        outcome, detail = self.outbox.discard(letter_id, actor=actor, reason=reason)
        result = ReplayResult(letter_id, outcome, detail)
        if result.outcome == "missing":
            raise NotFoundError(f"no dead letter {letter_id}")
        return result

    def audit(self, *, count: int = 100) -> list[dict[str, str]]:
        """The newest operator actions, newest first."""
        entries = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]",
            self.outbox.client.xrevrange(self._key("audit"), count=count),
        )
        return [
            {"entry": text(eid) or "", **{text(k) or "": text(v) or "" for k, v in f.items()}}
            for eid, f in entries
        ]
