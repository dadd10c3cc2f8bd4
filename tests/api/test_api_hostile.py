"""Bad input found by trying the gateway as a new user would (issue 7, F1–F5 and the rest).

Each answers a 4xx naming the field and the rule; none answers 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from starlette.types import Message, Scope

from gateway.api.limits import BodyLimit
from gateway.api.openapi import statuses_of
from gateway.errors import ContractError
from gateway.pipeline.deadletters import DeadLetterFilter
from gateway.service import GatewayService

PROV = {"Authorization": "Bearer prov-key"}
OPS = {"Authorization": "Bearer ops-key"}
AGENCY = "000.00.01.H22"
Make = Callable[..., dict[str, Any]]


def native(api: Any, url: str, body: Any, key: str) -> Any:
    return api.post(url, json=body, headers={**PROV, "Idempotency-Key": key})


# --- F1: the session and the record count come first ---------------------------------------------


def test_unauthenticated_flood_of_empty_objects_is_401(api: Any) -> None:
    """80,000 ``{}`` items with a made-up session answer 401, not a validation of each."""
    body = b'{"session":"made-up","madonvi":"x","service":"DongBoHoSoMC","data":['
    body += b",".join([b"{}"] * 80_000) + b"]}"
    answer = api.post("/dvcqg/integration", content=body)
    assert answer.status_code == 401
    assert answer.json()["error_code"] == "401"
    assert "errors" not in answer.json()


def test_authenticated_flood_of_objects_is_413_before_parsing(
    api: Any, login: Callable[..., str]
) -> None:
    """More JSON objects than a full call may hold is 413 (counted before the body is parsed)."""
    body = b'{"session":"' + login().encode() + b'","madonvi":"' + AGENCY.encode()
    body += b'","service":"DongBoHoSoMC","data":[' + b",".join([b"{}"] * 2000) + b"]}"
    answer = api.post("/dvcqg/integration", content=body)
    assert answer.status_code == 413
    assert answer.json()["type"].endswith("/too-many-objects")


def test_record_count_checked_before_records(api: Any, login: Callable[..., str]) -> None:
    """Six invalid records (limit 5) are refused whole by count, with no per-record errors."""
    body = {"session": login(), "madonvi": AGENCY, "service": "DongBoHoSoMC", "data": [{}] * 6}
    answer = api.post("/dvcqg/integration", json=body)
    assert answer.status_code == 413
    assert "errors" not in answer.json()


def test_nested_session_string_does_not_open_the_call(api: Any, login: Callable[..., str]) -> None:
    """A valid session hidden in a record does not stand in for the envelope's own."""
    body = {
        "session": "made-up",
        "madonvi": AGENCY,
        "service": "DongBoHoSoMC",
        "data": [{"session": login()}],
    }
    answer = api.post("/dvcqg/integration", json=body)
    assert answer.status_code == 401


# --- F2: native dates out of range, and bad items in batches ------------------------------------


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-05:00", "0999-12-31T16:59:59Z"]
)
def test_native_date_outside_years_is_422_naming_field(
    api: Any, make_provincial: Make, value: str
) -> None:
    """A date whose UTC+7 year leaves 1000–9999 is a 422 naming the field, not a 500."""
    answer = native(api, "/v1/dossiers", {**make_provincial(), "received_at": value}, "f2")
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert (error["path"], error["rule"]) == ("received_at", "iso_datetime_range")


def test_native_batch_with_one_bad_item_stores_the_others(
    api: Any, make_provincial: Make, service: GatewayService
) -> None:
    """One out-of-range item in a batch is refused alone; the valid one is stored."""
    good = make_provincial()
    bad = {**make_provincial(no=f"{AGENCY}-250310-0008"), "due_at": "0001-01-01T00:00:00+14:00"}
    answer = native(api, "/v1/dossiers:batch", {"items": [good, bad]}, "f2-batch")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    [delivery] = body["deliveries"]
    assert service.outbox.status(delivery["delivery_id"]).subject == good["dossier_no"]
    [refused] = body["refused"]
    assert refused["index"] == 1
    assert refused["errors"][0]["path"] == "items.1.due_at"


# --- F3: since / until filters -------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01T00:00:00",
        "until=0.5",
        "since=1741572900",
        "since=20250310091500",
        "until=0001-01-01T00:00:00%2B14:00",
    ],
)
def test_dead_letter_time_filters_are_422(api: Any, query: str) -> None:
    """Naive, epoch, wire-format or out-of-range filter times answer 422 naming the parameter."""
    answer = api.get(f"/v1/dead-letters?{query}", headers=OPS)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["path"].startswith("query.")


def test_replay_job_filter_is_validated_before_it_starts(api: Any) -> None:
    """A bulk replay with a naive since is a 422, not a job that fails later."""
    answer = api.post("/v1/dead-letters:replay", json={"since": "0001-01-01T00:00:00"}, headers=OPS)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["path"] == "body.since"


def test_replay_jobs_refuse_a_naive_filter(service: GatewayService) -> None:
    """ReplayJobs.start refuses a filter time it could not turn into a score."""
    from datetime import datetime

    flt = DeadLetterFilter(since=datetime(1, 1, 1))
    with pytest.raises(ContractError) as info:
        service.replayjobs.start(flt, actor="ops", rate=10)
    assert info.value.violations[0].path == "since"


# --- F4: native dates are ISO 8601 with an offset, nothing else ---------------------------------


@pytest.mark.parametrize(
    "value", ["20250310091500", 20250310091500, 1741572900, "2025-03-10T09:15:00", 0.5]
)
def test_native_dates_only_iso_with_offset(api: Any, make_provincial: Make, value: Any) -> None:
    """Wire-format text, epoch numbers and naive text are refused, never read as a time."""
    answer = native(api, "/v1/dossiers", {**make_provincial(), "received_at": value}, "f4")
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert (error["path"], error["rule"]) == ("received_at", "iso_datetime")


# --- F5: one Idempotency-Key ---------------------------------------------------------------------


def test_two_idempotency_keys_are_400(api: Any, make_provincial: Make) -> None:
    """Two Idempotency-Key headers answer 400 instead of using the first silently."""
    headers = [
        ("Authorization", "Bearer prov-key"),
        ("Idempotency-Key", "one"),
        ("Idempotency-Key", "two"),
    ]
    answer = api.post("/v1/dossiers", json=make_provincial(), headers=headers)
    assert answer.status_code == 400
    assert answer.json()["type"].endswith("/idempotency-key-repeated")


# --- a slow body is cut off ----------------------------------------------------------------------


def test_body_that_stalls_is_408_and_closes() -> None:
    """A body that announces 100 bytes and sends 1 is answered 408 when the timeout passes."""
    sent: list[Message] = []
    reached = False

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        nonlocal reached
        reached = True

    async def receive() -> Message:
        if not sent:
            sent.append({"type": "marker"})
            return {"type": "http.request", "body": b"x", "more_body": True}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    out: list[Message] = []

    async def send(message: Message) -> None:
        out.append(message)

    scope: Scope = {
        "type": "http",
        "path": "/v1/dossiers",
        "headers": [(b"content-length", b"100")],
    }
    anyio.run(BodyLimit(app, max_bytes=1024, timeout=0.05), scope, receive, send)
    assert not reached
    assert out[0]["status"] == 408
    assert (b"connection", b"close") in out[0]["headers"]


# --- plausibility window for DVCQG dates ---------------------------------------------------------


@pytest.mark.parametrize("value", ["00010101000000", "99991231235959", "19891231235959"])
def test_dvcqg_dates_outside_window_are_refused(
    api: Any, login: Callable[..., str], make_national: Make, value: str
) -> None:
    """A DVCQG date outside [intake] dates_from..dates_until is refused naming the field."""
    rec = {**make_national(), "NgayNopHoSo": value}
    body = {"session": login(), "madonvi": AGENCY, "service": "DongBoHoSoMC", "data": [rec]}
    [result] = api.post("/dvcqg/integration", json=body).json()["result"]
    assert not result["accepted"]
    assert (result["errors"][0]["path"], result["errors"][0]["rule"]) == (
        "data.0.NgayNopHoSo",
        "wire_date_window",
    )


def test_native_date_outside_window_is_refused(api: Any, make_provincial: Make) -> None:
    """A native date that converts to a DVCQG date outside the window is refused by name."""
    answer = native(
        api, "/v1/dossiers", {**make_provincial(), "submitted_at": "1000-01-01T00:00:00+07:00"}, "w"
    )
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert (error["path"], error["rule"]) == ("NgayNopHoSo", "wire_date_window")


# --- one type of error_code ----------------------------------------------------------------------


def test_error_code_is_always_a_string(
    api: Any, login: Callable[..., str], make_national: Make
) -> None:
    """Success, partial success and every refusal carry error_code as a string."""
    session = login()
    base = {"session": session, "madonvi": AGENCY, "service": "DongBoHoSoMC"}
    answers = [
        api.post("/dvcqg/auth", json={"username": "prov-user", "password": "prov-pass"}),
        api.post("/dvcqg/auth", json={"username": "prov-user", "password": "wrong"}),
        api.post("/dvcqg/integration", json={**base, "data": [make_national()]}),
        api.post("/dvcqg/integration", json={**base, "data": [{}]}),
        api.post("/dvcqg/integration", json={**base, "madonvi": "000.00.02.H22", "data": []}),
        api.post("/dvcqg/integration", json={**base, "data": [{}] * 6}),
        api.post("/dvcqg/integration", json={**base, "session": "nope", "data": []}),
    ]
    assert [a.status_code for a in answers] == [200, 401, 200, 200, 403, 413, 401]
    assert all(isinstance(a.json()["error_code"], str) for a in answers)


# --- the OpenAPI document ------------------------------------------------------------------------


def test_openapi_documents_every_status_as_problem_json(api: Any) -> None:
    """Every route lists the problem statuses it can answer, as application/problem+json."""
    schema = api.get("/openapi.json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status in statuses_of(path, method):
                documented = operation["responses"][str(status)]
                assert "application/problem+json" in documented["content"], (path, status)
    writes = schema["paths"]["/v1/dossiers"]["post"]["responses"]
    assert {"400", "401", "403", "408", "409", "413", "422"} <= set(writes)
    assert "429" in schema["paths"]["/dvcqg/auth"]["post"]["responses"]


def test_openapi_carries_field_patterns(api: Any) -> None:
    """The patterns fields are checked against are in the schema (clients can generate them)."""
    components = api.get("/openapi.json").json()["components"]["schemas"]
    national = components["DossierRecord"]["properties"]
    assert "pattern" in national["MaHoSo"]
    assert "pattern" in national["NgayTiepNhan"]
    assert "pattern" in components["Dossier"]["properties"]["received_at"]
    assert "pattern" in components["Dossier"]["properties"]["dossier_no"]
