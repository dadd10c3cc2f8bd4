"""Native date-times: ISO 8601 text with a UTC offset, and nothing else.

pydantic's own ``datetime`` also reads integers and digit strings as Unix seconds or
milliseconds, so a DVCQG date sent by mistake (``20250310091500``) would be stored as a time in
the year 2611 and answered 202. Here a date-time is a string ``YYYY-MM-DDTHH:MM[:SS[.ffffff]]``
followed by ``Z`` or ``±HH:MM``; its year must stay within 1000–9999 once converted to UTC+7
(the national form has four digits), so that every accepted value can be delivered.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

__all__ = ["ISO_DATETIME_PATTERN", "IsoDateTime", "parse_iso_datetime"]

ISO_DATETIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)
_ISO = re.compile(ISO_DATETIME_PATTERN)
_UTC7 = timezone(timedelta(hours=7))


def parse_iso_datetime(value: Any) -> datetime:
    """An aware datetime from ISO 8601 text with an offset; PydanticCustomError otherwise.

    Rules: ``iso_datetime`` (not that text: numbers, naive or wire-format dates),
    ``iso_datetime_range`` (the year leaves 1000–9999 in UTC+7).
    """
    if isinstance(value, datetime) and value.utcoffset() is not None:
        # Built in Python (a mapper's output): already a datetime, only its range to check.
        return _in_range(value)
    if not isinstance(value, str) or not _ISO.fullmatch(value):
        raise PydanticCustomError(
            "iso_datetime",
            "must be ISO 8601 text with a UTC offset, e.g. 2025-03-10T09:15:00+07:00"
            " (no epoch numbers, no yyyyMMddHHmmss, no naive times)",
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PydanticCustomError("iso_datetime_range", "is not a real date-time") from None
    return _in_range(parsed)


def _in_range(value: datetime) -> datetime:
    try:
        local = value.astimezone(_UTC7)
    except OverflowError:
        local = None
    if local is None or not 1000 <= local.year <= 9999:
        raise PydanticCustomError(
            "iso_datetime_range", "must fall within the years 1000–9999 in UTC+7"
        )
    return value


IsoDateTime = Annotated[
    datetime,
    BeforeValidator(parse_iso_datetime),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "pattern": ISO_DATETIME_PATTERN},
        mode="validation",
    ),
]
"""An aware datetime read only from ISO 8601 text with an offset (see the module)."""
