"""Working time on a :class:`~gateway.evaluations.settings.WorkCalendar`, in O(1) per question.

A working day counts as one whole unit from local midnight to midnight (UTC+7); time on days
off counts zero. A prefix sum over the configured years turns "working days between two
instants" into two look-ups, which is what lets one province-month of a million dossiers score
in seconds. Instants outside the configured years are clamped to its ends.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, timedelta

from gateway.evaluations.settings import WorkCalendar

__all__ = ["DAY_MS", "WorkingTime", "local_day"]

DAY_MS = 86_400_000
_OFFSET_MS = 7 * 3_600_000  # UTC+7, no daylight saving


def local_day(ms: int) -> int:
    """The UTC+7 calendar day of ``ms``, as days since 1970-01-01."""
    return (ms + _OFFSET_MS) // DAY_MS


class WorkingTime:
    """Working days between instants, and deadlines N working days after one."""

    def __init__(self, calendar: WorkCalendar, years: tuple[int, int] = (2015, 2045)) -> None:
        first = date(years[0], 1, 1)
        last = date(years[1], 12, 31)
        epoch = date(1970, 1, 1)
        self._base = (first - epoch).days
        n = (last - first).days + 1
        work = bytearray(n)
        cum = [0] * (n + 1)
        for i in range(n):
            day = first + timedelta(days=i)
            works = (day.isoweekday() in calendar.weekdays and day not in calendar.holidays) or (
                day in calendar.working_days
            )
            work[i] = 1 if works else 0
            cum[i + 1] = cum[i] + work[i]
        self._work = bytes(work)
        self._cum = cum
        self._n = n

    def _position(self, ms: int) -> float:
        """Working days from the start of the range to ``ms``."""
        local = ms + _OFFSET_MS
        i = local // DAY_MS - self._base
        if i < 0:
            return 0.0
        if i >= self._n:
            return float(self._cum[self._n])
        if not self._work[i]:
            return float(self._cum[i])
        return self._cum[i] + (local % DAY_MS) / DAY_MS

    def is_working_day(self, ms: int) -> bool:
        """True when the UTC+7 day of ``ms`` is a working day."""
        i = local_day(ms) - self._base
        return 0 <= i < self._n and bool(self._work[i])

    def between(self, start_ms: int, end_ms: int) -> float:
        """Working days from ``start_ms`` to ``end_ms`` (negative when end is earlier)."""
        return self._position(end_ms) - self._position(start_ms)

    def add(self, start_ms: int, days: float) -> int:
        """The instant ``days`` working days after ``start_ms`` (a statutory deadline)."""
        target = self._position(start_ms) + days
        if days <= 0:
            return start_ms
        j = bisect_left(self._cum, target)
        if j > self._n:
            return (self._base + self._n) * DAY_MS - _OFFSET_MS
        d = max(j - 1, 0)
        return int((self._base + d) * DAY_MS - _OFFSET_MS + (target - self._cum[d]) * DAY_MS)
