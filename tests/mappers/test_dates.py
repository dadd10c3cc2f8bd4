"""The three national date formats (gateway/mappers/dates.py) and the fast timestamp reader."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.mappers import (
    DatePrecision,
    PartialDate,
    format_dvcqg_datetime,
    format_lltp_birth_date,
    format_lltp_date,
    format_population_date,
    parse_dvcqg_datetime,
    parse_lltp_birth_date,
    parse_lltp_date,
    parse_population_date,
    vietnam_date,
)
from gateway.mappers._scalars import local_time
from gateway.schemas import VIETNAM_TZ

from .strategies import aware_datetimes, wire_times

VN = VIETNAM_TZ
days = st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31))

# --- DVCQG yyyyMMddHHmmss ----------------------------------------------------------------------


def test_dvcqg_afternoon_stays_afternoon() -> None:
    """14:30 is written 143000 (24-hour clock), never 023000."""
    assert format_dvcqg_datetime(datetime(2025, 3, 14, 14, 30, tzinfo=VN)) == "20250314143000"


def test_dvcqg_other_offset_is_converted_to_utc_plus_7() -> None:
    """An instant given in UTC-5 is written as the same instant in UTC+7, across midnight."""
    given_at = datetime(2025, 3, 10, 20, 15, tzinfo=timezone(timedelta(hours=-5)))
    assert format_dvcqg_datetime(given_at) == "20250311081500"


def test_dvcqg_naive_datetime_is_refused() -> None:
    """A naive datetime raises ValueError instead of being taken as local time."""
    with pytest.raises(ValueError, match="naive"):
        format_dvcqg_datetime(datetime(2025, 3, 14, 14, 30))


def test_dvcqg_parse_gives_aware_utc_plus_7() -> None:
    """A national timestamp reads as an aware datetime in Asia/Ho_Chi_Minh."""
    parsed = parse_dvcqg_datetime("20250314143000")
    assert parsed == datetime(2025, 3, 14, 7, 30, tzinfo=UTC)
    assert parsed.tzinfo is VN


@pytest.mark.parametrize("text", ["2025031414300", "20250230143000", "20250314243000", "x" * 14])
def test_dvcqg_malformed_is_refused(text: str) -> None:
    """Wrong length, impossible days and hour 24 raise ValueError."""
    with pytest.raises(ValueError, match="not a DVCQG date-time"):
        parse_dvcqg_datetime(text)


@settings(max_examples=200)
@given(aware_datetimes)
def test_dvcqg_round_trip_keeps_the_instant(value: datetime) -> None:
    """parse(format(dt)) is the same instant as dt for second-precision aware datetimes."""
    assert parse_dvcqg_datetime(format_dvcqg_datetime(value)) == value


@settings(max_examples=200)
@given(wire_times)
def test_fast_reader_matches_parse_wire_datetime(text: str) -> None:
    """The mappers' fast timestamp reader gives exactly what parse_wire_datetime gives."""
    fast = local_time(text)
    assert fast == parse_dvcqg_datetime(text)
    assert fast.tzinfo is VN
    assert fast.isoformat() == parse_dvcqg_datetime(text).isoformat()


# --- LLTP dd/mm/yyyy ---------------------------------------------------------------------------


def test_lltp_formats_day_first_zero_padded() -> None:
    """5 March 2025 is 05/03/2025."""
    assert format_lltp_date(date(2025, 3, 5)) == "05/03/2025"


def test_lltp_aware_datetime_counts_the_vietnam_day() -> None:
    """20:00 UTC on 1 January is already 2 January in Vietnam."""
    assert format_lltp_date(datetime(2025, 1, 1, 20, 0, tzinfo=UTC)) == "02/01/2025"


def test_lltp_naive_datetime_is_refused() -> None:
    """A naive datetime has no known day in Vietnam: ValueError."""
    with pytest.raises(ValueError, match="naive"):
        format_lltp_date(datetime(2025, 1, 1, 20, 0))


def test_lltp_parse_reads_day_first() -> None:
    """02/03/2025 is 2 March, not 3 February."""
    assert parse_lltp_date("02/03/2025") == date(2025, 3, 2)


@pytest.mark.parametrize("text", ["2/3/2025", "31/02/2025", "2025-03-02", "０２/03/2025", ""])
def test_lltp_malformed_is_refused(text: str) -> None:
    """Unpadded, impossible, ISO-shaped, non-ASCII-digit and empty dates raise ValueError."""
    with pytest.raises(ValueError, match=r"not an LLTP date|not a real date"):
        parse_lltp_date(text)


@settings(max_examples=200)
@given(days)
def test_lltp_round_trip(value: date) -> None:
    """parse(format(d)) == d."""
    assert parse_lltp_date(format_lltp_date(value)) == value


@pytest.mark.parametrize(
    ("text", "expected", "precision"),
    [
        ("15/08/1986", PartialDate(1986, 8, 15), DatePrecision.DAY),
        ("08/1986", PartialDate(1986, 8), DatePrecision.MONTH),
        ("1986", PartialDate(1986), DatePrecision.YEAR),
    ],
)
def test_lltp_birth_date_keeps_its_precision(
    text: str, expected: PartialDate, precision: DatePrecision
) -> None:
    """dd/mm/yyyy, mm/yyyy and yyyy read as partial dates of day, month and year precision."""
    parsed = parse_lltp_birth_date(text)
    assert parsed == expected
    assert parsed.precision is precision
    assert format_lltp_birth_date(parsed) == text


@pytest.mark.parametrize("text", ["00/1986", "13/1986", "29/02/2023", "8/1986", "86", "1986/08"])
def test_lltp_birth_date_malformed_is_refused(text: str) -> None:
    """Month 0 or 13, 29 February of a common year and other shapes raise ValueError."""
    with pytest.raises(ValueError, match=r"not an LLTP birth date|not a real date"):
        parse_lltp_birth_date(text)


def test_partial_date_day_needs_month() -> None:
    """A day without a month is refused."""
    with pytest.raises(ValueError, match="month"):
        PartialDate(1986, day=15)


def test_partial_date_earliest_is_first_possible_day() -> None:
    """A month-precision birth date starts on the 1st of that month."""
    assert PartialDate(1986, 8).earliest == date(1986, 8, 1)


def test_birth_date_from_full_date_formats_day_month_year() -> None:
    """A plain date is written with day precision."""
    assert format_lltp_birth_date(date(1986, 8, 15)) == "15/08/1986"


@settings(max_examples=200)
@given(days, st.sampled_from(list(DatePrecision)))
def test_lltp_birth_date_round_trip(value: date, precision: DatePrecision) -> None:
    """parse(format(p)) == p at every precision."""
    partial = PartialDate(
        value.year,
        None if precision is DatePrecision.YEAR else value.month,
        value.day if precision is DatePrecision.DAY else None,
    )
    assert parse_lltp_birth_date(format_lltp_birth_date(partial)) == partial


# --- population database yyyyMMdd --------------------------------------------------------------


def test_population_formats_compact_date() -> None:
    """15 August 1986 is 19860815."""
    assert format_population_date(date(1986, 8, 15)) == "19860815"


def test_population_aware_datetime_counts_the_vietnam_day() -> None:
    """An evening UTC instant is the next Vietnamese day."""
    assert format_population_date(datetime(1986, 8, 14, 18, 0, tzinfo=UTC)) == "19860815"


def test_population_naive_datetime_is_refused() -> None:
    """A naive datetime raises ValueError."""
    with pytest.raises(ValueError, match="naive"):
        format_population_date(datetime(1986, 8, 14, 18, 0))


@pytest.mark.parametrize("text", ["1986081", "19860230", "1986-08-15", "１９８６0815"])
def test_population_malformed_is_refused(text: str) -> None:
    """Short, impossible, dashed and non-ASCII-digit dates raise ValueError."""
    with pytest.raises(ValueError, match=r"not a population-database date|not a real date"):
        parse_population_date(text)


@settings(max_examples=200)
@given(days)
def test_population_round_trip(value: date) -> None:
    """parse(format(d)) == d."""
    assert parse_population_date(format_population_date(value)) == value


def test_vietnam_date_keeps_plain_dates() -> None:
    """A date (not a datetime) is returned unchanged."""
    assert vietnam_date(date(2025, 1, 1)) == date(2025, 1, 1)
