"""The Decision 766 indicators computed from evaluation records: pure functions, no I/O.

:func:`score` makes one pass over the records of an agency (and every agency below it) and a
period, and gives each indicator as numerator, denominator, ratio and points, with the group
totals. An indicator with no denominator has no data: its ratio and points are ``None``, not 0.
With ``explain`` set to an indicator id it also lists the dossiers that cost points, and why.

Scoring (national-formats.md §5): each ratio R scores ``max × min(1, R / target)``, or
``max × R`` where no target is set.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gateway.evaluations.calendar import WorkingTime
from gateway.evaluations.periods import Period
from gateway.evaluations.record import EvaluationRecord
from gateway.evaluations.settings import INDICATOR_IDS, EvaluationSettings, WorkCalendar

__all__ = ["Explanation", "IndicatorResult", "Scorecard", "Scorer", "on_time_verdict"]

_GOOD_VERDICTS = frozenset({"very_satisfied", "satisfied"})
_RESULT_STATUSES = frozenset({"9", "10"})
_CHANNELS = {"1": "in person", "3": "by public post"}
_Lose = Callable[..., None]


@dataclass(frozen=True, slots=True)
class Explanation:
    """One dossier that cost points on an indicator (or was left out of it), and why."""

    dossier_no: str
    reason: str
    excluded: bool = False
    """True when the dossier was left out of the indicator rather than counted against it."""


@dataclass(frozen=True, slots=True)
class IndicatorResult:
    """One indicator: ``ratio`` and ``points`` are ``None`` when there is no data yet."""

    id: str
    group: str
    numerator: float
    denominator: float
    ratio: float | None
    points: float | None
    max_points: float
    target: float | None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Scorecard:
    """An agency's indicators in a period, with group and overall totals of the points."""

    agency: str
    period: str
    indicators: tuple[IndicatorResult, ...]
    groups: dict[str, float]
    total: float
    max_total: float
    explanations: tuple[Explanation, ...] = ()

    def indicator(self, indicator_id: str) -> IndicatorResult:
        """The indicator with this id (KeyError when unknown)."""
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(indicator_id)


@dataclass(slots=True)
class _Tally:
    num: float = 0.0
    den: float = 0.0
    why: list[Explanation] = field(default_factory=list)


def _by_dossier(e: Explanation) -> str:
    return e.dossier_no


def _days(x: float) -> str:
    n = math.ceil(x - 1e-9)
    return f"{n} working day{'s' if n != 1 else ''}"


def on_time_verdict(
    rec: EvaluationRecord, wt: WorkingTime, settings: EvaluationSettings, now_ms: int
) -> tuple[str, str | None, float | None]:
    """Whether one dossier counts as on time.

    Answers ``(verdict, reason, processing_days)``: verdict ``on_time``, ``late``, ``pending``
    (unfinished, not yet due: not counted) or ``excluded`` (no due date and no maximum time:
    flagged and left out); processing days are working days from reception to the end,
    without the first supplement wait, for finished dossiers.
    """
    received = rec.received_ms
    if received is None:
        return "excluded", "no dossier record (NgayTiepNhan unknown)", None
    due = rec.due_ms
    due_name = "NgayHenTra"
    if due is None:
        rule = settings.procedures.get(rec.procedure or "")
        if rule is None or rule.max_days is None:
            return (
                "excluded",
                f"no NgayHenTra and no maximum time configured for procedure {rec.procedure}",
                None,
            )
        due = wt.add(received, rule.max_days)
        due_name = f"the procedure's maximum time ({rule.max_days:g} working days)"
    periods = rec.supplement_periods()
    # The first supplement wait (status 5, once) does not count; its end is "now" while open.
    wait_ms = 0
    wait_days = 0.0
    open_since: int | None = None
    if periods:
        start, end = periods[0]
        if start is not None:
            if end is None:
                open_since = start
            else:
                wait_ms = max(0, end - start)
                wait_days = max(0.0, wt.between(start, end))
    finished = rec.finished_ms
    days = None
    if finished is not None:
        days = max(0.0, wt.between(received, finished) - wait_days)
    if rec.supplement_count >= 2:
        return "late", "second supplement request", days
    if finished is not None:
        effective = finished - wait_ms
        if effective <= due:
            return "on_time", None, days
        return "late", f"finished {_days(wt.between(due, effective))} after {due_name}", days
    if open_since is not None:
        # Waiting for the applicant: the clock stopped when the supplement was requested.
        if open_since > due:
            late = _days(wt.between(due, open_since))
            return "late", f"supplement requested {late} after {due_name}", None
        return "pending", None, None
    if now_ms - wait_ms > due:
        return (
            "late",
            f"unfinished, {_days(wt.between(due, now_ms - wait_ms))} past {due_name}",
            None,
        )
    return "pending", None, None


class Scorer:
    """Scores records with one configuration; build once, then :meth:`score` many times."""

    def __init__(self, settings: EvaluationSettings) -> None:
        self.settings = settings
        self._times: dict[WorkCalendar, WorkingTime] = {}

    def working_time(self, agency: str) -> WorkingTime:
        """The working-time calculator of ``agency``'s calendar (built once per calendar)."""
        cal = self.settings.calendar_for(agency)
        wt = self._times.get(cal)
        if wt is None:
            wt = self._times[cal] = WorkingTime(cal, self.settings.calendar_years)
        return wt

    def score(
        self,
        records: Iterable[EvaluationRecord],
        *,
        agency: str,
        period: Period,
        now_ms: int,
        reported: int | None = None,
        explain: str | None = None,
    ) -> Scorecard:
        """The scorecard of ``agency`` (and the agencies below it) for ``period``.

        ``now_ms`` decides which unfinished dossiers are past due. ``reported`` is the number
        of dossiers the agency itself reports for the period (the ``synced`` denominator); when
        None, the dossiers the gateway knows of (records or steps) stand in for it.
        ``explain`` names the indicator whose lost points to list (ValueError if unknown).
        """
        if explain is not None and explain not in INDICATOR_IDS:
            raise ValueError(f"no indicator {explain!r}; known: {', '.join(INDICATOR_IDS)}")
        s = self.settings
        t = {i: _Tally() for i in INDICATOR_IDS}
        inside: dict[str, bool] = {}
        counting_received = s.on_time_rule == "received"
        pay_codes = s.online_payment_codes
        db_codes = s.population_db_codes
        id_outcomes = s.idcheck_outcomes
        procedures = s.procedures
        want = explain

        def lose(ind: str, no: str, reason: str, *, excluded: bool = False) -> None:
            if want == ind:
                t[ind].why.append(Explanation(no, reason, excluded))

        for rec in records:
            ag = rec.agency
            ok = inside.get(ag)
            if ok is None:
                ok = inside[ag] = agency in s.ancestors(ag)
            if not ok:
                continue
            no = rec.no
            received_in = period.contains(rec.received_ms)
            if received_in:
                t["synced"].num += 1
                t["synced"].den += 1
            elif not rec.has_dossier and period.contains(rec.first_step_ms):
                t["synced"].den += 1
                lose("synced", no, "progress steps but no dossier record (DongBoHoSoMC)")
            finished_in = period.contains(rec.finished_ms)
            if rec.has_dossier and (received_in or (not counting_received and finished_in)):
                self._on_time(rec, t, now_ms, lose)
            if finished_in and rec.finished_status in _RESULT_STATUSES:
                e = t["e_result"]
                e.den += 1
                if rec.result_links:
                    e.num += 1
                else:
                    lose("e_result", no, "no electronic result (no DanhSachGiayToKetQua link)")
            if period.contains(rec.rating_ms):
                d = t["dossier_satisfaction"]
                d.den += 1
                if rec.verdict in _GOOD_VERDICTS:
                    d.num += 1
                else:
                    lose("dossier_satisfaction", no, f"rated {rec.verdict}")
            if not received_in:
                continue
            o = t["online"]
            o.den += 1
            if rec.channel == "2":
                o.num += 1
            else:
                how = _CHANNELS.get(rec.channel or "1", "not online")
                lose("online", no, f"submitted {how} (KenhThucHien {rec.channel or '1'})")
            rule = procedures.get(rec.procedure or "")
            if rec.fee_total > 0 or (
                rec.fee_records == 0 and rule is not None and rule.fee_bearing
            ):
                p = t["online_payment"]
                p.den += 1
                if rec.fee_records == 0:
                    lose("online_payment", no, "no fee record")
                elif rec.online_payment in pay_codes:
                    p.num += 1
                else:
                    code = rec.online_payment if rec.online_payment is not None else "not sent"
                    lose(
                        "online_payment",
                        no,
                        f"fees not paid online (DuocThanhToanTrucTuyen {code})",
                    )
            g = t["digitised"]
            g.den += 1
            if rec.digitised_flag == "1" or (rec.docs > 0 and rec.docs_digitised == rec.docs):
                g.num += 1
            else:
                missing = rec.docs - rec.docs_digitised
                lose(
                    "digitised",
                    no,
                    f"HoSoCoThanhPhanSoHoa {rec.digitised_flag or 'not sent'} and {missing} of"
                    f" {rec.docs} documents not digitised (DuocSoHoa)",
                )
            if rec.docs > 0:
                r = t["reused"]
                r.den += 1
                if rec.docs_reused:
                    r.num += 1
                else:
                    lose("reused", no, "no document re-used (DuocTaiSuDung)")
                c = t["from_citizen_store"]
                c.den += 1
                if rec.docs_from_store:
                    c.num += 1
                else:
                    lose(
                        "from_citizen_store",
                        no,
                        "no document from the data store (DuocLayTuKhoDMQG)",
                    )
            pdb = t["population_db"]
            pdb.den += 1
            used = rec.vneid or any(
                n for outcome, n in rec.idchecks.items() if outcome in id_outcomes
            )
            if not used:
                used = (
                    bool(rec.db_codes)
                    if db_codes is None
                    else any(c in db_codes for c in rec.db_codes)
                )
            if used:
                pdb.num += 1
            else:
                lose(
                    "population_db",
                    no,
                    "no population-database use (no DSKetNoiCSDL entry, no VNeID-verified"
                    " account, no look-up through the gateway)",
                )
        if reported is not None:
            t["synced"].den = float(reported)
        return self._card(agency, period, t, explain)

    def _on_time(
        self, rec: EvaluationRecord, t: dict[str, _Tally], now_ms: int, lose: _Lose
    ) -> None:
        wt = self.working_time(rec.agency)
        verdict, reason, days = on_time_verdict(rec, wt, self.settings, now_ms)
        if days is not None:
            a = t["avg_processing_days"]
            a.num += days
            a.den += 1
        if verdict == "pending":
            return
        if verdict == "excluded":
            lose("on_time", rec.no, f"excluded: {reason}", excluded=True)
            return
        o = t["on_time"]
        o.den += 1
        if verdict == "on_time":
            o.num += 1
        else:
            lose("on_time", rec.no, reason or "late")

    def _card(
        self, agency: str, period: Period, t: dict[str, _Tally], explain: str | None
    ) -> Scorecard:
        results: list[IndicatorResult] = []
        groups: dict[str, float] = {}
        total = 0.0
        max_total = 0.0
        for ind in INDICATOR_IDS:
            rule = self.settings.indicators[ind]
            tally = t[ind]
            groups.setdefault(rule.group, 0.0)
            if tally.den <= 0:
                results.append(
                    IndicatorResult(
                        ind,
                        rule.group,
                        tally.num,
                        tally.den,
                        None,
                        None,
                        rule.max_points,
                        rule.target,
                        note="no data yet",
                    )
                )
                continue
            ratio = tally.num / tally.den
            if ind == "avg_processing_days":
                # An average, not a share: it carries no points of its own (§5).
                points = 0.0
            elif rule.target is None:
                points = rule.max_points * min(1.0, ratio)
            else:
                points = rule.max_points * min(1.0, ratio / rule.target)
            points = round(points, 4)
            results.append(
                IndicatorResult(
                    ind,
                    rule.group,
                    tally.num,
                    tally.den,
                    ratio,
                    points,
                    rule.max_points,
                    rule.target,
                )
            )
            groups[rule.group] += points
            total += points
            max_total += rule.max_points
        why = tuple(sorted(t[explain].why, key=_by_dossier)) if explain is not None else ()
        return Scorecard(
            agency=agency,
            period=period.label,
            indicators=tuple(results),
            groups={g: round(v, 4) for g, v in groups.items()},
            total=round(total, 4),
            max_total=max_total,
            explanations=why,
        )
