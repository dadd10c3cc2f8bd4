"""The evaluations of one gateway: fed by the intake, read by the API and the CLI.

:meth:`Evaluations.observe` is the intake hook (called by ``GatewayService.accept`` after the
records are stored); ratings and population-database look-ups come in through :meth:`rate` and
:meth:`refresh_idchecks`; :meth:`scorecard` and :meth:`feed_page` serve the readers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol

import orjson
import redis

from gateway.evaluations.feed import FeedPage, decode_cursor, encode_cursor
from gateway.evaluations.indicators import Scorecard, Scorer
from gateway.evaluations.periods import parse_period
from gateway.evaluations.record import (
    EvaluationRecord,
    fold_dossier,
    fold_idchecks,
    fold_rating,
    fold_step,
)
from gateway.evaluations.settings import EvaluationSettings
from gateway.evaluations.store import EvaluationStore, Update
from gateway.schemas.national import DossierRecord, ProgressRecord
from gateway.schemas.rating import DossierRating


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


__all__ = ["Evaluations"]

log = logging.getLogger("gateway.evaluations")


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
    ) -> None:
        self.settings = settings
        self.store = EvaluationStore(client, namespace=namespace)
        self.scorer = Scorer(settings)
        self._client = client
        self._ns = namespace
        self._clock = clock

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
    ) -> None:
        """Fold every newly accepted record (not refusals, not duplicates) into its dossier's
        evaluation record, with the intake's flags and the dossier's identity look-ups."""
        if not self.settings.enabled:
            return
        fresh = [
            (records[o.index], o.delivery_id)
            for o in sorted(outcomes, key=lambda o: o.index)
            if o.accepted and not o.duplicate and o.delivery_id is not None
        ]
        if not fresh:
            return
        # Steps of one dossier must fold in time order, as the outbox accepted them.
        fresh.sort(key=lambda p: p[0].handled_at if isinstance(p[0], ProgressRecord) else "")
        nos = sorted({rec.dossier_no for rec, _ in fresh})
        checks, flags = self.store.read_batch(nos, [rid for _, rid in fresh])
        now = self.now_ms()
        updates: list[Update] = []
        for (rec, _), raw_flags in zip(fresh, flags, strict=True):
            names = [f for f in raw_flags.split(",") if f]
            updates.append(Update(rec.dossier_no, agency, _record_fold(rec, agency, now, names)))
        for no in nos:
            entries = _idcheck_entries(checks[no])
            if entries:
                updates.append(
                    Update(no, agency, partial(_with_idchecks, entries=entries, accepted_ms=now))
                )
        self.store.apply(updates)

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
        return self.scorer.score(
            self.store.records(self.subtree(agency)),
            agency=agency,
            period=p,
            now_ms=self.now_ms() if now_ms is None else now_ms,
            reported=reported,
            explain=explain,
        )

    def feed_page(self, cursor: str | None, limit: int) -> FeedPage:
        """One page of the change feed after ``cursor`` (ValueError for a foreign cursor)."""
        after = decode_cursor(cursor)
        limit = max(1, min(limit, self.settings.feed_page_max))
        items = self.store.feed(after, limit)
        last = items[-1][0] if items else after
        return FeedPage(items, encode_cursor(last), has_more=len(items) == limit)


def _record_fold(
    rec: DossierRecord | ProgressRecord, agency: str, now: int, flags: list[str]
) -> Callable[[EvaluationRecord], EvaluationRecord]:
    if isinstance(rec, DossierRecord):
        d = rec
        return lambda e: fold_dossier(e, d, agency=agency, accepted_ms=now, flags=flags)
    s = rec
    return lambda e: fold_step(e, s, agency=agency, accepted_ms=now, flags=flags)


def _with_rating(
    rec: EvaluationRecord, *, rating: DossierRating, accepted_ms: int
) -> EvaluationRecord:
    return fold_rating(rec, rating, accepted_ms=accepted_ms)


def _with_idchecks(
    rec: EvaluationRecord, *, entries: list[dict[str, Any]], accepted_ms: int
) -> EvaluationRecord:
    return fold_idchecks(rec, entries, accepted_ms=accepted_ms)
