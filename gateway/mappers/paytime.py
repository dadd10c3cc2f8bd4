"""Payment timestamps: ``yyyyMMddHHmmss`` in Vietnam time (UTC+7, no daylight saving).

A 24-hour clock by construction: the format is fixed here, with ``%H``, and nowhere else;
the parser refuses an hour above 23 and anything that is not exactly fourteen digits.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["VIETNAM", "format_pay_time", "parse_pay_time"]

VIETNAM = timezone(timedelta(hours=7), "ICT")
_FORMAT = "%Y%m%d%H%M%S"
_SHAPE = re.compile(r"^[0-9]{8}([01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]$")


def format_pay_time(epoch_seconds: float) -> str:
    """The provider timestamp of an instant (seconds since the epoch)."""
    return datetime.fromtimestamp(epoch_seconds, UTC).astimezone(VIETNAM).strftime(_FORMAT)


def parse_pay_time(value: str) -> datetime:
    """An aware datetime from a provider timestamp; ``ValueError`` naming the rule otherwise."""
    if not _SHAPE.match(value):
        raise ValueError(f"not a yyyyMMddHHmmss 24-hour timestamp: {value[:20]!r}")
    return datetime.strptime(value, _FORMAT).replace(tzinfo=VIETNAM)
