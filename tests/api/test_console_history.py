"""The console's own short history: one sample a minute at most, rates from counter deltas."""

from __future__ import annotations

from gateway.api.console.charts import line_chart
from gateway.api.console.history import History
from gateway.connectors.dvcqg import Service
from gateway.service import GatewayService
from gateway.testing.records import AGENCY, national_dossier


def test_samples_are_rate_limited_and_rates_come_from_deltas(service: GatewayService) -> None:
    """A second sample within the minute is skipped; a later one yields a per-minute rate."""
    now = [1_000_000.0]
    history = History(service.outbox, clock=lambda: now[0])
    assert history.sample()
    assert not history.sample()
    service.accept(Service.DOSSIER, AGENCY, [national_dossier()], client="t")
    service.flush(Service.DOSSIER.value, AGENCY)
    service.client.delete(f"{service.outbox.ns}:console:history:guard")
    now[0] += 120
    assert history.sample()
    series = history.series()[Service.DOSSIER.value]
    assert series["rate"] == [(1_000_120, 0.5)]
    assert [v for _, v in series["depth"]] == [0, 0]


def test_chart_is_svg_with_its_maximum() -> None:
    """Two points draw a polyline labelled with the maximum; one point says so instead."""
    svg = line_chart([(0, 1.0), (60, 4.0)], title="waiting")
    assert svg.startswith("<svg")
    assert "polyline" in svg
    assert "max 4" in svg
    assert "not enough samples" in line_chart([(0, 1.0)], title="waiting")
