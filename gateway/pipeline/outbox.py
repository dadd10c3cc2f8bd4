"""The outbox: accepted items in Redis, waiting for (or done with) delivery, keyed by channel.

Everything the gateway says it accepted is here first; the dramatiq messages that drive the
workers only say "this queue has work" and can be lost or repeated without losing or repeating an
item. Every state change is one Lua script (:mod:`.scripts`); the key layout is :mod:`.keys`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
import redis

from gateway.connectors.base import Entry, Mode
from gateway.errors import NotFoundError
from gateway.pipeline import scripts
from gateway.pipeline.channels import Channel, Channels
from gateway.pipeline.keys import LAYOUT_VERSION, Keys

__all__ = [
    "Accepted",
    "Claim",
    "DeliveryState",
    "DeliveryStatus",
    "Outbox",
    "PinsChanged",
    "Settled",
    "text",
]


class PinsChanged(Exception):
    """A pin changed between the caller's read and the accept: nothing was stored."""


class DeliveryState(StrEnum):
    """Where one accepted item stands."""

    QUEUED = "queued"
    SENDING = "sending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    SUPERSEDED = "superseded"
    """A newer state of the same subject replaced it before it was sent; that one is delivered."""
    DEAD = "dead"
    DISCARDED = "discarded"


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the outbox did with one entry: ``code`` is ``new``, ``dup``, or a refusal (``order``,
    ``stale``, ``transition``) with ``extra`` the stored value it conflicts with."""

    index: int
    subject: str
    delivery_id: str | None
    code: str
    extra: str = ""

    @property
    def accepted(self) -> bool:
        """True when the entry is (or already was) in the outbox."""
        return self.code in ("new", "dup")

    @property
    def duplicate(self) -> bool:
        """True when the entry equals one accepted before (same delivery id, no new work)."""
        return self.code == "dup"


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """The state of one delivery (one accepted item), for the status endpoint."""

    delivery_id: str
    channel: str
    partition: str
    subject: str
    state: DeliveryState
    attempts: int
    accepted_at: datetime
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    superseded_by: str | None
    flags: tuple[str, ...] = ()
    ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class Claim:
    """A subject leased to one worker, with the items to send for it (in order).

    ``ambiguous`` flags, per item, one that was on the wire in an attempt whose outcome is
    unknown; ``extra_ids``/``extra_bodies`` are the subject's other such items (not claimed), so
    one look-up settles every one of them.
    """

    subject: str
    exists: bool
    ids: tuple[str, ...]
    bodies: tuple[bytes, ...] = ()
    ambiguous: tuple[bool, ...] = ()
    extra_ids: tuple[str, ...] = ()
    extra_bodies: tuple[bytes, ...] = ()
    cids: tuple[str, ...] | None = None
    """Per claimed item, its stored correlation id (``""`` when none); None: not read."""

    @property
    def needs_lookup(self) -> bool:
        """True when some item of the subject must be asked about before it is sent."""
        return any(self.ambiguous) or bool(self.extra_ids)


def _at(value: bytes | str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def _ms_to_dt(value: bytes | str | None) -> datetime | None:
    return _at(value) if value else None


def text(value: bytes | str | None) -> str | None:
    """Redis answers bytes; this is the str (``None`` stays ``None``)."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class Settled:
    """What settling a batch did: per item a figure (accepted-at ms for deliveries), and the
    queues ``(channel, partition)`` it made ready, which need a flush message."""

    values: list[int]
    woke: set[tuple[str, str]] = field(default_factory=set)
    owned: bool = True
    """False when the caller's lease had lapsed and the script changed nothing."""

    def __len__(self) -> int:
        return len(self.values)


def _queues(raw: Iterable[bytes | str]) -> set[tuple[str, str]]:
    return {Keys.split_queue(text(item) or "|") for item in raw}


def _settle_args(claims: Iterable[tuple[str, Sequence[str]]]) -> list[str]:
    items = list(claims)
    args: list[str] = [str(len(items))]
    for subject, ids in items:
        args += [subject, str(len(ids)), *ids]
    return args


_NO_CHANNEL = ["", "", "", ""]  # ARGV 3-6 of a script that concerns no one channel


class Outbox:
    """Typed access to the outbox scripts. Times are milliseconds from ``clock`` (injectable)."""

    def __init__(
        self,
        client: redis.Redis,
        channels: Channels,
        *,
        namespace: str = "gw",
        clock: Callable[[], float] | None = None,
        notify_channel: str | None = None,
        subscribers: Iterable[str] = (),
    ) -> None:
        """``notify_channel`` is the event channel on which items' clients in ``subscribers``
        are told of each delivery, dead letter and replay (in the same script as the change)."""
        if notify_channel is not None and channels[notify_channel].mode is not Mode.EVENT:
            raise ValueError(f"{notify_channel} is not an event channel")
        self._notify = [notify_channel or "", "," + ",".join(subscribers) + ","]
        self.client = client
        self.channels = channels
        self.ns = namespace
        self.keys = Keys(namespace)
        self.clock = clock or time.time
        self._scripts = {
            name: client.register_script(scripts.source(name)) for name in scripts.NAMES
        }

    def now_ms(self) -> int:
        """The current time in ms since the epoch, from the injected clock."""
        return int(self.clock() * 1000)

    def run(self, name: str, channel: Channel | None, *args: str | int | bytes) -> Any:
        """Run one script with the namespace, the time and the channel's arguments prepended."""
        head = _NO_CHANNEL if channel is None else channel.script_args()
        return self._scripts[name](args=[self.ns, self.now_ms(), *head, *self._notify, *args])

    def mark_layout(self) -> None:
        """Record that the data here is in this layout (see :mod:`.migrate`)."""
        self.client.set(self.keys.layout, LAYOUT_VERSION)

    # -- intake --------------------------------------------------------------------------------

    def accept(
        self,
        channel_id: str,
        partition: str,
        entries: Sequence[Entry],
        *,
        client: str,
        pins: Mapping[str, str] | None = None,
        cid: str | None = None,
    ) -> list[Accepted]:
        """Store entries durably (one atomic call) and mark their subjects ready.

        Refuses, per entry: on an append channel one older than an accepted item of its subject
        (``order``); on a latest-state channel one older than the accepted state (``stale``); on
        a guarded channel a status change the life cycle forbids (``transition``). An entry equal
        to one accepted before (same fingerprint) is a duplicate: same delivery id, no new work.
        Results are in input order. ``cid``, the request's correlation id, is stored with each
        new item (field ``cid``) in the same write.

        ``pins`` (subject -> value, "" for none) are the pins (:meth:`pins`) the caller read and
        built the entries from: if any changed meanwhile, nothing is stored and
        :class:`PinsChanged` is raised.
        """
        ch = self.channels[channel_id]
        order = list(range(len(entries)))
        if ch.mode is Mode.APPEND:
            # Within one request, items go in order whatever order they came in.
            order.sort(key=lambda i: entries[i].order)
        args: list[str | int | bytes] = [partition, client, ch.allowed, cid or "", len(entries)]
        for i in order:
            e = entries[i]
            flags = ",".join(e.flags) or "-"
            status = e.status or "-"
            args += [f"{e.subject} {e.fingerprint} {status} {e.order} {flags}", e.body]
        script = "accept"
        if pins is not None:
            script = "accept_pinned"
            for subject, value in pins.items():
                args += [subject, value]
            args.append(len(pins))
        raw = text(self.run(script, ch, *args)) or ""
        if raw == "conflict":
            raise PinsChanged(channel_id)
        out: list[Accepted | None] = [None] * len(entries)
        for i, line in zip(order, raw.split("\n"), strict=True):
            code, rid, extra = line.split(" ")
            out[i] = Accepted(i, entries[i].subject, None if rid == "-" else rid, code, extra)
        return [a for a in out if a is not None]

    def pins(self, channel_id: str, subjects: Iterable[str]) -> dict[str, str]:
        """The pinned value of each subject ("" for none)."""
        wanted = list(dict.fromkeys(subjects))
        if not wanted:
            return {}
        raw = self.client.hmget(self.keys.pins(channel_id), wanted)
        return {s: text(v) or "" for s, v in zip(wanted, raw, strict=True)}

    def pin(self, channel_id: str, subject: str, value: str) -> None:
        """Pin ``value`` on ``subject``: accepts with pins read before this one now conflict."""
        self.client.hset(self.keys.pins(channel_id), subject, value)

    # -- delivery ------------------------------------------------------------------------------

    def claim(
        self,
        channel_id: str,
        partition: str,
        limit: int,
        lease_ms: int,
        token: str,
        *,
        max_records: int | None = None,
    ) -> list[Claim]:
        """Lease up to ``limit`` ready subjects (and ``max_records`` items) to ``token``."""
        ch = self.channels[channel_id]
        cap = limit if max_records is None else max_records
        raw = self.run("claim", ch, partition, limit, lease_ms, token, cap)
        return [
            Claim(
                subject=text(s) or "",
                exists=text(exists) == "1",
                ids=tuple(text(i) or "" for i in ids),
                bodies=tuple(bodies),
                ambiguous=tuple(text(a) == "1" for a in amb),
                extra_ids=tuple(text(i) or "" for i in xids),
                extra_bodies=tuple(xbodies),
                cids=tuple(text(c) or "" for c in cids),
            )
            for s, exists, ids, bodies, amb, xids, xbodies, cids in raw
        ]

    def delivered_bodies(self, channel_id: str, subject: str) -> list[bytes]:
        """The stored bodies of a subject's delivered items, oldest first (for look-ups)."""
        raw: list[bytes] = self.client.zrange(self.keys.done(channel_id, subject), 0, -1)  # type: ignore[assignment]  # without scores zrange answers members
        ids = [text(i) or "" for i in raw]
        pipe = self.client.pipeline(transaction=False)
        for i in ids:
            pipe.hget(self.keys.rec(i), "body")
        return [b for b in pipe.execute() if b is not None]

    def bodies(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The stored items under ``ids``, decoded, in order."""
        pipe = self.client.pipeline(transaction=False)
        for i in ids:
            pipe.hget(self.keys.rec(i), "body")
        return [orjson.loads(b) for b in pipe.execute()]

    def failures(self, ids: Sequence[str]) -> list[tuple[int, float | None]]:
        """For each id: failed attempts so far and the first failure time (s), if any."""
        pipe = self.client.pipeline(transaction=False)
        for i in ids:
            pipe.hmget(self.keys.rec(i), "attempts", "first_failed_at")
        out: list[tuple[int, float | None]] = []
        for attempts, first in pipe.execute():
            out.append((int(attempts or 0), int(first) / 1000 if first else None))
        return out

    def complete(
        self,
        channel_id: str,
        partition: str,
        token: str,
        done: Iterable[tuple[str, Sequence[str]]],
    ) -> Settled:
        """Mark items delivered; returns their accepted-at times (ms) for latency metrics and
        the queues this made ready (work that waited for these subjects)."""
        ch = self.channels[channel_id]
        accepted, woke = self.run("complete", ch, partition, token, *_settle_args(done))
        return Settled([int(x) for x in accepted if x is not None], _queues(woke))

    def resolve(
        self,
        channel_id: str,
        partition: str,
        token: str,
        subject: str,
        *,
        held: Sequence[str],
        lacking: Sequence[str],
        lease_ms: int,
    ) -> Settled:
        """Settle one look-up: ``held`` items are delivered, ``lacking`` ones lose their
        ambiguity. Only the lease holder's call has an effect (``owned`` says whether it had),
        and it renews the holder's lease for ``lease_ms``: the send that follows gets a whole one.
        """
        ch = self.channels[channel_id]
        accepted, woke, owned = self.run(
            "resolve", ch, partition, token, subject, lease_ms, len(held), *held, *lacking
        )
        values = [int(x) for x in accepted if x is not None]
        return Settled(values, _queues(woke), owned=int(owned) == 1)

    def reschedule(
        self,
        channel_id: str,
        partition: str,
        token: str,
        failed: Iterable[tuple[str, Sequence[str]]],
        *,
        next_at_ms: int,
        error: str,
        ambiguous: bool,
    ) -> int:
        """Record a transient failure and make the subjects ready again at ``next_at_ms``."""
        ch = self.channels[channel_id]
        amb = "1" if ambiguous else "0"
        args: list[str | int | bytes] = [partition, token, next_at_ms, error, amb]
        return int(self.run("reschedule", ch, *args, *_settle_args(failed)))

    def dead_letter(
        self,
        channel_id: str,
        partition: str,
        token: str,
        dead: Iterable[tuple[str, Sequence[str]]],
        *,
        peer: str,
        reason: str,
        message: str,
        ambiguous: bool = False,
    ) -> Settled:
        """Move items to the dead-letter queue with the peer, reason and message; returns the
        queues this made ready (work that waited behind the dead item)."""
        ch = self.channels[channel_id]
        amb = "1" if ambiguous else "0"
        args = [partition, token, peer, reason, message, amb, *_settle_args(dead)]
        count, woke = self.run("deadletter", ch, *args)
        return Settled([0] * int(count), _queues(woke))

    def isolate(
        self,
        channel_id: str,
        partition: str,
        token: str,
        items: Iterable[tuple[str, Sequence[str]]],
    ) -> None:
        """Release subjects so that each is sent alone next (after a whole-batch rejection)."""
        self.run("solo", self.channels[channel_id], partition, token, *_settle_args(items))

    def replay(self, item_id: str, *, actor: str) -> tuple[str, str, set[tuple[str, str]]]:
        """Put a dead letter back (see ``replay.lua``); returns ``(outcome, detail, woke)``."""
        channel_id = text(self.client.hget(self.keys.rec(item_id), "ch"))
        if channel_id is None or channel_id not in self.channels:
            if not self.client.exists(self.keys.dead_letter(item_id)):
                return "missing", "", set()
            # Its peer is no longer configured: nothing could deliver it.
            return "unknown_channel", channel_id or "", set()
        raw = self.run("replay", self.channels[channel_id], item_id, actor)
        woke = _queues(raw[2]) if len(raw) > 2 else set()
        return text(raw[0]) or "", text(raw[1]) or "", woke

    def discard(self, item_id: str, *, actor: str, reason: str) -> tuple[str, str]:
        """Give up on a dead letter (see ``discard.lua``); returns ``(outcome, detail)``."""
        outcome, detail = self.run("discard", None, item_id, actor, reason)
        return text(outcome) or "", text(detail) or ""

    # -- triggers ------------------------------------------------------------------------------
    # At most one "flush this queue" message should wait per queue: intake marks the queue and
    # enqueues only if it was unmarked; a flush clears the mark before it claims anything, so
    # work accepted after that point gets a fresh message. The mark expires, so a lost message
    # costs at most ``trigger_ttl_ms`` (and the sweeper catches it anyway).

    trigger_ttl_ms = 30_000

    def mark_triggered(self, channel_id: str, partition: str, *, ttl_ms: int | None = None) -> bool:
        """Mark a queue as having a flush message on the way; False if one already is.

        ``ttl_ms`` longer than the default covers a message delayed that long (a peer whose
        breaker is open), so that no second message is sent meanwhile.
        """
        key = self.keys.trigger(channel_id, partition)
        px = max(self.trigger_ttl_ms, ttl_ms or 0)
        return bool(self.client.set(key, b"1", nx=True, px=px))

    def clear_trigger(self, channel_id: str, partition: str) -> None:
        """Forget the queue's mark (a flush of it is starting)."""
        self.client.delete(self.keys.trigger(channel_id, partition))

    def has_due(self, channel_id: str, partition: str) -> bool:
        """True when the queue has subjects ready now."""
        key = self.keys.ready(channel_id, partition)
        return bool(self.client.zcount(key, "-inf", self.now_ms()))

    def recover(self) -> set[tuple[str, str]]:
        """Release expired leases (dead or hung workers); returns the queues made ready."""
        return _queues(self.run("recover", None))

    def queues(self) -> list[tuple[str, str]]:
        """Every queue ``(channel, partition)`` ever used."""
        return sorted(
            Keys.split_queue(text(q) or "|") for q in self.client.smembers(self.keys.queues)
        )

    def in_flight(self) -> int:
        """Subjects leased by a worker now (expired leases, of dead workers, not counted)."""
        return int(self.client.zcount(self.keys.leases, self.now_ms(), "+inf"))

    def due_queues(self) -> set[tuple[str, str]]:
        """Every queue with at least one subject ready now."""
        now = self.now_ms()
        queues = self.queues()
        pipe = self.client.pipeline(transaction=False)
        for c, p in queues:
            pipe.zcount(self.keys.ready(c, p), "-inf", now)
        return {q for q, n in zip(queues, pipe.execute(), strict=True) if n}

    def depth(self) -> dict[str, dict[str, int]]:
        """Per channel: subjects ready (due or waiting for a retry) and leased (in flight)."""
        queues = self.queues()
        pipe = self.client.pipeline(transaction=False)
        for c, p in queues:
            pipe.zcard(self.keys.ready(c, p))
        out: dict[str, dict[str, int]] = {c.id: {"ready": 0, "in_flight": 0} for c in self.channels}
        for (c, _), n in zip(queues, pipe.execute(), strict=True):
            out.setdefault(c, {"ready": 0, "in_flight": 0})["ready"] += int(n)
        leased: list[bytes] = self.client.zrange(self.keys.leases, 0, -1)  # type: ignore[assignment]  # without scores zrange answers members
        for member in leased:
            c = (text(member) or "").split("|", 1)[0]
            out.setdefault(c, {"ready": 0, "in_flight": 0})["in_flight"] += 1
        return out

    def dead_letter_count(self) -> int:
        """Dead letters waiting for an operator."""
        return int(self.client.zcard(self.keys.dl_index))

    # -- status --------------------------------------------------------------------------------

    def status(self, delivery_id: str) -> DeliveryStatus:
        """The status of one delivery; NotFoundError if the gateway never accepted it."""
        h = self.client.hgetall(self.keys.rec(delivery_id))
        if not h:
            raise NotFoundError(f"no delivery {delivery_id}")
        f = {text(k) or "": text(v) or "" for k, v in h.items()}
        return DeliveryStatus(
            delivery_id=delivery_id,
            channel=f["ch"],
            partition=f["part"],
            subject=f["subj"],
            state=DeliveryState(f["state"]),
            attempts=int(f.get("attempts", 0)),
            accepted_at=_at(f["accepted_at"]),
            last_error=f.get("last_error"),
            next_attempt_at=_ms_to_dt(f.get("next_at"))
            if f["state"] == DeliveryState.RETRYING
            else None,
            delivered_at=_ms_to_dt(f.get("delivered_at")),
            superseded_by=f.get("superseded_by") or None,
            flags=tuple(x for x in f.get("flags", "").split(",") if x),
            ambiguous=f.get("amb") == "1",
        )

    def attempt_log(self, delivery_id: str) -> list[tuple[datetime, str]]:
        """Every failed attempt of a delivery: when (UTC) and the error."""
        out: list[tuple[datetime, str]] = []
        for raw in self.client.lrange(self.keys.log(delivery_id), 0, -1):
            ms, _, err = (text(raw) or "").partition(" ")
            out.append((_at(ms), err))
        return out

    def metrics(self) -> dict[str, int]:
        """The cluster-wide counters kept in Redis (accepted, delivered, retried, dead …)."""
        raw = self.client.hgetall(self.keys.metrics)
        return {text(k) or "": int(v) for k, v in raw.items()}
