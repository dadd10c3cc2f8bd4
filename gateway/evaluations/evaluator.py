"""The evaluations of one gateway: fed by the intake, read by the API and the CLI.

:meth:`Evaluations.observe` is the intake hook (called by ``GatewayService.accept`` after the
records are stored); ratings and population-database look-ups come in through :meth:`rate` and
:meth:`refresh_idchecks`; :meth:`scorecard` and :meth:`feed_page` serve the readers.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

import orjson
import redis

from gateway.evaluations.feed import FeedPage, decode_cursor, encode_cursor
from gateway.evaluations.indicators import Scorecard, Scorer
from gateway.evaluations.pacing import DrainPacer
from gateway.evaluations.periods import parse_period
from gateway.evaluations.record import (
    EvaluationRecord,
    dossier_facts,
    fold_idchecks,
    fold_rating,
    idcheck_counts,
    step_facts,
)
from gateway.evaluations.settings import EvaluationSettings
from gateway.evaluations.store import EvaluationStore, Item, Update
from gateway.schemas.national import DossierRecord, ProgressRecord
from gateway.schemas.rating import DossierRating

__all__ = ["Evaluations", "Outcome"]


class Outcome(Protocol):
    """What the hook reads of the intake's answer for one record (``gateway.service.Outcome``)."""

    @property
    def index(self) -> int: ...
    @property
    def delivery_id(self) -> str | None: ...
    @property
    def duplicate(self) -> bool: ...
    @property
    def accepted(self) -> bool: ...
    @property
    def flags(self) -> tuple[str, ...]: ...


log = logging.getLogger("gateway.evaluations")


class _Facts(Protocol):
    """``DossierFacts`` or ``StepFacts``: what one item says, folded into a record in place."""

    def fold_into(
        self,
        out: EvaluationRecord,
        *,
        agency: str,
        accepted_ms: int,
        flags: Iterable[str] = (),
    ) -> None: ...


def _idcheck_entries(raw: Sequence[bytes | str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in raw:
        try:
            value = orjson.loads(item)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


class Evaluations:
    """Evaluation records and indicators of one namespace."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        settings: EvaluationSettings,
        clock: Callable[[], float],
        busy: Callable[[], bool] | None = None,
    ) -> None:
        """``busy`` answers whether a delivery is in flight or due now: while it is, the
        background drain waits (``settings.yield_to_delivery``; see :mod:`.pacing`)."""
        self.settings = settings
        self.store = EvaluationStore(client, namespace=namespace)
        self.scorer = Scorer(settings)
        self._client = client
        self._ns = namespace
        self._clock = clock
        self._token = secrets.token_hex(8)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.pacer = DrainPacer(
            busy if settings.yield_to_delivery else None,
            max_lag_seconds=settings.max_lag_seconds,
            max_lag_items=settings.max_lag_items,
        )
        # Items the intake in this process accepted, by id, as the drain would read them back
        # (see observe): the drain takes them from here instead of from Redis. Volatile by
        # design: a crash loses only this copy, and the drain then reads Redis as before.
        self._handed: dict[str, Item] = {}
        self._handed_lock = threading.Lock()
        # The drains of this process (the background thread, readers) share one token, so the
        # lease alone does not keep them apart: they take turns here. A reader waits for at most
        # the background drain's batch, then folds the rest itself.
        self._drain_lock = threading.Lock()
        self._looks = 0
        self.handoff = False
        """Keep the intake's items for the drain; on while this process drains in the
        background (:meth:`start`), where nearly every item is folded moments after it was
        accepted. Off, nothing is kept (a process that does not drain would only hold them)."""

    def now_ms(self) -> int:
        """The current time in ms, from the injected clock."""
        return int(self._clock() * 1000)

    # -- writers -------------------------------------------------------------------------------

    def observe(
        self,
        service: object,
        agency: str,
        records: Sequence[DossierRecord] | Sequence[ProgressRecord],
        outcomes: Sequence[Outcome],
        *,
        channel: str = "",
        bodies: Sequence[bytes] = (),
    ) -> None:
        """Wake the drain: records were accepted (the hook in ``GatewayService.accept``).

        The intake writes nothing for the evaluations: the drain finds accepted items by their
        ids (see :mod:`gateway.evaluations.store`), so the hook costs no Redis call at all.
        Duplicates create no item and refusals none, so neither is ever folded. With
        :attr:`handoff` on, each new item's ``channel``, agency, dossier number, stored body
        (``bodies``, by record) and flags are kept for the drain, which then need not read
        them back: the same values the outbox stored with the item.
        """
        if not self.settings.enabled:
            return
        new = [o for o in outcomes if o.accepted and not o.duplicate and o.delivery_id]
        if not new:
            return
        if self.handoff and channel and len(bodies) == len(records):
            with self._handed_lock:
                if len(self._handed) + len(new) <= _HANDOFF_MAX:
                    for o in new:
                        self._handed[o.delivery_id or ""] = Item(
                            channel,
                            agency,
                            records[o.index].dossier_no,
                            bodies[o.index],
                            ",".join(o.flags),
                            [],
                        )
        self._wake.set()

    def drain(self, *, batch: int = 1000, max_batches: int | None = None) -> int:
        """Fold accepted intake items into their evaluation records; how many ids were read.

        One process drains at a time (a lease in Redis); another caller returns 0 at once.
        Items fold in id order, which is the order the intake accepted them. A drain cut short
        (a crash) leaves the cursor where it was; the next one skips items already folded.
        """
        if not self.settings.enabled:
            return 0
        with self._drain_lock:
            return self._drain(batch, max_batches)

    def _drain(self, batch: int, max_batches: int | None) -> int:
        if not self.store.lock(self._token, _LEASE_MS):
            if self._handed:
                self._forget(self.store.cursor(), everywhere=True)  # another process folded them
            return 0
        taken = 0
        try:
            rounds = 0
            while max_batches is None or rounds < max_batches:
                cursor, newest = self.store.cursor(), self.store.newest_item()
                if self._handed:
                    # Folded already: by another process, or by a batch here that read an item
                    # from Redis before the intake handed it over.
                    self._looks += 1
                    everywhere = cursor >= newest or self._looks % _FULL_LOOK_EVERY == 0
                    self._forget(cursor, everywhere=everywhere)
                if cursor >= newest:
                    break
                last = min(newest, cursor + batch)
                self._fold_items([f"{i:012d}" for i in range(cursor + 1, last + 1)])
                if not self.store.advance(self._token, last):
                    break  # the lease lapsed: whoever holds it now goes on from the cursor
                self.store.lock(self._token, _LEASE_MS)
                taken += last - cursor
                rounds += 1
        finally:
            self.store.unlock(self._token)
        return taken

    def _forget(self, cursor: int, *, everywhere: bool) -> None:
        """Drop the handed items at or below ``cursor``.

        Items are handed in about acceptance order, so the ones the cursor has passed are at
        the front: most batches look only there, rather than at all of up to 50,000 (a full look
        per batch was 2.5% of the GIL while a backlog of 20,000 was folded). A full look, at
        catch-up (when few are left), every few batches and when another process folded, finds
        the rest: a straggler handed after a larger id only holds memory meanwhile.
        """
        with self._handed_lock:
            if everywhere:
                stale = [k for k in self._handed if int(k) <= cursor]
            else:
                stale = list(itertools.takewhile(lambda k: int(k) <= cursor, self._handed))
            for key in stale:
                del self._handed[key]

    def _items(self, ids: Sequence[str]) -> tuple[list[Item], list[Sequence[bytes]]]:
        """The items under ``ids``, those the intake handed over and the rest read from Redis,
        and beside each its dossier's identity look-ups as Redis holds them now."""
        with self._handed_lock:
            handed = [self._handed.pop(i, None) for i in ids]
        unread = [i for i, item in zip(ids, handed, strict=True) if item is None]
        read = iter(self.store.items(unread))
        items = [item if item is not None else next(read) for item in handed]
        if len(unread) == len(ids):
            return items, [it.idchecks for it in items]
        # A handed item carries no look-ups: read them now, once per dossier. Nearly every
        # dossier has none: they share one empty tuple rather than a new list each.
        checks = self.store.idchecks(sorted({it.dossier_no for it in items if it.dossier_no}))
        return items, [
            it.idchecks if h is None else checks.get(it.dossier_no, ())
            for it, h in zip(items, handed, strict=True)
        ]

    def _fold_items(self, ids: Sequence[str]) -> None:
        now = self.now_ms()
        folds: dict[str, _DossierFold] = {}
        items, idchecks = self._items(ids)
        # Zero-padded ids: string order is acceptance order. Each wire form is read into its
        # facts at once and dropped: the batch keeps a tuple per item, not a parsed dict.
        for k in sorted(range(len(ids)), key=ids.__getitem__):
            item = items[k]
            read = _READERS.get(item.channel.rsplit(".", 1)[-1])
            if read is None or not item.body or not item.dossier_no:
                continue
            wire = orjson.loads(item.body)
            if not isinstance(wire, dict):
                continue
            fold = folds.get(item.dossier_no)
            if fold is None:
                fold = folds[item.dossier_no] = _DossierFold(item.agency, now)
            flags = tuple(f for f in item.flags.split(",") if f) if item.flags else ()
            fold.items.append((ids[k], read(wire), item.agency, flags))
            fold.idchecks = idchecks[k]
        # One update per dossier, in the order of its first item: a dossier's items fold into
        # one copy of its record, in acceptance order, then its look-ups are recounted.
        self.store.apply([Update(no, f.agency, f.counted()) for no, f in folds.items()])

    def start(self) -> None:
        """Drain in a background thread every ``drain_interval_seconds`` until :meth:`stop`."""
        if self._thread is not None or not self.settings.enabled:
            return
        self._stop.clear()
        self.handoff = True
        self._thread = threading.Thread(target=self._run, name="evaluations-drain", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background drain (after its current batch)."""
        self._stop.set()
        self._wake.set()
        self.handoff = False
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with self._handed_lock:
            self._handed.clear()

    def _run(self) -> None:
        deferred = False
        while not self._stop.is_set():
            if deferred:
                # Waiting for delivery: poll once an interval. The intake's wake-ups would only
                # ask the same question sooner, during the very burst the wait is for.
                self._stop.wait(self.settings.drain_interval_seconds)
            else:
                self._wake.wait(self.settings.drain_interval_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            deferred = False
            try:
                # A batch at a time, asking the pacer before each, so the drain gives way
                # within one batch of a burst starting and resumes within one interval of it
                # ending.
                while not self._stop.is_set():
                    cursor, newest = self.store.cursor(), self.store.newest_item()
                    if self.pacer.defer(cursor, newest):
                        deferred = True
                        break
                    if not self.drain(max_batches=1):
                        break
            except redis.RedisError as exc:
                # The cursor stays; the next round goes on from it. No record data logged.
                log.warning("evaluations drain failed (%s); will retry", type(exc).__name__)
            except Exception as exc:
                # A bug (in the busy probe, a fold): the thread must not end with it, or the
                # fold stops for good while the hand-over keeps filling. The cursor stays.
                log.error(
                    "evaluations drain failed (%s); will retry", type(exc).__name__, exc_info=exc
                )

    def rate(self, rating: DossierRating) -> tuple[bool, int | None]:
        """Store a citizen's rating; ``(applied, feed position)``. An older rating than the one
        held is not applied (and changes nothing)."""
        seq = self.store.update(
            rating.dossier_no,
            rating.agency,
            partial(_with_rating, rating=rating, accepted_ms=self.now_ms()),
        )
        return seq is not None, seq

    def refresh_idchecks(self, dossier_no: str) -> int | None:
        """Recount dossier ``dossier_no``'s population-database look-ups (call after one)."""
        entries = _idcheck_entries(self._client.lrange(f"{self._ns}:idchecks:{dossier_no}", 0, -1))
        agency = dossier_no.rsplit("-", 2)[0]
        return self.store.update(
            dossier_no, agency, partial(_with_idchecks, entries=entries, accepted_ms=self.now_ms())
        )

    # -- readers -------------------------------------------------------------------------------

    def subtree(self, agency: str) -> list[str]:
        """``agency`` and every agency with records below it in the hierarchy."""
        below = [a for a in self.store.agencies() if agency in self.settings.ancestors(a)]
        return sorted(set(below) | {agency})

    def scorecard(
        self,
        agency: str,
        period: str,
        *,
        reported: int | None = None,
        explain: str | None = None,
        now_ms: int | None = None,
    ) -> Scorecard:
        """The scorecard of ``agency`` for ``period`` (``2026-10``, ``2026-Q4``, ``2026``).

        ValueError for a malformed period or an unknown indicator in ``explain``.
        """
        p = parse_period(period)
        self.drain(max_batches=self.settings.reader_drain_batches)
        return self.scorer.score(
            self.store.records(self.subtree(agency)),
            agency=agency,
            period=p,
            now_ms=self.now_ms() if now_ms is None else now_ms,
            reported=reported,
            explain=explain,
        )

    def satisfaction_rows(
        self, agency: str, month: str, *, service_criterion: str = "service"
    ) -> list[dict[str, Any]]:
        """The ``DongBoDanhGia`` rows of ``agency`` for ``month`` (``2026-10``)."""
        from gateway.evaluations.satisfaction import monthly_rows

        p = parse_period(month)
        self.drain(max_batches=self.settings.reader_drain_batches)
        return monthly_rows(
            self.store.records([agency]),
            agency=agency,
            month=p,
            agency_name=self.settings.agency_names.get(agency, ""),
            service_criterion=service_criterion,
        )

    def feed_page(self, cursor: str | None, limit: int) -> FeedPage:
        """One page of the change feed after ``cursor`` (ValueError for a foreign cursor)."""
        after = decode_cursor(cursor)
        self.drain(max_batches=self.settings.reader_drain_batches)
        limit = max(1, min(limit, self.settings.feed_page_max))
        items = self.store.feed(after, limit)
        last = items[-1][0] if items else after
        return FeedPage(items, encode_cursor(last), has_more=len(items) == limit)


_READERS: dict[str, Callable[[Mapping[str, Any]], _Facts]] = {
    "DongBoHoSoMC": dossier_facts,
    "CapNhatTienDoHoSoMC": step_facts,
}
_RECENT = 32
_LEASE_MS = 30_000
_FULL_LOOK_EVERY = 16
_HANDOFF_MAX = 50_000
"""Items kept for the drain at most (about 2 KB each); beyond, the drain reads Redis."""


class _DossierFold:
    """The fold of one dossier's items of a batch: what ``fold_dossier_wire`` and
    ``fold_step_wire`` do item after item, then ``fold_idchecks``, on one copy of the record
    rather than a copy per item. Pure, as the store needs (it may fold again after a lost race):
    the record it is given is never changed, and one that nothing changes is returned as is."""

    __slots__ = ("agency", "counts", "idchecks", "items", "now")

    def __init__(self, agency: str, now: int) -> None:
        self.agency = agency
        self.now = now
        self.items: list[tuple[str, _Facts, str, tuple[str, ...]]] = []
        """Per item its id, its facts, its agency and its flags."""
        self.idchecks: Sequence[bytes] = ()
        """The dossier's look-ups as read with its last item."""
        self.counts: dict[str, int] | None = None

    def counted(self) -> _DossierFold:
        """This fold, its dossier's look-ups counted once rather than on every retry; when none
        of them is readable, the record's counts are left as they are (as fold_idchecks was
        not called then)."""
        entries = _idcheck_entries(self.idchecks)
        self.counts = idcheck_counts(entries) if entries else None
        return self

    def __call__(self, rec: EvaluationRecord) -> EvaluationRecord:
        out = rec
        # Items fold in id order (zero-padded: string order), so every id up to the newest one
        # the record has seen is folded already: by a drain that stopped before moving the
        # cursor, a second drainer after a lapsed lease, or this very write when its reply was
        # lost and redis-py sent the script again. The last 32 ids alone missed the earlier
        # items of a dossier with more than 32 in one batch, and folded them twice.
        done = max(rec.recent_items, default="")
        for item_id, facts, agency, flags in self.items:
            if item_id <= done:
                continue
            if out is rec:
                out = rec.copy()
            facts.fold_into(out, agency=agency or out.agency, accepted_ms=self.now, flags=flags)
            recent = out.recent_items
            recent.append(item_id)
            if len(recent) > _RECENT:
                del recent[: len(recent) - _RECENT]
        if self.counts is not None and self.counts != out.idchecks:
            if out is rec:
                out = rec.copy()
            out.idchecks = dict(self.counts)
            out.updated_ms = self.now
        return out


def _with_rating(
    rec: EvaluationRecord, *, rating: DossierRating, accepted_ms: int
) -> EvaluationRecord:
    return fold_rating(rec, rating, accepted_ms=accepted_ms)


def _with_idchecks(
    rec: EvaluationRecord, *, entries: list[dict[str, Any]], accepted_ms: int
) -> EvaluationRecord:
    return fold_idchecks(rec, entries, accepted_ms=accepted_ms)
