"""Configured wire rules (``[wire]``) at both intakes: limits and code lists from Settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gateway.config import Settings, WireRulesConfig

AGENCY = "000.00.01.H22"
PROV = {"Authorization": "Bearer prov-key", "content-type": "application/json"}
Make = Callable[..., dict[str, Any]]

# Below the observed defaults (1000 and 50) and above the samples (135 and 14 characters), so
# only a record written for the test breaks them, and only when the configuration applies.
SUMMARY_LIMIT = 200
HANDLER_LIMIT = 20


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The API fixtures' settings with lowered limits and a list of submission places."""
    wire = WireRulesConfig(
        max_lengths={"TrichYeuHoSo": SUMMARY_LIMIT, "NguoiXuLy": HANDLER_LIMIT},
        submission_places=["1", "2"],
    )
    return settings.model_copy(update={"wire": wire})


def push(api: Any, session: str, data: list[Any], service: str = "DongBoHoSoMC") -> Any:
    envelope = {
        "session": session,
        "madonvi": AGENCY,
        "service": service,
        "isUpdating": "False",
        "data": data,
    }
    return api.post("/dvcqg/integration", json=envelope)


def errors_of(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["path"], e["rule"]) for e in result["errors"]]


def test_fast_path_refuses_over_configured_limit(
    api: Any, login: Callable[..., str], make_national: Make
) -> None:
    """A well-formed call whose record breaks a lowered limit is refused, not accepted whole."""
    record = make_national()
    record["TrichYeuHoSo"] = "x" * (SUMMARY_LIMIT + 1)
    answer = push(api, login(), [record])
    assert answer.status_code == 200
    [result] = answer.json()["result"]
    assert result["accepted"] is False
    assert errors_of(result) == [("data.0.TrichYeuHoSo", "string_too_long")]


def test_per_record_path_refuses_over_configured_limit(
    api: Any, login: Callable[..., str], make_national: Make
) -> None:
    """When another record sends the call down the per-record path, the limit still applies."""
    broken = make_national(no=f"{AGENCY}-250310-0008")
    broken["TrangThaiHoSo"] = "99"
    long_summary = make_national()
    long_summary["TrichYeuHoSo"] = "x" * (SUMMARY_LIMIT + 1)
    fine = make_national(no=f"{AGENCY}-250310-0009")
    answer = push(api, login(), [broken, long_summary, fine])
    first, second, third = answer.json()["result"]
    assert [e["path"] for e in first["errors"]] == ["data.0.TrangThaiHoSo"]
    assert errors_of(second) == [("data.1.TrichYeuHoSo", "string_too_long")]
    assert third["accepted"] is True


def test_step_over_configured_limit_refused_at_dvcqg_intake(
    api: Any, login: Callable[..., str], national_steps: list[dict[str, Any]]
) -> None:
    """A progress step whose NguoiXuLy breaks the lowered limit is refused on that field."""
    step = national_steps[0]
    step["NguoiXuLy"] = "y" * (HANDLER_LIMIT + 1)
    answer = push(api, login(), [step], service="CapNhatTienDoHoSoMC")
    [result] = answer.json()["result"]
    assert errors_of(result) == [("data.0.NguoiXuLy", "string_too_long")]


def test_summary_at_configured_limit_is_accepted(
    api: Any, login: Callable[..., str], make_national: Make
) -> None:
    """A summary exactly at the configured limit is accepted: the limit is not off by one."""
    record = make_national()
    record["TrichYeuHoSo"] = "x" * SUMMARY_LIMIT
    answer = push(api, login(), [record])
    assert answer.json()["error_code"] == "0", answer.text


def test_native_dossier_over_configured_limit_is_422_with_national_path(
    api: Any, make_provincial: Make
) -> None:
    """The native API maps with the configured rules; the error names the national field."""
    dossier = make_provincial()
    dossier["summary"] = "x" * (SUMMARY_LIMIT + 1)
    answer = api.post("/v1/dossiers", json=dossier, headers={**PROV, "Idempotency-Key": "w1"})
    assert answer.status_code == 422
    assert [(e["path"], e["rule"]) for e in answer.json()["errors"]] == [
        ("TrichYeuHoSo", "string_too_long")
    ]


def test_native_step_batch_over_configured_limit_is_refused_by_index(
    api: Any, provincial_steps: list[dict[str, Any]]
) -> None:
    """In a native batch, the step over the lowered limit is refused under its index."""
    long_handler = provincial_steps[1]
    long_handler["handler"] = "y" * (HANDLER_LIMIT + 1)
    answer = api.post(
        "/v1/steps:batch",
        json={"items": provincial_steps[:2]},
        headers={**PROV, "Idempotency-Key": "w2"},
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert [d["index"] for d in body["deliveries"]] == [0]
    [refused] = body["refused"]
    assert refused["index"] == 1
    assert refused["rule"] == "string_too_long"
    assert errors_of(refused) == [("items.1.NguoiXuLy", "string_too_long")]


def test_unknown_submission_place_refused_at_dvcqg_intake(
    api: Any, login: Callable[..., str], make_national: Make
) -> None:
    """With submission_places configured, a NoiNopHoSo outside the list is refused."""
    unknown = make_national()
    unknown["NoiNopHoSo"] = "9"
    listed = make_national(no=f"{AGENCY}-250310-0008")
    listed["NoiNopHoSo"] = "2"
    answer = push(api, login(), [unknown, listed])
    refused, accepted = answer.json()["result"]
    assert errors_of(refused) == [("data.0.NoiNopHoSo", "submission_place")]
    assert accepted["accepted"] is True


def test_unknown_submission_place_refused_at_native_api(api: Any, make_provincial: Make) -> None:
    """The native API refuses a submission place outside the configured list too."""
    dossier = make_provincial()
    dossier["submission_place"] = "9"
    answer = api.post("/v1/dossiers", json=dossier, headers={**PROV, "Idempotency-Key": "w3"})
    assert answer.status_code == 422
    assert [(e["path"], e["rule"]) for e in answer.json()["errors"]] == [
        ("NoiNopHoSo", "submission_place")
    ]
