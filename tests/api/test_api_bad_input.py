"""Bad input of every shape answers a 4xx problem, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

PROV = {"Authorization": "Bearer prov-key"}
ODD_BODIES = [b"", b"null", b"[]", b'"x"', b"42", b'{"items": [1, "x", null]}', b"\xff\xfe"]


@pytest.mark.parametrize("body", ODD_BODIES)
@pytest.mark.parametrize(
    "url", ["/v1/dossiers", "/v1/dossiers:batch", "/v1/steps", "/v1/steps:batch"]
)
def test_native_odd_bodies_are_4xx(api: Any, url: str, body: bytes) -> None:
    """Native writes answer odd bodies with a 4xx (or a 202 listing refusals), never 5xx."""
    answer = api.post(url, content=body, headers={**PROV, "Idempotency-Key": f"odd-{url}"})
    assert answer.status_code < 500
    if answer.status_code == 202:
        assert answer.json()["deliveries"] == []


@pytest.mark.parametrize("body", ODD_BODIES)
def test_dvcqg_odd_bodies_are_4xx(api: Any, body: bytes) -> None:
    """The DVCQG endpoints answer odd bodies with a 4xx problem carrying error_code."""
    for url in ("/dvcqg/auth", "/dvcqg/integration"):
        answer = api.post(url, content=body)
        assert 400 <= answer.status_code < 500, (url, body)
        assert answer.json()["error_code"] != 0


def test_dvcqg_odd_records_are_refused_per_record(api: Any, login: Callable[..., str]) -> None:
    """Records that are not objects are refused one by one with the record path."""
    envelope = {"session": login(), "madonvi": "000.00.01.H22", "service": "DongBoHoSoMC"}
    answer = api.post("/dvcqg/integration", json={**envelope, "data": [1, None, "x"]})
    assert answer.status_code == 200
    results = answer.json()["result"]
    assert [r["errors"][0]["path"] for r in results] == ["data.0", "data.1", "data.2"]
