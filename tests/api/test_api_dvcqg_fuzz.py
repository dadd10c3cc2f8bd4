"""The DVCQG intake under hypothesis: schemathesis cannot carry a session in the body.

Properties: a quirky record is accepted with exactly its flags; any JSON value in any field of a
record, or in any member of the envelope, gives a 4xx or a per-record refusal, never a 5xx.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.schemas.national import DossierRecord
from gateway.testing.fake_portal import FakePortal
from tests.api.test_api_quirks import AGENCY, Intake, record
from tests.mappers.strategies import (
    json_values,
    national_dossier_dicts,
    out_of_window_wire_times,
    quirky_dossier_dicts,
)

FUZZ = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_numbers = itertools.count(1)


def fresh_number() -> str:
    """A dossier number no other example used (so the life cycle never interferes)."""
    n = next(_numbers)
    return f"{AGENCY}-{250101 + n // 9999:06d}-{n % 9999 + 1:04d}"


@pytest.fixture
def wide(redis_client: redis.Redis, portal: FakePortal) -> Iterator[Intake]:
    """Default policy, with a date window as wide as the generated records' dates."""
    it = Intake(redis_client, portal, dates_from=date(1900, 1, 1))
    yield it
    it.gateway.close()


@pytest.fixture
def default(redis_client: redis.Redis, portal: FakePortal) -> Iterator[Intake]:
    """The default [intake] configuration."""
    it = Intake(redis_client, portal)
    yield it
    it.gateway.close()


@FUZZ
@given(sample=quirky_dossier_dicts())
def test_quirky_records_accepted_with_exactly_their_flags(
    wide: Intake, sample: tuple[dict[str, Any], frozenset[str]]
) -> None:
    """Every combination of record quirks is accepted and flagged with exactly those rules."""
    rec, quirks = sample
    seq5 = "dossier_number_nonstandard" in quirks
    rec["MaHoSo"] = fresh_number() + ("7" if seq5 else "")
    result = wide.one(rec)
    assert result["accepted"], result
    assert frozenset(result["flags"]) == quirks
    assert frozenset(wide.status(result["delivery_id"])["flags"]) == quirks


FIELDS = [*sorted(f.alias or n for n, f in DossierRecord.model_fields.items()), "KhongCo"]


@FUZZ
@given(base=national_dossier_dicts(), field=st.sampled_from(FIELDS), value=json_values)
def test_any_value_in_any_field_is_never_a_server_error(
    wide: Intake, base: dict[str, Any], field: str, value: Any
) -> None:
    """A record with any field set to any JSON value is accepted or refused, never a 500."""
    # A fresh dossier per example: no example depends on what an earlier one left behind.
    base["MaHoSo"] = fresh_number()
    base[field] = value
    result = wide.one(base)
    assert result["accepted"] or result["errors"], result
    for error in result["errors"]:
        assert error["path"].startswith("data.0")
        assert error["rule"]


@FUZZ
@given(
    member=st.sampled_from(["session", "madonvi", "service", "isUpdating", "data"]),
    value=json_values,
)
def test_any_envelope_member_is_4xx_or_200(wide: Intake, member: str, value: Any) -> None:
    """Any JSON value in an envelope member answers 200 or a 4xx with error_code, never 5xx."""
    body = {
        "session": wide.session,
        "madonvi": AGENCY,
        "service": "DongBoHoSoMC",
        "isUpdating": "False",
        "data": [record(no=fresh_number())],
        member: value,
    }
    answer = wide.api.post("/dvcqg/integration", json=body)
    assert answer.status_code == 200 or 400 <= answer.status_code < 500, answer.text
    assert isinstance(answer.json()["error_code"], str)


@FUZZ
@given(
    when=out_of_window_wire_times, field=st.sampled_from(["NgayTiepNhan", "NgayNopHoSo", "NgayTra"])
)
def test_dates_outside_window_are_refused_by_name(default: Intake, when: str, field: str) -> None:
    """Any real national date outside the default window is refused naming the field."""
    rec = record(no=fresh_number(), **{field: when})
    if field == "NgayTiepNhan":
        rec["NgayHenTra"] = ""
    result = default.one(rec)
    assert not result["accepted"]
    assert {"path": f"data.0.{field}", "rule": "wire_date_window"} in [
        {"path": e["path"], "rule": e["rule"]} for e in result["errors"]
    ]
