"""Conversions between the national date formats that ministry hand-overs need."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.mappers import (
    dvcqg_from_lltp_date,
    format_lltp_date,
    format_population_date,
    lltp_birth_from_population,
    lltp_date_from_dvcqg,
    population_from_lltp_birth,
)

days = st.dates(min_value=date(1900, 1, 1), max_value=date(9999, 12, 31))


def test_dvcqg_evening_is_that_vietnam_day() -> None:
    """23:30 in Hà Nội stays that calendar day in LLTP."""
    assert lltp_date_from_dvcqg("20250301233000") == "01/03/2025"


def test_lltp_day_starts_or_ends_in_dvcqg() -> None:
    """An LLTP day becomes its first (or, asked, its last) second in DVCQG."""
    assert dvcqg_from_lltp_date("05/02/2025") == "20250205000000"
    assert dvcqg_from_lltp_date("05/02/2025", end_of_day=True) == "20250205235959"


@given(days)
def test_lltp_dvcqg_round_trip(value: date) -> None:
    """LLTP → DVCQG → LLTP gives the same day back."""
    text = format_lltp_date(value)
    assert lltp_date_from_dvcqg(dvcqg_from_lltp_date(text)) == text


@given(days, st.integers(0, 23), st.integers(0, 59))
def test_dvcqg_lltp_round_trip_keeps_the_day(value: date, hour: int, minute: int) -> None:
    """DVCQG → LLTP → DVCQG gives the start of the same day."""
    text = f"{value:%Y%m%d}{hour:02d}{minute:02d}00"
    assert dvcqg_from_lltp_date(lltp_date_from_dvcqg(text)) == f"{value:%Y%m%d}000000"


@given(days)
def test_population_lltp_birth_round_trip(value: date) -> None:
    """population yyyyMMdd → LLTP birthDateStr → population is the identity."""
    text = format_population_date(value)
    assert population_from_lltp_birth(lltp_birth_from_population(text)) == text


@pytest.mark.parametrize("partial", ["1980", "07/1980"])
def test_partial_birth_date_has_no_population_form(partial: str) -> None:
    """A birth date without its day is refused, not guessed, for the population database."""
    with pytest.raises(ValueError, match="lacks the day"):
        population_from_lltp_birth(partial)


@pytest.mark.parametrize("bad", ["2025-03-01", "2025030112", "20251301000000"])
def test_malformed_dvcqg_is_refused(bad: str) -> None:
    """A malformed DVCQG date raises ValueError, never a wrong day."""
    with pytest.raises(ValueError, match="DVCQG date-time"):
        lltp_date_from_dvcqg(bad)
