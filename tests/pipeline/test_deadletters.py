"""Dead-letter filters survive a trip through JSON (bulk-replay jobs store them so)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from gateway.connectors.dvcqg import Service
from gateway.pipeline.deadletters import DeadLetterFilter


def test_filter_round_trips_through_json() -> None:
    """Every criterion, the channel by its id and times in ISO 8601, comes back."""
    flt = DeadLetterFilter(
        peer="dvcqg",
        reason="peer_code:2",
        partition="000.00.01.H22",
        channel=Service.PROGRESS.value,
        since=datetime(2025, 1, 1, tzinfo=UTC),
        until=datetime(2025, 1, 2, 12, 30, tzinfo=UTC),
    )
    data = orjson.loads(orjson.dumps(flt.to_json()))
    assert data["channel"] == "dvcqg.CapNhatTienDoHoSoMC"
    assert DeadLetterFilter.from_json(data) == flt


def test_filter_stored_before_channels_is_read() -> None:
    """A replay job stored by the first layout named the agency and the DVCQG service."""
    old = {"agency": "000.00.01.H22", "service": "DongBoHoSoMC"}
    assert DeadLetterFilter.from_json(old) == DeadLetterFilter(
        partition="000.00.01.H22", channel="dvcqg.DongBoHoSoMC"
    )


def test_empty_filter_is_empty_json() -> None:
    """A filter that matches everything stores nothing."""
    assert DeadLetterFilter().to_json() == {}
    assert DeadLetterFilter.from_json({}) == DeadLetterFilter()
