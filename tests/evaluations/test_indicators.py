"""The indicators over the hand-computed data set (tests/evaluations/dataset.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.evaluations import (
    EvaluationRecord,
    Scorecard,
    Scorer,
    fold_idchecks,
    fold_rating,
    on_time_verdict,
    parse_period,
)
from gateway.evaluations.calendar import WorkingTime
from gateway.schemas.rating import DossierRating
from gateway.testing.records import national_step

from . import dataset

OCTOBER = parse_period("2026-10")


def card(explain: str | None = None, **kw: object) -> Scorecard:
    settings = dataset.settings(**kw)
    return Scorer(settings).score(
        dataset.records(),
        agency=dataset.AGENCY,
        period=OCTOBER,
        now_ms=dataset.NOW_MS,
        explain=explain,
    )


def figures(c: Scorecard, ind: str) -> tuple[float, float, float | None, float | None]:
    i = c.indicator(ind)
    return i.numerator, i.denominator, i.ratio, i.points


def test_synced_counts_dossiers_received_in_the_period_in_utc7() -> None:
    """Ten dossiers were received in October local time: D9 (00:30 on 1 November) is not one."""
    assert figures(card(), "synced") == (10, 10, 1.0, 6.0)


def test_on_time_figures() -> None:
    """On time: D1, D3 (supplement wait excluded), D6 (maximum time), D10 (first finish) of 7."""
    num, den, ratio, points = figures(card(), "on_time")
    assert (num, den) == (4, 7)
    assert ratio == pytest.approx(4 / 7)
    assert points == pytest.approx(20 * 4 / 7, abs=1e-4)


def test_on_time_explanations_name_each_lost_point() -> None:
    """Late, second supplement, unfinished past due, and the excluded dossier, each with why."""
    why = {
        e.dossier_no.rsplit("-", 1)[1]: (e.reason, e.excluded) for e in card("on_time").explanations
    }
    assert why == {
        "0002": ("finished 2 working days after NgayHenTra", False),
        "0004": ("second supplement request", False),
        "0005": ("unfinished, 16 working days past NgayHenTra", False),
        "0007": (
            "excluded: no NgayHenTra and no maximum time configured for procedure 9.999999",
            True,
        ),
    }


def test_average_processing_time_in_working_days() -> None:
    """Six finished dossiers; D3 and D4 without their first supplement wait (hand-summed)."""
    # D1 3 1/24, D2 6 1/3, D3 6 - 3, D4 5 - 1, D6 4, D10 2 working days.
    num, den, ratio, points = figures(card(), "avg_processing_days")
    assert den == 6
    assert num == pytest.approx(22.375)
    assert ratio == pytest.approx(22.375 / 6)
    assert points == 0


def test_online_share_is_capped_at_its_target() -> None:
    """8 of 10 online, target 50%: full points."""
    assert figures(card(), "online") == (8, 10, 0.8, 12.0)


def test_online_payment_excludes_zero_fee_dossiers() -> None:
    """D1 and D6 paid online, D3 did not, D5 has no fee record; D2's zero fee is left out."""
    c = card("online_payment")
    assert figures(c, "online_payment") == (2, 4, 0.5, 3.0)
    why = {e.dossier_no.rsplit("-", 1)[1]: e.reason for e in c.explanations}
    assert why == {
        "0003": "fees not paid online (DuocThanhToanTrucTuyen 0)",
        "0005": "no fee record",
    }


def test_digitisation_indicators() -> None:
    """Electronic results 4/7, digitised 1/10 (target 80%), re-use 1/2, store 1/2, DB 1/10."""
    c = card()
    num, den, _, points = figures(c, "e_result")
    assert (num, den) == (4, 7)
    assert points == pytest.approx(6 * 4 / 7, abs=1e-4)
    assert figures(c, "digitised") == (1, 10, 0.1, 0.5)
    assert figures(c, "reused") == (1, 2, 0.5, 1.25)
    assert figures(c, "from_citizen_store") == (1, 2, 0.5, 2.0)
    assert figures(c, "population_db") == (1, 10, 0.1, 0.4)


def test_an_indicator_without_data_says_so() -> None:
    """No ratings yet: satisfaction has no ratio and no points, not zero."""
    i = card().indicator("dossier_satisfaction")
    assert (i.ratio, i.points, i.note) == (None, None, "no data yet")


def test_group_totals_and_total() -> None:
    """Groups add their indicators' points; the total adds the groups with data."""
    c = card()
    assert c.groups["online_service"] == 15.0
    assert c.groups["satisfaction"] == 0.0
    assert c.total == pytest.approx(sum(c.groups.values()), abs=1e-3)
    assert c.max_total == 64.0  # every indicator with data; satisfaction (6) has none


def test_reported_count_is_the_synced_denominator() -> None:
    """With the agency's own count (12), 10 synced dossiers score 5 of 6 points."""
    c = Scorer(dataset.settings()).score(
        dataset.records(), agency=dataset.AGENCY, period=OCTOBER, now_ms=dataset.NOW_MS, reported=12
    )
    assert figures(c, "synced") == (10, 12, 10 / 12, 5.0)


def test_received_rule_counts_only_dossiers_received_in_the_period() -> None:
    """Under the "received" rule a dossier received in September and finished in October is
    left out; under the default it counts."""
    sept = dataset.fold(
        dataset.dossier(
            "260928-0020",
            "10",
            MaTTHC="1.000001",
            NgayTiepNhan="20260928090000",
            NgayHenTra="20260930170000",
            NgayKetThucXuLy="20261002090000",
        )
    )
    records = [*dataset.records(), sept]
    for rule, expected in (("received", (4, 7)), ("received_or_processed", (4, 8))):
        scorer = Scorer(dataset.settings(on_time_rule=rule))
        c = scorer.score(records, agency=dataset.AGENCY, period=OCTOBER, now_ms=dataset.NOW_MS)
        assert figures(c, "on_time")[:2] == expected, rule


def test_child_agencies_count_for_the_parent_only() -> None:
    """The child agency alone has its one dossier; an unrelated agency none of the parent's."""
    scorer = Scorer(dataset.settings())
    child = scorer.score(
        dataset.records(), agency=dataset.CHILD, period=OCTOBER, now_ms=dataset.NOW_MS
    )
    other = scorer.score(
        dataset.records(), agency=dataset.OTHER, period=OCTOBER, now_ms=dataset.NOW_MS
    )
    assert figures(child, "synced")[:2] == (1, 1)
    assert figures(other, "synced")[:2] == (1, 1)


def test_quarter_and_year_periods_include_the_month() -> None:
    """Q4 and the year 2026 hold October's dossiers plus D9 (November)."""
    scorer = Scorer(dataset.settings())
    for label in ("2026-Q4", "2026"):
        c = scorer.score(
            dataset.records(),
            agency=dataset.AGENCY,
            period=parse_period(label),
            now_ms=dataset.NOW_MS,
        )
        assert figures(c, "synced")[:2] == (11, 11), label


def test_public_holidays_are_not_working_days() -> None:
    """With Monday 12 October a holiday, D2 (due Fri 17:00, done Tue 17:00) is 1 day late."""
    c = card("on_time", calendars={"default": dataset.HOLIDAY_CALENDAR})
    reasons = {e.dossier_no.rsplit("-", 1)[1]: e.reason for e in c.explanations}
    assert reasons["0002"] == "finished 1 working day after NgayHenTra"


def test_maximum_time_skips_holidays() -> None:
    """5 working days from Monday 12 October, a holiday, end on Tuesday 20th at 00:00."""
    wt = WorkingTime(dataset.HOLIDAY_CALENDAR)
    start = int(datetime(2026, 10, 12, 2, tzinfo=UTC).timestamp() * 1000)  # 09:00 UTC+7
    due = wt.add(start, 5)
    assert datetime.fromtimestamp(due / 1000, UTC) == datetime(2026, 10, 19, 17, tzinfo=UTC)


def test_open_supplement_stops_the_clock() -> None:
    """Unfinished but waiting for a supplement requested before the due date: not late yet."""
    rec = dataset.fold(
        dataset.dossier(
            "261005-0030",
            "5",
            MaTTHC="1.000001",
            NgayTiepNhan="20261005090000",
            NgayHenTra="20261009170000",
        ),
        national_step("20261007090000", "5", f"{dataset.AGENCY}-261005-0030"),
    )
    wt = WorkingTime(dataset.settings().calendars["default"])
    assert on_time_verdict(rec, wt, dataset.settings(), dataset.NOW_MS)[0] == "pending"


def test_dossier_satisfaction_from_ratings() -> None:
    """Two ratings in October: one satisfied, one not; target 90%."""
    recs = dataset.records()
    good = DossierRating.model_validate(
        {"dossier_no": recs[0].no, "rated_at": "2026-10-10T10:00:00+07:00", "verdict": "satisfied"}
    )
    bad = DossierRating.model_validate(
        {
            "dossier_no": recs[1].no,
            "rated_at": "2026-10-31T23:30:00+07:00",
            "verdict": "unsatisfied",
        }
    )
    recs[0] = fold_rating(recs[0], good, accepted_ms=1)
    recs[1] = fold_rating(recs[1], bad, accepted_ms=1)
    c = Scorer(dataset.settings()).score(
        recs,
        agency=dataset.AGENCY,
        period=OCTOBER,
        now_ms=dataset.NOW_MS,
        explain="dossier_satisfaction",
    )
    num, den, ratio, points = figures(c, "dossier_satisfaction")
    assert (num, den, ratio) == (1, 2, 0.5)
    assert points == pytest.approx(6 * 0.5 / 0.9, abs=1e-4)
    assert [e.reason for e in c.explanations] == ["rated unsatisfied"]


def test_older_rating_does_not_replace_a_newer_one() -> None:
    """A rating older than the one held leaves the record as it was."""
    rec = EvaluationRecord(no=f"{dataset.AGENCY}-261005-0001", agency=dataset.AGENCY)
    newer = DossierRating.model_validate(
        {"dossier_no": rec.no, "rated_at": "2026-10-10T10:00:00+07:00", "verdict": "satisfied"}
    )
    older = newer.model_copy(
        update={"rated_at": datetime(2026, 10, 1, tzinfo=UTC), "verdict": "unsatisfied"}
    )
    rated = fold_rating(rec, newer, accepted_ms=1)
    assert fold_rating(rated, older, accepted_ms=2) is rated


def test_own_lookups_count_as_population_db_use() -> None:
    """D2 had no DSKetNoiCSDL, but the gateway matched its owner: it now counts."""
    recs = dataset.records()
    recs[1] = fold_idchecks(
        recs[1], [{"outcome": "match"}, {"outcome": "unavailable"}], accepted_ms=1
    )
    c = Scorer(dataset.settings()).score(
        recs, agency=dataset.AGENCY, period=OCTOBER, now_ms=dataset.NOW_MS
    )
    assert figures(c, "population_db")[:2] == (2, 10)


def test_unavailable_lookups_alone_do_not_count() -> None:
    """A look-up that never reached the population database is not a use of it."""
    recs = dataset.records()
    recs[1] = fold_idchecks(recs[1], [{"outcome": "unavailable"}], accepted_ms=1)
    c = Scorer(dataset.settings()).score(
        recs, agency=dataset.AGENCY, period=OCTOBER, now_ms=dataset.NOW_MS
    )
    assert figures(c, "population_db")[:2] == (1, 10)


def test_resync_keeps_the_first_finish_and_flags_it() -> None:
    """9 → 4 → 10: finished at the first 9, with the "reopened" flag."""
    d10 = dataset.records()[9]
    assert d10.finished_status == "9"
    assert d10.finished_ms is not None  # the division below needs it
    assert datetime.fromtimestamp(d10.finished_ms / 1000, UTC) == datetime(
        2026, 10, 7, 2, tzinfo=UTC
    )
    assert d10.flags == ["reopened"]


def test_unknown_indicator_to_explain_is_refused() -> None:
    """Explaining an indicator that does not exist is an error naming the known ones."""
    with pytest.raises(ValueError, match="on_time"):
        card("nope")
