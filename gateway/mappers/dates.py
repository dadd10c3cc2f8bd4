"""The three national date formats, both ways (national-formats.md, closing note).

- DVCQG: ``yyyyMMddHHmmss``, 24-hour clock, UTC+7 — an instant.
- LLTP (Ministry of Justice, judicial records): ``dd/mm/yyyy`` — a calendar date; birth dates may
  also be ``mm/yyyy`` or ``yyyy`` when the day or month is unknown (:class:`PartialDate`).
- Population database: ``yyyyMMdd`` — a calendar date.

Every function is pure and raises ``ValueError`` on bad input, as the wire helpers of
:mod:`gateway.schemas.wire` do: pydantic turns a ``ValueError`` raised inside a validator into a
``ValidationError``, so these functions can serve as validators too; callers at a boundary
translate with :func:`gateway.mappers.errors.contract_error_from`.

A naive ``datetime`` is always refused: which calendar day (or which instant) it means depends on
a zone we would have to guess. An aware ``datetime`` given where a calendar date is expected is
first converted to Vietnam time, because the national systems count days in UTC+7
(``2025-01-01T20:00Z`` is 2 January in Hà Nội).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from gateway.schemas.wire import VIETNAM_TZ, format_wire_datetime, parse_wire_datetime

__all__ = [
    "DatePrecision",
    "PartialDate",
    "dvcqg_from_lltp_date",
    "format_dvcqg_datetime",
    "format_lltp_birth_date",
    "format_lltp_date",
    "format_population_date",
    "lltp_birth_from_population",
    "lltp_date_from_dvcqg",
    "parse_dvcqg_datetime",
    "parse_lltp_birth_date",
    "parse_lltp_date",
    "parse_population_date",
    "population_from_lltp_birth",
    "vietnam_date",
]


def vietnam_date(value: date) -> date:
    """The calendar day ``value`` falls on in Vietnam.

    A ``date`` is returned as is; an aware ``datetime`` is converted to UTC+7 first. Raises
    ValueError for a naive ``datetime``.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: give it a time zone")
        return value.astimezone(VIETNAM_TZ).date()
    return value


def _real_date(text: str, year: int, month: int, day: int) -> date:
    """``date(year, month, day)``, with a message that quotes the text it was read from."""
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a real date: {exc}") from None


# --- DVCQG -------------------------------------------------------------------------------------


def format_dvcqg_datetime(value: datetime) -> str:
    """An aware datetime as DVCQG ``yyyyMMddHHmmss`` (UTC+7, 24-hour; sub-seconds dropped).

    Raises ValueError for a naive datetime.
    """
    return format_wire_datetime(value)


def parse_dvcqg_datetime(value: str) -> datetime:
    """DVCQG ``yyyyMMddHHmmss`` as an aware datetime in UTC+7; ValueError when malformed."""
    try:
        return parse_wire_datetime(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a DVCQG date-time yyyyMMddHHmmss: {exc}") from None


# --- LLTP --------------------------------------------------------------------------------------

# Zero-padded only: "1/2/2025" is refused rather than read one way or the other.
_LLTP_DAY = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_LLTP_MONTH = re.compile(r"([0-9]{2})/([0-9]{4})")
_LLTP_YEAR = re.compile(r"[0-9]{4}")


def format_lltp_date(value: date) -> str:
    """A calendar date as LLTP ``dd/mm/yyyy`` (an aware datetime counts in Vietnam time).

    Raises ValueError for a naive datetime.
    """
    day = vietnam_date(value)
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def parse_lltp_date(value: str) -> date:
    """LLTP ``dd/mm/yyyy`` as a date; ValueError when malformed or not a real day."""
    m = _LLTP_DAY.fullmatch(value)
    if m is None:
        raise ValueError(f"{value!r} is not an LLTP date dd/mm/yyyy")
    return _real_date(value, int(m.group(3)), int(m.group(2)), int(m.group(1)))


class DatePrecision(StrEnum):
    """How much of a :class:`PartialDate` is known."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A birth date that may lack its day, or its day and month (LLTP ``birthDateStr``).

    ``day`` requires ``month``; whatever is given must exist in the calendar (ValueError otherwise).
    """

    year: int
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if self.day is not None and self.month is None:
            raise ValueError("a day without a month is not a date")
        # date() checks the year, the month and the day within that month (29 February
        # included); test against None, not truthiness, so month 0 or day 0 is refused rather
        # than read as unknown.
        _real_date(
            str(self),
            self.year,
            1 if self.month is None else self.month,
            1 if self.day is None else self.day,
        )

    @property
    def precision(self) -> DatePrecision:
        """DAY, MONTH or YEAR: the finest part that is known."""
        if self.day is not None:
            return DatePrecision.DAY
        if self.month is not None:
            return DatePrecision.MONTH
        return DatePrecision.YEAR

    @property
    def earliest(self) -> date:
        """The first day the partial date may stand for (e.g. for age checks)."""
        return date(
            self.year,
            1 if self.month is None else self.month,
            1 if self.day is None else self.day,
        )

    @classmethod
    def of(cls, value: date) -> PartialDate:
        """A fully known date (an aware datetime counts in Vietnam time; naive refused)."""
        day = vietnam_date(value)
        return cls(day.year, day.month, day.day)


def format_lltp_birth_date(value: PartialDate | date) -> str:
    """A birth date as LLTP ``dd/mm/yyyy``, ``mm/yyyy`` or ``yyyy``, as precise as it is known."""
    if not isinstance(value, PartialDate):
        return format_lltp_date(value)
    if value.month is None:
        return f"{value.year:04d}"
    if value.day is None:
        return f"{value.month:02d}/{value.year:04d}"
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def parse_lltp_birth_date(value: str) -> PartialDate:
    """LLTP ``birthDateStr`` (``dd/mm/yyyy``, ``mm/yyyy`` or ``yyyy``) as a :class:`PartialDate`.

    Raises ValueError when the text has none of the three shapes or names no real date.
    """
    if _LLTP_YEAR.fullmatch(value):
        return PartialDate(int(value))
    m = _LLTP_MONTH.fullmatch(value)
    if m is not None:
        return PartialDate(int(m.group(2)), int(m.group(1)))
    m = _LLTP_DAY.fullmatch(value)
    if m is not None:
        return PartialDate(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    raise ValueError(f"{value!r} is not an LLTP birth date dd/mm/yyyy, mm/yyyy or yyyy")


# --- population database -----------------------------------------------------------------------

_POPULATION = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")


def format_population_date(value: date) -> str:
    """A calendar date as population-database ``yyyyMMdd`` (aware datetime: Vietnam time).

    Raises ValueError for a naive datetime.
    """
    day = vietnam_date(value)
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def parse_population_date(value: str) -> date:
    """Population-database ``yyyyMMdd`` as a date; ValueError when malformed or not a real day."""
    m = _POPULATION.fullmatch(value)
    if m is None:
        raise ValueError(f"{value!r} is not a population-database date yyyyMMdd")
    return _real_date(value, int(m.group(1)), int(m.group(2)), int(m.group(3)))


# --- between formats ----------------------------------------------------------------------------


def lltp_date_from_dvcqg(value: str) -> str:
    """A DVCQG ``yyyyMMddHHmmss`` instant as the LLTP ``dd/mm/yyyy`` day it falls on (UTC+7).

    The time of day is dropped (LLTP dates are calendar days); ValueError when malformed.
    """
    return format_lltp_date(parse_dvcqg_datetime(value))


def dvcqg_from_lltp_date(value: str, *, end_of_day: bool = False) -> str:
    """An LLTP ``dd/mm/yyyy`` day as a DVCQG instant: its first second in UTC+7, or its last
    with ``end_of_day`` (an issue date reported as "by the end of that day")."""
    day = parse_lltp_date(value)
    hms = (23, 59, 59) if end_of_day else (0, 0, 0)
    return format_dvcqg_datetime(datetime(day.year, day.month, day.day, *hms, tzinfo=VIETNAM_TZ))


def lltp_birth_from_population(value: str) -> str:
    """A population-database ``yyyyMMdd`` birth date as LLTP ``birthDateStr`` (``dd/mm/yyyy``)."""
    return format_lltp_birth_date(parse_population_date(value))


def population_from_lltp_birth(value: str) -> str:
    """LLTP ``birthDateStr`` as population ``yyyyMMdd``; ValueError unless the day is known
    (the population database has no partial dates, and guessing a day would be a false fact)."""
    partial = parse_lltp_birth_date(value)
    if partial.precision is not DatePrecision.DAY:
        raise ValueError(f"{value!r} lacks the day: the population database needs a full date")
    return format_population_date(partial.earliest)
