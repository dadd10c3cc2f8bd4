"""Over HTTP: a dossier pushed at the DVCQG intake is handed over; ministry callbacks are
authenticated, validated by field, and idempotent."""

from __future__ import annotations

import orjson
import redis

from gateway.api import create_app
from gateway.testing.asgi import asgi_call as call
from gateway.testing.ministry import CALLBACK_SECRET, LLTP_PROCEDURE, build_ministry_rig, lltp_forms
from gateway.testing.records import AGENCY, DOSSIER_NO, national_dossier

_CALLBACK = "/v1/ministries/lltp/callback"


def _auth(token: str = CALLBACK_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_dvcqg_intake_hands_the_dossier_over(redis_client: redis.Redis) -> None:
    """A routed dossier pushed the DVCQG way is handed over; the case shows in the API."""
    rig = build_ministry_rig(redis_client)
    try:
        app = create_app(rig.gateway)
        session = call(
            app, "POST", "/dvcqg/auth", json={"username": "prov", "password": "prov-pass"}
        )
        record = national_dossier(
            DOSSIER_NO, MaTTHC=LLTP_PROCEDURE, ChuHoSo="Nguyễn Văn A", ThongTinKhac=lltp_forms()
        ).to_wire()
        envelope = {
            "session": session.json()["session"],
            "madonvi": AGENCY,
            "service": "DongBoHoSoMC",
            "isUpdating": "False",
            "data": [record],
        }
        answer = call(app, "POST", "/dvcqg/integration", json=envelope)
        assert answer.json()["error_code"] == "0"
        rig.deliver()
        assert rig.lltp.ledger()["cases"][DOSSIER_NO]["opened"] == 1
        case = call(
            app,
            "GET",
            f"/v1/ministries/lltp/cases/{DOSSIER_NO}",
            headers={"Authorization": "Bearer k1"},
        )
        assert case.status_code == 200
        assert case.json()["case_id"] == rig.lltp.ledger()["cases"][DOSSIER_NO]["ids"][0]
        assert "identify" not in case.text
    finally:
        rig.gateway.close()


def test_callback_needs_the_systems_token(redis_client: redis.Redis) -> None:
    """No token or a wrong one: 401 problem, nothing recorded."""
    rig = build_ministry_rig(redis_client)
    try:
        app = create_app(rig.gateway)
        row = orjson.dumps({"ID": "1", "idReceivedDec": DOSSIER_NO, "DEC_STATUS_ID": 4})
        assert call(app, "POST", _CALLBACK, content=row).status_code == 401
        wrong = call(app, "POST", _CALLBACK, content=row, headers=_auth("guess"))
        assert wrong.status_code == 401
        assert wrong.headers["content-type"].startswith("application/problem+json")
        assert call(app, "POST", "/v1/ministries/nope/callback", content=row).status_code == 404
    finally:
        rig.gateway.close()


def test_callback_bad_body_is_422_naming_the_field(redis_client: redis.Redis) -> None:
    """A row without its status answers 422 with the field path and rule, never 500."""
    rig = build_ministry_rig(redis_client)
    try:
        app = create_app(rig.gateway)
        bad = call(app, "POST", _CALLBACK, content=b'{"idReceivedDec":"X"}', headers=_auth())
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["path"] == "LISTCONTENT.0.DEC_STATUS_ID"
        garbage = call(app, "POST", _CALLBACK, content=b"\xff\x00", headers=_auth())
        assert garbage.status_code == 422
    finally:
        rig.gateway.close()


def test_duplicate_callback_is_200_and_has_no_second_effect(redis_client: redis.Redis) -> None:
    """The same pushed change twice: recorded once, one event, one portal step."""
    rig = build_ministry_rig(redis_client, poll_seconds=10_000_000.0, feed_seconds=10_000_000.0)
    try:
        rig.track(force_feed=True)
        assert rig.dossier(DOSSIER_NO)
        rig.deliver()
        app = create_app(rig.gateway)
        row = orjson.dumps({"ID": "1", "idReceivedDec": DOSSIER_NO, "DEC_STATUS_ID": 4})
        first = call(app, "POST", _CALLBACK, content=row, headers=_auth())
        second = call(app, "POST", _CALLBACK, content=row, headers=_auth())
        assert (first.status_code, second.status_code) == (200, 200)
        assert first.json() == {"recorded": 1, "duplicates": 0}
        assert second.json() == {"recorded": 0, "duplicates": 1}
        rig.deliver()
        assert [e["data"]["status"] for e in rig.events()] == ["4"]
        assert [s["TrangThai"] for s in rig.portal.steps(DOSSIER_NO)] == ["4"]
    finally:
        rig.gateway.close()
