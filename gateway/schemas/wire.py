"""Wire-level scalar types of the national packets and the configurable rules they obey.

National systems send every scalar as a string and mean "none" by an empty string. Dates are
``yyyyMMddHHmmss`` on a 24-hour clock in Asia/Ho_Chi_Minh (UTC+7, no daylight saving). These
types validate that form without converting it, so a packet serialises back byte for byte; the
mappers turn them into timezone-aware datetimes.

Limits the domain reference marks as observed rather than specified (field lengths, the lists
of ``NoiNopHoSo`` and ``MaCSDL`` codes) live in :class:`WireRules`, passed as pydantic's
validation ``context``; without one the defaults apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "DOSSIER_NO_PATTERN",
    "LOCAL_DOSSIER_NO",
    "VIETNAM_TZ",
    "WIRE_DATE_PATTERN",
    "Amount",
    "Code",
    "DossierNumber",
    "OptText",
    "Text",
    "WireDate",
    "WireRules",
    "check_dossier_number",
    "dossier_agency",
    "format_wire_datetime",
    "is_standard_dossier_number",
    "limited",
    "parse_wire_datetime",
    "rules_from",
    "wire_epoch_ms",
    "wire_local_time",
]

VIETNAM_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")
"""Asia/Ho_Chi_Minh has been UTC+7 without daylight saving since 1975; a fixed offset is exact."""

_DEFAULT_LIMITS: dict[str, int] = {
    "TrichYeuHoSo": 1000,
    "NguoiXuLy": 50,
    "TenTepDinhKem": 4000,
    "TenGiayTo": 2000,
}


@dataclass(frozen=True, slots=True)
class WireRules:
    """Rules of the national format that are observed, not published: configuration.

    ``max_lengths`` maps a national field name to its upper bound in characters.
    ``submission_places`` / ``database_codes``: the allowed ``NoiNopHoSo`` / ``MaCSDL`` values, or
    ``None`` to accept any non-empty code (the official lists are not public). ``earliest`` /
    ``latest`` bound every national date (``wire_date_window``); the intake sets them from
    ``[intake]``.
    """

    max_lengths: dict[str, int] = field(default_factory=lambda: dict(_DEFAULT_LIMITS))
    submission_places: frozenset[str] | None = None
    database_codes: frozenset[str] | None = None
    earliest: str | None = None
    """The earliest plausible national timestamp (``yyyyMMddHHmmss``); None: no bound."""
    latest: str | None = None
    """The latest plausible national timestamp; None: no bound."""
    relaxed_dossier_numbers: bool = False
    """Also take ``MaHoSo`` with a 5-digit sequence, or a local number (the intake flags them)."""

    def __post_init__(self) -> None:
        # A configured limit overrides its default; the other defaults stay in force.
        object.__setattr__(self, "max_lengths", {**_DEFAULT_LIMITS, **self.max_lengths})


DEFAULT_RULES = WireRules()


def rules_from(info: ValidationInfo) -> WireRules:
    """The :class:`WireRules` passed as validation context, or the defaults."""
    ctx = info.context
    if isinstance(ctx, WireRules):
        return ctx
    if isinstance(ctx, dict):
        rules = ctx.get("rules")
        if isinstance(rules, WireRules):
            return rules
    return DEFAULT_RULES


# Python's and pydantic's \d match any Unicode digit (fullwidth "２"): the wire takes ASCII only,
# so every digit class below is [0-9].

# --- dates -------------------------------------------------------------------------------------

_fromiso = datetime.fromisoformat
_combine = datetime.combine


def _naive(value: str) -> datetime:
    # The one check of the form: 14 ASCII digits that make a real date-time on a 24-hour clock.
    # fromisoformat reads the basic ISO form yyyyMMddTHHmmss in C (hour 24, month 13 refused).
    if not (len(value) == 14 and value.isascii() and value.isdigit()):
        raise ValueError("expected 14 digits yyyyMMddHHmmss")
    return _fromiso(f"{value[:8]}T{value[8:]}")


def wire_local_time(value: str) -> datetime:
    """A ``yyyyMMddHHmmss`` the national model has already validated, as an aware UTC+7 datetime.

    No check (the hot mapping path); use :func:`parse_wire_datetime` for untrusted input.
    ``combine`` attaches the zone faster than ``replace(tzinfo=…)``.
    """
    naive = _fromiso(f"{value[:8]}T{value[8:]}")
    return _combine(naive.date(), naive.time(), VIETNAM_TZ)


def wire_epoch_ms(wire: Any) -> int | None:
    """A ``yyyyMMddHHmmss`` (UTC+7) as ms since the epoch; None when it is not one.

    Lenient, for wire forms the national model validated when they were stored (the evaluation
    folds): anything but such a string gives None rather than an error.
    """
    if not wire or not isinstance(wire, str):
        return None
    if len(wire) == 14 and wire.isascii() and wire.isdigit():
        # The usual case, done in integers (a third of the datetime route's time): the day from
        # a small cache, then the time of day. Anything unusual takes the datetime route below.
        day, hms = divmod(int(wire), 1_000_000)
        hour, ms = divmod(hms, 10_000)
        minute, second = divmod(ms, 100)
        if hour < 24 and minute < 60 and second < 60:
            start = _day_start_ms(day)
            if start is not None:
                return start + (hour * 3600 + minute * 60 + second) * 1000
    try:
        return int(wire_local_time(wire).timestamp() * 1000)
    except ValueError:
        return None


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_OFFSET_MS = int(VIETNAM_TZ.utcoffset(None).total_seconds() * 1000)


@lru_cache(maxsize=4096)
def _day_start_ms(day: int) -> int | None:
    """00:00 in UTC+7 of ``day`` (yyyyMMdd as a number) in ms; None when there is no such day."""
    year, month_day = divmod(day, 10_000)
    month, dom = divmod(month_day, 100)
    try:
        ordinal = date(year, month, dom).toordinal()
    except ValueError:
        return None
    return (ordinal - _EPOCH_ORDINAL) * 86_400_000 - _OFFSET_MS


def parse_wire_datetime(value: str) -> datetime:
    """``yyyyMMddHHmmss`` (UTC+7, 24-hour) to an aware datetime; ValueError when malformed."""
    naive = _naive(value)
    return _combine(naive.date(), naive.time(), VIETNAM_TZ)


def format_wire_datetime(value: datetime) -> str:
    """An aware datetime as ``yyyyMMddHHmmss`` in UTC+7 on a 24-hour clock.

    Raises ValueError for a naive datetime: its zone would be a guess. Sub-second precision is
    dropped (the wire has none).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime refused: give it a time zone")
    try:
        local = value.astimezone(VIETNAM_TZ)
    except OverflowError:
        raise ValueError("datetime out of range") from None
    if local.year < 1000:
        # strftime("%Y") does not pad here: year 999 would give 13 characters.
        raise ValueError("year before 1000")
    # %H-style 24-hour fields, never a 12-hour clock: afternoons must not go back twelve hours.
    return (
        f"{local.year:04d}{local.month:02d}{local.day:02d}"
        f"{local.hour:02d}{local.minute:02d}{local.second:02d}"
    )


def _check_wire_datetime(value: str, info: ValidationInfo) -> str:
    try:
        _naive(value)
    except ValueError as exc:
        raise PydanticCustomError(
            "wire_datetime",
            "must be a real date-time yyyyMMddHHmmss on a 24-hour clock (UTC+7): {reason}",
            {"reason": str(exc)},
        ) from None
    rules = rules_from(info)
    # Fixed width, one zone: string order is time order.
    if (rules.earliest is not None and value < rules.earliest) or (
        rules.latest is not None and value > rules.latest
    ):
        raise PydanticCustomError(
            "wire_date_window",
            "{value} is outside the plausible window {earliest}..{latest} ([intake] date window)",
            {"value": value, "earliest": rules.earliest or "-", "latest": rules.latest or "-"},
        )
    return value


WIRE_DATE_PATTERN = (
    r"^[0-9]{4}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])([01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]$"
)
"""The shape of a national timestamp, for the JSON Schema (the validator also checks the day)."""

WireDate = Annotated[
    str,
    AfterValidator(_check_wire_datetime),
    WithJsonSchema({"type": "string", "pattern": WIRE_DATE_PATTERN}),
]
"""A national timestamp, kept as its 14-digit string."""


def wire_date_of(value: date) -> str:
    """A calendar date as the national midnight timestamp."""
    return f"{value:%Y%m%d}000000"


# --- strings -----------------------------------------------------------------------------------


def _empty_to_none(value: Any) -> Any:
    # "Empty string means none" on the national wire.
    if value == "":
        return None
    return value


Text = Annotated[str, StringConstraints(min_length=1)]
"""A required non-empty string."""

OptText = Annotated[str | None, BeforeValidator(_empty_to_none)]
"""An optional string; ``""`` on the wire reads as absent."""

Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\s].*$")]
"""A code from a list we do not hold (agency, procedure, field codes)."""


def limited(name: str) -> AfterValidator:
    """A validator enforcing the configured maximum length of national field ``name``."""

    def check(value: str | None, info: ValidationInfo) -> str | None:
        limit = rules_from(info).max_lengths.get(name)
        if value is not None and limit is not None and len(value) > limit:
            raise PydanticCustomError(
                "string_too_long",
                "{field} is {length} characters, more than the limit of {limit}",
                {"field": name, "length": len(value), "limit": limit},
            )
        return value

    return AfterValidator(check)


# --- amounts -----------------------------------------------------------------------------------

_AMOUNT = re.compile(r"-?[0-9]+")


def _check_amount(value: Any) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _AMOUNT.fullmatch(text):
        raise PydanticCustomError("amount_format", "must be a whole number of VND, as a string")
    if text.startswith("-"):
        raise PydanticCustomError("amount_non_negative", "fee amount must not be negative")
    return text


Amount = Annotated[
    str,
    BeforeValidator(_check_amount),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]+$"}),
]
"""A non-negative whole number of VND, carried as a string of digits."""


# --- dossier number ----------------------------------------------------------------------------

# <agency code>-<YYMMDD>-<NNNN> (Circular 01/2018/TT-VPCP art. 19), agency code like 000.00.01.H22.
_DOSSIER_NO = re.compile(
    r"(?P<agency>[0-9A-Z]{2,3}(?:\.[0-9A-Z]{2,3}){3})-(?P<day>[0-9]{6})-(?P<seq>[0-9]{4})"
)


# What real senders also use (national-formats.md §2.2): a 5-digit sequence, or a local number.
# A local number becomes part of Redis key names and of the outbox's space-separated arguments:
# no spaces, no ":" and nothing outside this set.
_DOSSIER_NO_5 = re.compile(
    r"(?P<agency>[0-9A-Z]{2,3}(?:\.[0-9A-Z]{2,3}){3})-(?P<day>[0-9]{6})-(?P<seq>[0-9]{5})"
)
LOCAL_DOSSIER_NO = re.compile(r"[0-9A-Za-z][0-9A-Za-z._/-]{0,63}")
"""A local dossier number the relaxed rules take (ASCII letters, digits, ``._/-``; ≤ 64)."""


def dossier_agency(value: str) -> str | None:
    """The agency code that opens ``MaHoSo`` (4- or 5-digit sequence); None for a local number."""
    m = _DOSSIER_NO.fullmatch(value) or _DOSSIER_NO_5.fullmatch(value)
    return m.group("agency") if m is not None else None


def is_standard_dossier_number(value: str) -> bool:
    """True when ``MaHoSo`` has the Circular 01/2018 form (4-digit sequence, real date)."""
    try:
        check_dossier_number(value)
    except PydanticCustomError:
        return False
    return True


def _check_dossier_number(value: str, info: ValidationInfo) -> str:
    if rules_from(info).relaxed_dossier_numbers and (
        _DOSSIER_NO_5.fullmatch(value) or LOCAL_DOSSIER_NO.fullmatch(value)
    ):
        return value
    return check_dossier_number(value)


def check_dossier_number(value: str) -> str:
    """Validate ``MaHoSo``: agency code, a real YYMMDD reception date and a 4-digit sequence."""
    m = _DOSSIER_NO.fullmatch(value)
    if m is None:
        raise PydanticCustomError(
            "dossier_number_shape",
            "MaHoSo must look like <agency code>-<YYMMDD>-<NNNN>, e.g. 000.00.01.H22-250101-0001",
        )
    day = m.group("day")
    try:
        date(2000 + int(day[0:2]), int(day[2:4]), int(day[4:6]))
    except ValueError:
        raise PydanticCustomError(
            "dossier_number_date", "MaHoSo date part {day} is not a real YYMMDD date", {"day": day}
        ) from None
    if m.group("seq") == "0000":
        raise PydanticCustomError(
            "dossier_number_sequence", "MaHoSo sequence starts at 0001 within a day"
        )
    return value


DOSSIER_NO_PATTERN = (
    r"^[0-9A-Z]{2,3}(\.[0-9A-Z]{2,3}){3}-[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])-"
    r"(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})$"
)
"""The Circular 01/2018 shape of ``MaHoSo``, for the JSON Schema."""

DossierNumber = Annotated[
    str,
    AfterValidator(_check_dossier_number),
    # The intake takes more (a 5-digit sequence, a local number) and flags it: the schema
    # documents the form to send.
    WithJsonSchema({"type": "string", "pattern": DOSSIER_NO_PATTERN}),
]
"""``MaHoSo``: ``<agency code>-<YYMMDD>-<NNNN>`` (relaxed: also 5 digits, or a local number)."""
