"""The outbox: accepted records in Redis, waiting for (or done with) delivery.

Everything the gateway says it accepted is here first; the dramatiq messages that drive the
workers only say "this queue has work" and can be lost or repeated without losing or repeating a
record (see :mod:`gateway.pipeline.scripts` for the keys and the atomic transitions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
import redis

from gateway.errors import NotFoundError
from gateway.pipeline import scripts
from gateway.schemas.lifecycle import Lifecycle
from gateway.schemas.national import DossierRecord, ProgressRecord

__all__ = [
    "Claim",
    "DeliveryState",
    "DeliveryStatus",
    "Outbox",
    "Outcome",
    "Service",
    "Settled",
    "fingerprint",
    "text",
]


class Service(StrEnum):
    """The national services the pipeline delivers; the value is the one-letter key tag."""

    DOSSIER = "D"
    PROGRESS = "P"

    @property
    def national_name(self) -> str:
        """The DVCQG service name."""
        return "DongBoHoSoMC" if self is Service.DOSSIER else "CapNhatTienDoHoSoMC"

    @classmethod
    def from_national(cls, name: str) -> Service:
        """The service for a DVCQG service name; ValueError for any other."""
        if name == "DongBoHoSoMC":
            return cls.DOSSIER
        if name == "CapNhatTienDoHoSoMC":
            return cls.PROGRESS
        raise ValueError(f"not a delivered service: {name}")


class DeliveryState(StrEnum):
    """Where one accepted record stands."""

    QUEUED = "queued"
    SENDING = "sending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    SUPERSEDED = "superseded"
    """A newer state of the same dossier replaced it before it was sent; that one is delivered."""
    DEAD = "dead"
    DISCARDED = "discarded"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What intake did with one record: accepted (new or duplicate) or refused, and why."""

    index: int
    dossier_no: str
    delivery_id: str | None
    duplicate: bool = False
    refused_rule: str | None = None
    refused_message: str | None = None

    @property
    def accepted(self) -> bool:
        """True when the record is (or already was) in the outbox."""
        return self.refused_rule is None


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """The state of one delivery (one accepted record), for the status endpoint."""

    delivery_id: str
    service: Service
    agency: str
    dossier_no: str
    state: DeliveryState
    attempts: int
    accepted_at: datetime
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    superseded_by: str | None


@dataclass(frozen=True, slots=True)
class Claim:
    """A dossier leased to one worker, with the records to send for it (in order)."""

    dossier_no: str
    ambiguous: bool
    created: bool
    ids: tuple[str, ...]
    bodies: tuple[bytes, ...] = ()
    """The stored wire records (JSON), in the order of ``ids``."""


def fingerprint(record: DossierRecord | ProgressRecord) -> str:
    """The digest intake stores for a record: equal records, equal fingerprints."""
    body = record.__pydantic_serializer__.to_json(record, by_alias=True, exclude_none=True)
    return hashlib.sha256(body).hexdigest()[:32]


def _ms_to_dt(value: bytes | str | None) -> datetime | None:
    if not value:
        return None
    return _at(value)


def _at(value: bytes | str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def text(value: bytes | str | None) -> str | None:
    """Redis answers bytes; this is the str (``None`` stays ``None``)."""
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class Settled:
    """What settling a batch did: per record a figure (accepted-at ms for deliveries), and the
    queues it made ready, which need a flush message."""

    values: list[int]
    woke: set[tuple[Service, str]]

    def __len__(self) -> int:
        return len(self.values)


def _queues(raw: Iterable[bytes | str]) -> set[tuple[Service, str]]:
    out: set[tuple[Service, str]] = set()
    for item in raw:
        svc, _, agency = (text(item) or ":").partition(":")
        out.add((Service(svc), agency))
    return out


def _settle_args(claims: Iterable[tuple[str, Sequence[str]]]) -> list[str]:
    items = list(claims)
    args: list[str] = [str(len(items))]
    for dossier, ids in items:
        args += [dossier, str(len(ids)), *ids]
    return args


class Outbox:
    """Typed access to the outbox scripts. Times are milliseconds from ``clock`` (injectable)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str = "gw",
        lifecycle: Lifecycle | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.client = client
        self.ns = namespace
        self.clock = clock or time.time
        lc = lifecycle or Lifecycle()
        self._allowed = (
            ","
            + ",".join(
                f"{old.value}>{new.value}" for old, news in lc.transitions.items() for new in news
            )
            + ","
        )
        self.lifecycle = lc
        self._scripts = {
            name: client.register_script(getattr(scripts, name)) for name in scripts.__all__
        }

    def now_ms(self) -> int:
        """The current time in ms since the epoch, from the injected clock."""
        return int(self.clock() * 1000)

    def run(self, name: str, *args: str | int | bytes) -> Any:
        """Run one outbox script with the namespace and the current time prepended."""
        return self._scripts[name](args=[self.ns, self.now_ms(), *args])

    # -- intake --------------------------------------------------------------------------------

    def accept(
        self,
        service: Service,
        agency: str,
        records: Sequence[DossierRecord] | Sequence[ProgressRecord],
        *,
        client: str,
    ) -> list[Outcome]:
        """Store valid records durably (one atomic call) and mark their dossiers ready.

        Refuses, per record: a status change the life cycle forbids (``status_transition``) and
        a progress step older than one already accepted for its dossier (``step_out_of_order``).
        A record equal to the last accepted one is a duplicate: same delivery id, no new work.
        """
        order = list(range(len(records)))
        if service is Service.PROGRESS:
            # Within one request, steps go in ThoiDiemXuLy order whatever order they came in.
            order.sort(key=lambda i: records[i].handled_at)  # type: ignore[union-attr]
        args: list[str | int | bytes] = [
            service.value,
            agency,
            client,
            self._allowed,
            len(records),
        ]
        for i in order:
            rec = records[i]
            # One Rust call gives the stored body; equal records give equal bytes (fields in
            # model order), so the body's digest is the record's fingerprint.
            body = rec.__pydantic_serializer__.to_json(rec, by_alias=True, exclude_none=True)
            ts = rec.handled_at if isinstance(rec, ProgressRecord) else rec.received_at
            digest = hashlib.sha256(body).hexdigest()[:32]
            args += [f"{rec.dossier_no} {digest} {rec.status.value} {ts}", body]
        raw = text(self.run("ACCEPT", *args)) or ""
        outcomes: list[Outcome | None] = [None] * len(records)
        for i, line in zip(order, raw.split("\n"), strict=True):
            code, rid, extra = line.split(" ")
            outcomes[i] = self._outcome(i, records[i], code, rid, extra)
        return [o for o in outcomes if o is not None]

    def _outcome(
        self, index: int, rec: DossierRecord | ProgressRecord, code: str, rid: str, extra: str
    ) -> Outcome:
        no = rec.dossier_no
        if code in ("new", "dup"):
            return Outcome(index, no, rid, duplicate=code == "dup")
        if code == "order":
            return Outcome(
                index,
                no,
                None,
                refused_rule="step_out_of_order",
                refused_message=(
                    f"ThoiDiemXuLy {rec.handled_at if isinstance(rec, ProgressRecord) else ''}"
                    f" is before a step already accepted for {no} (at {extra}); steps must reach"
                    " the portal in time order"
                ),
            )
        old = self.lifecycle.explain(type(rec.status)(extra), rec.status)
        return Outcome(
            index,
            no,
            None,
            refused_rule="status_transition",
            refused_message=f"{no}: {old}",
        )

    # -- delivery ------------------------------------------------------------------------------

    def claim(
        self,
        service: Service,
        agency: str,
        limit: int,
        lease_ms: int,
        token: str,
        *,
        max_records: int | None = None,
    ) -> list[Claim]:
        """Lease up to ``limit`` ready dossiers (and ``max_records`` records) to ``token``.

        ``max_records`` is the connector's batch size: what is claimed goes in one portal call,
        so a failure never hides a partial success. A dossier whose steps do not all fit sends
        its oldest ones now and the rest in the next claim.
        """
        cap = limit if max_records is None else max_records
        raw = self.run("CLAIM", service.value, agency, limit, lease_ms, token, cap)
        return [
            Claim(
                dossier_no=text(d) or "",
                ambiguous=text(amb) == "1",
                created=text(created) == "1",
                ids=tuple(text(i) or "" for i in ids),
                bodies=tuple(bodies),
            )
            for d, amb, created, ids, bodies in raw
        ]

    def bodies(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The wire records stored under ``ids``, in order."""
        pipe = self.client.pipeline(transaction=False)
        for i in ids:
            pipe.hget(f"{self.ns}:rec:{i}", "body")
        return [orjson.loads(b) for b in pipe.execute()]

    def failures(self, ids: Sequence[str]) -> list[tuple[int, float | None]]:
        """For each id: failed attempts so far and the first failure time (s), if any."""
        pipe = self.client.pipeline(transaction=False)
        for i in ids:
            pipe.hmget(f"{self.ns}:rec:{i}", "attempts", "first_failed_at")
        out: list[tuple[int, float | None]] = []
        for attempts, first in pipe.execute():
            out.append((int(attempts or 0), int(first) / 1000 if first else None))
        return out

    def complete(
        self, service: Service, agency: str, token: str, done: Iterable[tuple[str, Sequence[str]]]
    ) -> Settled:
        """Mark records delivered; returns their accepted-at times (ms) for latency metrics and
        the queues this made ready (steps that were waiting for their dossier)."""
        accepted, woke = self.run("COMPLETE", service.value, agency, token, *_settle_args(done))
        return Settled([int(x) for x in accepted if x is not None], _queues(woke))

    def reschedule(
        self,
        service: Service,
        agency: str,
        token: str,
        failed: Iterable[tuple[str, Sequence[str]]],
        *,
        next_at_ms: int,
        error: str,
        ambiguous: bool,
    ) -> int:
        """Record a transient failure and make the dossiers ready again at ``next_at_ms``."""
        return int(
            self.run(
                "RESCHEDULE",
                service.value,
                agency,
                token,
                next_at_ms,
                error,
                "1" if ambiguous else "0",
                *_settle_args(failed),
            )
        )

    def dead_letter(
        self,
        service: Service,
        agency: str,
        token: str,
        dead: Iterable[tuple[str, Sequence[str]]],
        *,
        peer: str,
        reason: str,
        message: str,
    ) -> Settled:
        """Move records to the dead-letter queue with the peer, reason and message; returns the
        queues this made ready (work that waited behind the dead record)."""
        count, woke = self.run(
            "DEADLETTER", service.value, agency, token, peer, reason, message, *_settle_args(dead)
        )
        return Settled([0] * int(count), _queues(woke))

    def isolate(
        self, service: Service, agency: str, token: str, items: Iterable[tuple[str, Sequence[str]]]
    ) -> None:
        """Release dossiers so that each is sent alone next (after a whole-batch rejection)."""
        self.run("SOLO", service.value, agency, token, *_settle_args(items))

    # -- triggers ------------------------------------------------------------------------------
    # At most one "flush this queue" message should wait per queue: intake marks the queue and
    # enqueues only if it was unmarked; a flush clears the mark before it claims anything, so
    # work accepted after that point gets a fresh message. The mark expires, so a lost message
    # costs at most ``trigger_ttl_ms`` (and the sweeper catches it anyway).

    trigger_ttl_ms = 30_000

    def mark_triggered(self, service: Service, agency: str) -> bool:
        """Mark a queue as having a flush message on the way; False if one already is."""
        key = f"{self.ns}:trig:{service.value}:{agency}"
        return bool(self.client.set(key, b"1", nx=True, px=self.trigger_ttl_ms))

    def clear_trigger(self, service: Service, agency: str) -> None:
        """Forget the queue's mark (a flush of it is starting)."""
        self.client.delete(f"{self.ns}:trig:{service.value}:{agency}")

    def has_due(self, service: Service, agency: str) -> bool:
        """True when the queue has dossiers ready now."""
        key = f"{self.ns}:ready:{service.value}:{agency}"
        return bool(self.client.zcount(key, "-inf", self.now_ms()))

    def recover(self) -> set[tuple[Service, str]]:
        """Release expired leases (dead or hung workers); returns the queues made ready."""
        return _queues(self.run("RECOVER"))

    def due_queues(self) -> set[tuple[Service, str]]:
        """Every queue with at least one dossier ready now."""
        now = self.now_ms()
        queues = [text(q) or "" for q in self.client.smembers(f"{self.ns}:queues")]
        pipe = self.client.pipeline(transaction=False)
        for q in queues:
            svc, agency = q.split(":", 1)
            pipe.zcount(f"{self.ns}:ready:{svc}:{agency}", "-inf", now)
        out: set[tuple[Service, str]] = set()
        for q, count in zip(queues, pipe.execute(), strict=True):
            if count:
                svc, agency = q.split(":", 1)
                out.add((Service(svc), agency))
        return out

    def depth(self) -> dict[str, int]:
        """Undelivered records by state group, counted from the ready sets and leases."""
        queues = [text(q) or "" for q in self.client.smembers(f"{self.ns}:queues")]
        pipe = self.client.pipeline(transaction=False)
        for q in queues:
            svc, agency = q.split(":", 1)
            pipe.zcard(f"{self.ns}:ready:{svc}:{agency}")
        pipe.zcard(f"{self.ns}:leases")
        pipe.zcard(f"{self.ns}:dl:index")
        res = pipe.execute()
        return {"ready_dossiers": sum(res[:-2]), "in_flight": res[-2], "dead_letters": res[-1]}

    # -- status --------------------------------------------------------------------------------

    def status(self, delivery_id: str) -> DeliveryStatus:
        """The status of one delivery; NotFoundError if the gateway never accepted it."""
        h = self.client.hgetall(f"{self.ns}:rec:{delivery_id}")
        if not h:
            raise NotFoundError(f"no delivery {delivery_id}")
        f = {text(k) or "": text(v) or "" for k, v in h.items()}
        accepted = _at(f["accepted_at"])
        return DeliveryStatus(
            delivery_id=delivery_id,
            service=Service(f["svc"]),
            agency=f["agency"],
            dossier_no=f["dossier"],
            state=DeliveryState(f["state"]),
            attempts=int(f.get("attempts", 0)),
            accepted_at=accepted,
            last_error=f.get("last_error"),
            next_attempt_at=_ms_to_dt(f.get("next_at"))
            if f["state"] == DeliveryState.RETRYING
            else None,
            delivered_at=_ms_to_dt(f.get("delivered_at")),
            superseded_by=f.get("superseded_by") or None,
        )

    def attempt_log(self, delivery_id: str) -> list[tuple[datetime, str]]:
        """Every failed attempt of a delivery: when (UTC) and the error."""
        out: list[tuple[datetime, str]] = []
        for raw in self.client.lrange(f"{self.ns}:rec:{delivery_id}:log", 0, -1):
            ms, _, err = (text(raw) or "").partition(" ")
            out.append((_at(ms), err))
        return out

    def metrics(self) -> dict[str, int]:
        """The cluster-wide counters kept in Redis (accepted, delivered, retried, dead …)."""
        raw = self.client.hgetall(f"{self.ns}:metrics")
        return {text(k) or "": int(v) for k, v in raw.items()}
