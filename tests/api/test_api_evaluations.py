"""The evaluations API: ratings in (idempotent, validated), the portal's pull API out."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import ClientConfig, IntakeSettings, Settings
from gateway.connectors.dvcqg import Service
from gateway.evaluations import EvaluationSettings, ProcedureRule
from gateway.service import GatewayService
from gateway.testing.records import national_dossier

from .conftest import AGENCY, ApiClient

PORTAL = {"Authorization": "Bearer portal-key"}
PROV = {"Authorization": "Bearer prov-key"}


@pytest.fixture
def settings() -> Settings:
    """A province, an operator, and the national portal's read-only client."""
    return Settings(
        clients=(
            ClientConfig(id="prov", api_key="prov-key", agencies=frozenset({AGENCY})),
            ClientConfig(id="ops", api_key="ops-key", operator=True, agencies=frozenset({"*"})),
            ClientConfig(id="dvcqg-portal", api_key="portal-key"),
        ),
        intake=IntakeSettings(max_body_bytes=256 * 1024, max_records_per_call=5),
        evaluations=EvaluationSettings(
            portal_clients=frozenset({"dvcqg-portal"}),
            procedures={"1.001612": ProcedureRule(max_days=10)},
        ),
    )


def push(service: GatewayService, count: int, **fields: Any) -> list[str]:
    """Accept ``count`` October dossiers through the intake; their numbers."""
    nos = [f"{AGENCY}-261005-{i + 1:04d}" for i in range(count)]
    records = [
        national_dossier(
            no, "2", NgayTiepNhan="20261005090000", NgayHenTra="20261030170000", **fields
        )
        for no in nos
    ]
    service.accept(Service.DOSSIER, AGENCY, records, client="prov")
    return nos


def rating(
    no: str, verdict: str = "satisfied", at: str = "2026-10-20T10:00:00+07:00"
) -> dict[str, Any]:
    return {
        "dossier_no": no,
        "rated_at": at,
        "verdict": verdict,
        "answers": [{"criterion": "q1", "answer": "5"}],
    }


def test_indicators_need_the_portal_role(api: ApiClient) -> None:
    """No key: 401; a provincial key: 403; the portal's key: 200."""
    url = f"/v1/evaluations/indicators?agency={AGENCY}&period=2026-10"
    assert api.get(url).status_code == 401
    assert api.get(url, headers=PROV).status_code == 403
    assert api.get(url, headers=PORTAL).status_code == 200


def test_indicator_snapshot_from_accepted_dossiers(api: ApiClient, service: GatewayService) -> None:
    """Three accepted online dossiers: synced 3/3, online 3/3, with an ETag that 304s."""
    push(service, 3)
    url = f"/v1/evaluations/indicators?agency={AGENCY}&period=2026-10"
    r = api.get(url, headers=PORTAL)
    assert r.status_code == 200, r.text
    body = r.json()
    by_id = {i["id"]: i for i in body["indicators"]}
    assert (by_id["synced"]["numerator"], by_id["synced"]["denominator"]) == (3, 3)
    assert by_id["online"]["ratio"] == 1.0
    assert by_id["dossier_satisfaction"]["points"] is None
    again = api.get(url, headers={**PORTAL, "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_bad_period_is_a_422_naming_the_field(api: ApiClient) -> None:
    """A malformed period answers a problem naming query.period and the rule."""
    r = api.get(f"/v1/evaluations/indicators?agency={AGENCY}&period=2026-13", headers=PORTAL)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["path"] == "query.period"
    assert r.json()["errors"][0]["rule"] == "period_format"


def test_explanations_list_the_dossiers_that_cost_points(
    api: ApiClient, service: GatewayService
) -> None:
    """Counter dossiers cost the online share; each is listed with the reason."""
    nos = push(service, 2, KenhThucHien="1")
    r = api.get(
        f"/v1/evaluations/indicators/online/explanations?agency={AGENCY}&period=2026-10",
        headers=PORTAL,
    )
    assert r.status_code == 200, r.text
    assert [d["dossier_no"] for d in r.json()["dossiers"]] == sorted(nos)
    assert r.json()["dossiers"][0]["reason"] == "submitted in person (KenhThucHien 1)"
    unknown = api.get(
        f"/v1/evaluations/indicators/nope/explanations?agency={AGENCY}&period=2026-10",
        headers=PORTAL,
    )
    assert unknown.status_code == 404


def test_feed_pages_resume_from_the_cursor(api: ApiClient, service: GatewayService) -> None:
    """Five dossiers paged two at a time: every one once, then caught up with a 304."""
    nos = push(service, 5)
    cursor = ""
    got: list[str] = []
    while True:
        r = api.get(f"/v1/evaluations/feed?limit=2&cursor={cursor}", headers=PORTAL)
        assert r.status_code == 200, r.text
        page = r.json()
        got += [item["record"]["no"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert sorted(got) == nos
    last = api.get(f"/v1/evaluations/feed?limit=2&cursor={cursor}", headers=PORTAL)
    assert last.json()["items"] == []
    same = api.get(
        f"/v1/evaluations/feed?limit=2&cursor={cursor}",
        headers={**PORTAL, "If-None-Match": last.headers["etag"]},
    )
    assert same.status_code == 304
    push(service, 6)  # dossier 6 is new; 1-5 are duplicates and change nothing
    fresh = api.get(f"/v1/evaluations/feed?limit=2&cursor={cursor}", headers=PORTAL)
    assert [i["record"]["no"] for i in fresh.json()["items"]] == [f"{AGENCY}-261005-0006"]


def test_foreign_cursor_is_a_400(api: ApiClient) -> None:
    """A cursor the gateway did not hand out is refused, naming the parameter."""
    r = api.get("/v1/evaluations/feed?cursor=bm9wZQ", headers=PORTAL)
    assert r.status_code == 400
    assert r.json()["errors"][0]["path"] == "query.cursor"


def test_rating_is_idempotent_and_counts(api: ApiClient, service: GatewayService) -> None:
    """A rating pushed twice with one key is stored once and replayed; it scores."""
    [no] = push(service, 1)
    headers = {**PROV, "Idempotency-Key": "r-1"}
    first = api.post("/v1/ratings", json=rating(no, "unsatisfied"), headers=headers)
    assert first.status_code == 202, first.text
    assert first.json()["applied"] is True
    again = api.post("/v1/ratings", json=rating(no, "unsatisfied"), headers=headers)
    assert again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    r = api.get(f"/v1/evaluations/indicators?agency={AGENCY}&period=2026-10", headers=PORTAL)
    sat = next(i for i in r.json()["indicators"] if i["id"] == "dossier_satisfaction")
    assert (sat["numerator"], sat["denominator"], sat["points"]) == (0, 1, 0.0)


def test_invalid_rating_names_the_field(api: ApiClient) -> None:
    """A verdict outside the three levels is a 422 naming ``verdict``."""
    body = rating(f"{AGENCY}-261005-0001", "meh")
    r = api.post("/v1/ratings", json=body, headers={**PROV, "Idempotency-Key": "r-2"})
    assert r.status_code == 422
    assert [e["path"] for e in r.json()["errors"]] == ["verdict"]


def test_rating_without_tz_or_key_is_refused(api: ApiClient) -> None:
    """A naive rated_at is a 422; no Idempotency-Key is a 400."""
    body = rating(f"{AGENCY}-261005-0001", at="2026-10-20T10:00:00")
    r = api.post("/v1/ratings", json=body, headers={**PROV, "Idempotency-Key": "r-3"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "rated_at"
    assert (
        api.post("/v1/ratings", json=rating(f"{AGENCY}-261005-0001"), headers=PROV).status_code
        == 400
    )


def test_rating_of_another_agency_is_forbidden(api: ApiClient) -> None:
    """A province may rate only its own agencies' dossiers."""
    body = rating("000.00.02.H22-261005-0001")
    r = api.post("/v1/ratings", json=body, headers={**PROV, "Idempotency-Key": "r-4"})
    assert r.status_code == 403
    assert r.json()["errors"][0]["rule"] == "agency_not_allowed"
