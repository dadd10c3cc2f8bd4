"""``gateway score``: an agency's indicators for a period, as a table or JSON, with reasons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from gateway.cli import main
from gateway.config import Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from gateway.testing.records import national_dossier

AGENCY = "000.00.01.H22"
NS = "score"
IDS = [
    "synced", "on_time", "avg_processing_days", "online", "online_payment", "e_result",
    "digitised", "reused", "from_citizen_store", "population_db", "dossier_satisfaction",
]  # fmt: skip


@pytest.fixture
def pushed(redis_client: redis.Redis) -> Iterator[None]:
    """Two October dossiers accepted: one online, one at the counter."""
    portal = FakePortal()
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    g = GatewayService(Settings(namespace=NS), redis_client, connector)
    times = {"NgayTiepNhan": "20261005090000", "NgayHenTra": "20261030170000"}
    g.accept(
        Service.DOSSIER,
        AGENCY,
        [
            national_dossier(f"{AGENCY}-261005-0001", "2", KenhThucHien="2", **times),
            national_dossier(f"{AGENCY}-261005-0002", "2", KenhThucHien="1", **times),
        ],
        client="prov",
    )
    yield
    g.close()


def run(redis_url: str, *args: str) -> Any:
    env = {"GATEWAY_REDIS_URL": redis_url, "GATEWAY_NAMESPACE": NS}
    return CliRunner().invoke(main, ["score", *args], env=env)


def test_json_has_every_indicator(redis_url: str, pushed: None) -> None:
    """--format json prints the agreed shape, every id, and null for no data."""
    result = run(redis_url, "--agency", AGENCY, "--period", "2026-10", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) == {"agency", "period", "indicators", "total"}
    assert [i["id"] for i in out["indicators"]] == IDS
    by_id = {i["id"]: i for i in out["indicators"]}
    assert set(by_id["online"]) == {
        "id",
        "numerator",
        "denominator",
        "ratio",
        "points",
        "max_points",
    }
    assert (by_id["online"]["numerator"], by_id["online"]["denominator"]) == (1, 2)
    assert by_id["online"]["points"] == 12.0  # 50% meets the 50% target
    assert by_id["dossier_satisfaction"]["ratio"] is None


def test_table_with_explanations(redis_url: str, pushed: None) -> None:
    """The table says "no data yet" where there is none and lists the counter dossier."""
    result = run(redis_url, "--agency", AGENCY, "--period", "2026-10", "--explain", "online")
    assert result.exit_code == 0, result.output
    assert "no data yet" in result.output
    assert f"{AGENCY}-261005-0002  submitted in person (KenhThucHien 1)" in result.output
    assert f"{AGENCY}-261005-0001" not in result.output.split("lost points")[1]


def test_bad_period_exits_2(redis_url: str) -> None:
    """A malformed period is a usage error naming the accepted shapes."""
    result = run(redis_url, "--agency", AGENCY, "--period", "Oct 2026")
    assert result.exit_code == 2
    assert "2026-Q4" in result.output
