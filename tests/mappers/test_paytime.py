"""Payment timestamps: a 24-hour clock in Vietnam time, by construction."""

from __future__ import annotations

import re

import pytest

from gateway.mappers.paytime import format_pay_time, parse_pay_time

MIDNIGHT_VN = 1_764_522_000  # 2025-12-01 00:00:00 in Vietnam (17:00 UTC the day before)


def test_every_hour_of_the_day_is_written_on_a_24_hour_clock() -> None:
    """Hours 00..23 appear as themselves: 13:00 is "13", never "01"; no AM/PM."""
    for hour in range(24):
        text = format_pay_time(MIDNIGHT_VN + hour * 3600 + 5 * 60 + 9)
        assert text == f"20251201{hour:02d}0509"
        assert re.fullmatch(r"[0-9]{14}", text)


def test_the_parser_refuses_what_is_not_a_24_hour_timestamp() -> None:
    """An hour 24+, 12-hour text, wrong lengths: ValueError naming the rule."""
    assert parse_pay_time("20251201235959").hour == 23
    for bad in ("20251201240000", "2025120101:05PM", "202512011305", "20251201 13059"):
        with pytest.raises(ValueError, match="24-hour"):
            parse_pay_time(bad)
