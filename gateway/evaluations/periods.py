"""Scoring periods (month ``2026-10``, quarter ``2026-Q4``, year ``2026``), bounded in UTC+7.

A period runs from local midnight on its first day to local midnight after its last day, in
Asia/Ho_Chi_Minh (UTC+7): a dossier received at 23:30 on 31 October local time (16:30 UTC)
belongs to October, and one received at 00:30 on 1 November local time (17:30 UTC on 31 October)
belongs to November. Times are milliseconds since the epoch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from gateway.schemas.wire import VIETNAM_TZ

__all__ = ["Period", "parse_period"]

_SHAPES = (
    (re.compile(r"^([0-9]{4})-([0-9]{2})$"), "month"),
    (re.compile(r"^([0-9]{4})-[Qq]([1-4])$"), "quarter"),
    (re.compile(r"^([0-9]{4})$"), "year"),
)


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open interval ``[start_ms, end_ms)`` with its label (``2026-10``, ``2026-Q4``)."""

    label: str
    kind: str
    start_ms: int
    end_ms: int

    def contains(self, ms: int | None) -> bool:
        """True when ``ms`` falls in the period (``None`` never does)."""
        return ms is not None and self.start_ms <= ms < self.end_ms


def _local_ms(year: int, month: int) -> int:
    if month == 13:
        year, month = year + 1, 1
    return int(datetime(year, month, 1, tzinfo=VIETNAM_TZ).timestamp() * 1000)


def parse_period(text: str) -> Period:
    """The period ``text`` names; ValueError (saying the accepted shapes) otherwise."""
    value = text.strip()
    for pattern, kind in _SHAPES:
        m = pattern.match(value)
        if m is None:
            continue
        year = int(m.group(1))
        if not 1970 <= year <= 2200:
            break
        if kind == "month":
            month = int(m.group(2))
            if not 1 <= month <= 12:
                break
            return Period(
                f"{year:04d}-{month:02d}", kind, _local_ms(year, month), _local_ms(year, month + 1)
            )
        if kind == "quarter":
            q = int(m.group(2))
            first = 3 * (q - 1) + 1
            return Period(
                f"{year:04d}-Q{q}", kind, _local_ms(year, first), _local_ms(year, first + 3)
            )
        return Period(f"{year:04d}", kind, _local_ms(year, 1), _local_ms(year + 1, 1))
    raise ValueError(
        f"period {text!r} is not a month (2026-10), a quarter (2026-Q4) or a year (2026)"
    )
