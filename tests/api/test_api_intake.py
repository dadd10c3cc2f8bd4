"""The DVCQG-compatible intake: login, pushes, per-record answers, limits."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from gateway.connectors.dvcqg import Service
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal

AGENCY = "000.00.01.H22"
DOSSIER_NO = "000.00.01.H22-250310-0007"
Make = Callable[..., dict[str, Any]]


def push(api: Any, session: str, data: list[Any], **extra: Any) -> Any:
    envelope = {
        "session": session,
        "madonvi": AGENCY,
        "service": "DongBoHoSoMC",
        "isUpdating": "False",
        "data": data,
        **extra,
    }
    return api.post("/dvcqg/integration", json=envelope)


def test_login_returns_session_stored_with_ttl(api: Any, service: GatewayService) -> None:
    """A good login answers error_code 0 and a session kept in Redis with the configured TTL."""
    answer = api.post("/dvcqg/auth", json={"username": "prov-user", "password": "prov-pass"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["error_code"] == "0"
    assert len(body["session"]) >= 32
    key = f"gw:session:{hashlib.sha256(body['session'].encode()).hexdigest()}"
    assert service.client.get(key) == b"prov"
    ttl = service.client.ttl(key)
    assert 0 < ttl <= service.settings.intake.session_ttl_seconds


def test_bad_login_is_401_with_error_code(api: Any) -> None:
    """Wrong credentials answer HTTP 401 with error_code "401" and no session."""
    answer = api.post("/dvcqg/auth", json={"username": "prov-user", "password": "nope"})
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["error_code"] == "401"
    assert "session" not in body
    assert "nope" not in answer.text


def test_login_without_password_is_400_problem(api: Any) -> None:
    """A login body missing a field is a 400 problem naming the field."""
    answer = api.post("/dvcqg/auth", json={"username": "prov-user"})
    assert answer.status_code == 400
    assert {e["path"] for e in answer.json()["errors"]} == {"password"}


def test_push_accepts_then_flush_delivers(
    api: Any,
    login: Callable[..., str],
    service: GatewayService,
    portal: FakePortal,
    make_national: Make,
) -> None:
    """Valid records are accepted per record and reach the portal after a flush."""
    other = make_national(no=f"{AGENCY}-250310-0008")
    answer = push(api, login(), [make_national(), other])
    assert answer.status_code == 200
    body = answer.json()
    assert body["error_code"] == "0"
    assert [r["MaHoSo"] for r in body["result"]] == [DOSSIER_NO, other["MaHoSo"]]
    assert all(r["accepted"] and not r["duplicate"] and r["errors"] == [] for r in body["result"])
    assert portal.dossiers == {}
    assert service.flush(Service.DOSSIER, AGENCY) == 2
    assert set(portal.dossiers) == {DOSSIER_NO, other["MaHoSo"]}


def test_invalid_record_is_refused_alone_with_path_and_rule(
    api: Any, login: Callable[..., str], make_national: Make
) -> None:
    """A bad record is refused with field path and rule; its neighbours are accepted."""
    bad = make_national(no=f"{AGENCY}-250310-0009")
    bad["TrangThaiHoSo"] = "99"
    del bad["MaTTHC"]
    answer = push(api, login(), [make_national(), bad])
    body = answer.json()
    assert answer.status_code == 200
    assert body["error_code"] == "1"
    ok, refused = body["result"]
    assert ok["accepted"] is True
    assert refused["accepted"] is False
    assert refused["delivery_id"] is None
    assert refused["MaHoSo"] == bad["MaHoSo"]
    paths = {e["path"]: e["rule"] for e in refused["errors"]}
    assert paths["data.1.MaTTHC"] == "missing"
    assert "data.1.TrangThaiHoSo" in paths


def test_record_of_agency_outside_scope_is_refused(
    api: Any, login: Callable[..., str], make_national: Make
) -> None:
    """A record whose MaHoSo prefix the client may not push for is refused per record."""
    foreign = make_national(no="000.00.02.H22-250310-0001")
    answer = push(api, login(), [foreign, make_national()])
    foreign_result, ok = answer.json()["result"]
    assert ok["accepted"] is True
    assert foreign_result["accepted"] is False
    assert foreign_result["errors"][0]["rule"] == "agency_not_allowed"
    assert foreign_result["errors"][0]["path"] == "data.0.MaHoSo"


def test_status_transition_refused_per_record(
    api: Any, login: Callable[..., str], make_national: Make
) -> None:
    """A dossier moved from 10 (returned) back to 4 is refused with rule status_transition."""
    session = login()
    assert push(api, session, [make_national("returned")]).json()["error_code"] == "0"
    answer = push(api, session, [{**make_national("returned"), "TrangThaiHoSo": "4"}])
    [result] = answer.json()["result"]
    assert result["accepted"] is False
    assert result["errors"][0]["rule"] == "status_transition"
    assert result["errors"][0]["path"] == "data.0.TrangThaiHoSo"


def test_older_state_refused_as_out_of_order(
    api: Any, login: Callable[..., str], make_national: Make
) -> None:
    """A state whose newest time is older than the stored state's is state_out_of_order."""
    session = login()
    assert push(api, session, [make_national("returned")]).json()["error_code"] == "0"
    [result] = push(api, session, [make_national("processing")]).json()["result"]
    assert result["accepted"] is False
    assert result["errors"][0]["rule"] == "state_out_of_order"
    assert result["errors"][0]["path"] == "data.0.TrangThaiHoSo"


def test_progress_steps_accepted_and_delivered(
    api: Any,
    login: Callable[..., str],
    service: GatewayService,
    portal: FakePortal,
    make_national: Make,
    national_steps: list[dict[str, Any]],
) -> None:
    """CapNhatTienDoHoSoMC validates steps and delivers them in time order."""
    session = login()
    push(api, session, [make_national()])
    service.flush(Service.DOSSIER, AGENCY)
    answer = push(api, session, national_steps[:3], service="CapNhatTienDoHoSoMC")
    assert answer.json()["error_code"] == "0", answer.text
    service.flush(Service.PROGRESS, AGENCY)
    assert len(portal.steps(DOSSIER_NO)) == 3


def test_duplicate_push_same_delivery_portal_once(
    api: Any,
    login: Callable[..., str],
    service: GatewayService,
    portal: FakePortal,
    make_national: Make,
) -> None:
    """The same record pushed twice keeps its delivery id, says duplicate, is sent once."""
    session = login()
    first = push(api, session, [make_national()]).json()["result"][0]
    second = push(api, session, [make_national()]).json()["result"][0]
    assert second["delivery_id"] == first["delivery_id"]
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    service.flush(Service.DOSSIER, AGENCY)
    writes = [c for c in portal.calls if c.service == "DongBoHoSoMC"]
    assert len(writes) == 1


def test_unknown_session_is_401(api: Any, make_national: Make) -> None:
    """An unknown or expired session answers error_code "401" so the client logs in again."""
    answer = push(api, "not-a-session", [make_national()])
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "401"


def test_expired_session_is_401(
    api: Any, login: Callable[..., str], service: GatewayService, make_national: Make
) -> None:
    """A session removed from Redis (TTL ran out) is rejected."""
    session = login()
    service.client.delete(f"gw:session:{hashlib.sha256(session.encode()).hexdigest()}")
    assert push(api, session, [make_national()]).status_code == 401


def test_wrong_madonvi_is_403(api: Any, login: Callable[..., str], make_national: Make) -> None:
    """A madonvi outside the client's agencies answers 403 with error_code "403"."""
    answer = push(api, login(), [make_national()], madonvi="000.00.02.H22")
    assert answer.status_code == 403
    assert answer.json()["error_code"] == "403"


def test_unknown_service_is_400_error_code_1(api: Any, login: Callable[..., str]) -> None:
    """A service the gateway does not take answers error_code "1" naming the service."""
    answer = push(api, login(), [], service="LayDanhMucCoQuan")
    assert answer.status_code == 400
    body = answer.json()
    assert body["error_code"] == "1"
    assert "LayDanhMucCoQuan" in body["message"]


def test_too_many_records_is_413(api: Any, login: Callable[..., str], make_national: Make) -> None:
    """More records than max_records_per_call (5 here) is refused whole with 413."""
    records = [make_national(no=f"{AGENCY}-250310-{n:04d}") for n in range(1, 7)]
    answer = push(api, login(), records)
    assert answer.status_code == 413
    assert answer.json()["error_code"] == "413"


def test_oversized_body_is_413_problem(api: Any, login: Callable[..., str]) -> None:
    """A body over max_body_bytes is refused before parsing, as a 413 problem."""
    answer = push(api, login(), [{"GhiChu": "x" * 300_000}])
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["status"] == 413


def test_oversized_chunked_body_is_413(api: Any) -> None:
    """A body without Content-Length is counted as it arrives and refused past the limit."""

    async def chunks() -> Any:
        for _ in range(300):
            yield b"x" * 1024

    answer = api.post("/dvcqg/integration", content=chunks())
    assert answer.status_code == 413


def test_bad_envelope_is_problem(api: Any, login: Callable[..., str]) -> None:
    """An envelope without madonvi/service is a 400 problem listing the paths."""
    answer = api.post("/dvcqg/integration", json={"session": login(), "data": []})
    assert answer.status_code == 400
    body = answer.json()
    assert body["error_code"] == "1"
    assert {"madonvi", "service"} <= {e["path"] for e in body["errors"]}


def test_body_without_session_is_401_before_parsing(api: Any) -> None:
    """No live session string in the body answers 401 whatever else the body holds."""
    for body in (
        b'{"data": []}',
        b"{not json",
        b'{"session": "nope", "data": [' + b"{}," * 9 + b"{}]}",
    ):
        answer = api.post("/dvcqg/integration", content=body)
        assert answer.status_code == 401
        assert answer.json()["error_code"] == "401"


def test_non_json_body_is_400_problem(api: Any, login: Callable[..., str]) -> None:
    """Bytes that are not JSON are a 400 problem, not a 500."""
    broken = b'{"session": "' + login().encode() + b'", not json'
    answer = api.post(
        "/dvcqg/integration", content=broken, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_data_must_be_a_list(api: Any, login: Callable[..., str]) -> None:
    """``data`` that is not an array is a 4xx problem."""
    answer = push(api, login(), "nope")  # type: ignore[arg-type]  # the wrong type under test
    assert 400 <= answer.status_code < 500
    assert answer.json()["error_code"] == "1"
