"""DongBoDanhGia: the monthly satisfaction summary, computed from ratings and delivered on its
own latest-state DVCQG channel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import redis

from gateway.config import Settings
from gateway.connectors.dvcqg import RATINGS_CHANNEL, DvcqgConnector, Service
from gateway.evaluations.periods import parse_period
from gateway.evaluations.record import EvaluationRecord
from gateway.evaluations.satisfaction import monthly_rows
from gateway.schemas.rating import DossierRating
from gateway.schemas.wire import VIETNAM_TZ
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from gateway.testing.records import AGENCY, national_dossier

OCT = parse_period("2026-10")


def _ms(day: int, hour: int = 10, month: int = 10) -> int:
    return int(datetime(2026, month, day, hour, tzinfo=VIETNAM_TZ).timestamp() * 1000)


def _rec(
    no: int, verdict: str, at: int, service: str | None, procedure: str = "1.001612"
) -> EvaluationRecord:
    rec = EvaluationRecord(no=f"{AGENCY}-261001-{no:04d}", agency=AGENCY)
    rec.procedure = procedure
    rec.verdict = verdict
    rec.rating_ms = at
    if service is not None:
        rec.answers = {"service": service}
    return rec


def test_rows_count_verdicts_and_service_answers_per_procedure_in_the_local_month() -> None:
    """Three ratings in October (one at 23:30 on the 31st, local time), one in November; the
    percentages are of the ratings, the service ones of those that answered the criterion."""
    records = [
        _rec(1, "very_satisfied", _ms(1), "very_satisfied"),
        _rec(2, "satisfied", _ms(15), "unsatisfied"),
        _rec(3, "unsatisfied", _ms(31, 23) + 30 * 60_000, None),
        _rec(4, "satisfied", _ms(1, 0, month=11), "satisfied"),
        _rec(5, "satisfied", _ms(2), "satisfied", procedure="2.000001"),
    ]
    rows = monthly_rows(records, agency=AGENCY, month=OCT, agency_name="Sở Xây dựng")
    assert [r["MaThuTuc"] for r in rows] == ["1.001612", "2.000001"]
    first = rows[0]
    assert first["NgayTongHop"] == "10-2026"
    assert first["TongSoNguoiDanhGia"] == 3
    assert (
        first["PhanTramDanhGiaRatHaiLong"],
        first["PhanTramDanhGiaHaiLong"],
        first["PhanTramDanhGiaChuaHaiLong"],
    ) == ("33%", "33%", "33%")
    assert (
        first["PhanTramDanhGiaDichVuRatHaiLong"],
        first["PhanTramDanhGiaDichVuHaiLong"],
        first["PhanTramDanhGiaDichVuChuaHaiLong"],
    ) == ("50%", "0%", "50%")
    assert (first["Madonvi"], first["TenDonVi"]) == (AGENCY, "Sở Xây dựng")
    assert rows[1]["PhanTramDanhGiaHaiLong"] == "100%"


def test_a_quarter_is_refused() -> None:
    """DongBoDanhGia summarises one month."""
    with pytest.raises(ValueError, match="one month"):
        monthly_rows([], agency=AGENCY, month=parse_period("2026-Q4"))


@pytest.fixture
def service(redis_client: redis.Redis) -> Iterator[tuple[GatewayService, FakePortal]]:
    portal = FakePortal()
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    svc = GatewayService(Settings(), redis_client, connector)
    yield svc, portal
    svc.close()


def test_summary_is_delivered_and_replaced_when_synced_again(
    service: tuple[GatewayService, FakePortal],
) -> None:
    """Synced, the month's row reaches the portal as DongBoDanhGia; an unchanged sync is a
    duplicate; after one more rating the portal's row is replaced."""
    gw, portal = service
    no = f"{AGENCY}-261001-0001"
    gw.accept(Service.DOSSIER, AGENCY, [national_dossier(no)], client="prov")
    rating = {"dossier_no": no, "rated_at": "2026-10-05T10:00:00+07:00", "verdict": "satisfied"}
    gw.evaluations.rate(DossierRating.model_validate(rating))
    [first] = gw.sync_satisfaction(AGENCY, "2026-10")
    assert first.code == "new"
    assert gw.flush(RATINGS_CHANNEL, AGENCY) == 1
    held = portal.ratings[(AGENCY, "10-2026", "1.001612")]
    assert (held["TongSoNguoiDanhGia"], held["PhanTramDanhGiaHaiLong"]) == (1, "100%")
    [again] = gw.sync_satisfaction(AGENCY, "2026-10")
    assert again.code == "dup"
    other = f"{AGENCY}-261001-0002"
    gw.accept(Service.DOSSIER, AGENCY, [national_dossier(other)], client="prov")
    gw.evaluations.rate(
        DossierRating.model_validate({**rating, "dossier_no": other, "verdict": "unsatisfied"})
    )
    gw.sync_satisfaction(AGENCY, "2026-10")
    assert gw.flush(RATINGS_CHANNEL, AGENCY) == 1
    held = portal.ratings[(AGENCY, "10-2026", "1.001612")]
    assert (held["TongSoNguoiDanhGia"], held["PhanTramDanhGiaChuaHaiLong"]) == (2, "50%")
    calls = [c for c in portal.calls if c.service == "DongBoDanhGia"]
    assert len(calls) == 2


def test_cli_queues_the_month_and_refuses_a_quarter(redis_url: str) -> None:
    """``gateway sync-satisfaction`` answers what it queued; a quarter exits 2."""
    from click.testing import CliRunner

    from gateway.cli import main

    env = {"GATEWAY_REDIS_URL": redis_url}
    ok = CliRunner().invoke(
        main, ["sync-satisfaction", "--agency", AGENCY, "--period", "2026-10"], env=env
    )
    assert ok.exit_code == 0, ok.output
    assert f"0 procedure row(s) for {AGENCY} 2026-10: 0 queued" in ok.output
    bad = CliRunner().invoke(
        main, ["sync-satisfaction", "--agency", AGENCY, "--period", "2026-Q4"], env=env
    )
    assert bad.exit_code == 2
    assert "one month" in bad.output
