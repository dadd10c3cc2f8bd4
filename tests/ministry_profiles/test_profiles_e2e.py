"""Dossiers routed to the hộ tịch, SOAP and REST sandbox ministries: handed over once, tracked,
and their results flow back to the province's webhook and the portal's steps, once each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from gateway.sandbox.callbacks import CallbackFaults
from gateway.testing.ministry_profiles import ProfilesRig, build_profiles_rig

SYSTEMS = ("hotich", "soap_ministry", "rest_ministry")
NO = {
    "hotich": "000.00.01.H22-251201-0101",
    "soap_ministry": "000.00.01.H22-251201-0102",
    "rest_ministry": "000.00.01.H22-251201-0103",
}
EXPECTED = {
    # received, then the ministry's next stages; hộ tịch 3 is "eligible" (processing).
    "hotich": ["1", "3", "4"],
    "soap_ministry": ["DA_TIEP_NHAN", "DANG_XU_LY", "DA_CO_KET_QUA"],
    "rest_ministry": ["received", "processing", "completed"],
}


@pytest.fixture
def rig(redis_client: redis.Redis) -> Iterator[ProfilesRig]:
    built = build_profiles_rig(redis_client)
    yield built
    built.gateway.close()


def _sims(rig: ProfilesRig) -> dict[str, object]:
    return {"hotich": rig.hotich, "soap_ministry": rig.soap, "rest_ministry": rig.rest}


@pytest.mark.parametrize("system", SYSTEMS)
def test_routed_dossier_is_handed_over_and_its_result_comes_back(
    rig: ProfilesRig, system: str
) -> None:
    """Accepted at intake → one case at the ministry → statuses and result flow back once."""
    no = NO[system]
    assert rig.dossier(no, system)
    rig.deliver()
    ledger = _sims(rig)[system].ledger()  # type: ignore[attr-defined]  # every simulator has one
    assert ledger["cases_opened"] == 1
    rig.settle()
    statuses = [e["data"]["status"] for e in rig.events(system)]
    assert statuses == EXPECTED[system]
    case = rig.gateway.ministry.case(system, no)  # type: ignore[union-attr]  # configured
    assert case is not None
    assert case["settled"] is True
    assert case["state"] == "completed"
    final = rig.events(system)[-1]["data"]
    assert final["result"] is not None
    assert final["result"]["number"]
    steps = rig.portal.steps(no)
    assert len(steps) == 3
    assert _sims(rig)[system].ledger()["duplicate_cases"] == []  # type: ignore[attr-defined]  # every simulator has one


def test_ambiguous_hand_over_to_hotich_opens_no_second_case(rig: ProfilesRig) -> None:
    """dangKyHoTich applied then timed out: the framework asks traTrangThaiHoSo, finds the case,
    and never resends (the sandbox would open a second case if it did)."""
    rig.hotich.inject("timeout", operation="dangKyHoTich")
    no = NO["hotich"]
    assert rig.dossier(no, "hotich")
    rig.settle()
    ledger = rig.hotich.ledger()
    assert ledger["cases_opened"] == 1
    assert ledger["submissions"] == {no: 1}
    assert [e["data"]["status"] for e in rig.events("hotich")] == EXPECTED["hotich"]


def test_hotich_503_is_retried_and_500_dead_letters(rig: ProfilesRig) -> None:
    """A 503 is retried until it goes through; a 500 data error dead-letters with no case."""
    rig.hotich.inject("unavailable", operation="dangKyHoTich", count=2)
    assert rig.dossier(NO["hotich"], "hotich")
    rig.deliver()
    assert rig.hotich.ledger()["cases_opened"] == 1
    rig.hotich.inject("500", operation="dangKyHoTich")
    other = "000.00.01.H22-251201-0199"
    assert rig.dossier(other, "hotich")
    rig.deliver()
    assert other not in rig.hotich.ledger()["cases"]
    assert rig.gateway.outbox.dead_letter_count() == 1


def test_soap_fault_then_success(rig: ProfilesRig) -> None:
    """A Server.Busy fault is retried (asking first, since it may follow the store): one case."""
    rig.soap.inject("Server.Busy", operation="NopHoSo")
    assert rig.dossier(NO["soap_ministry"], "soap_ministry")
    rig.deliver()
    ledger = rig.soap.ledger()
    assert ledger["cases_opened"] == 1


def test_rest_duplicate_callbacks_flow_back_once(redis_client: redis.Redis) -> None:
    """Every REST callback arrives twice; the province hears of each status once."""
    rig = build_profiles_rig(redis_client, callback_faults=CallbackFaults(duplicate_rate=1.0))
    try:
        no = NO["rest_ministry"]
        assert rig.dossier(no, "rest_ministry")
        rig.settle()
        fates = {c["fate"] for c in rig.rest.ledger()["callbacks"]}
        assert fates == {"duplicate"}
        assert [e["data"]["status"] for e in rig.events("rest_ministry")] == EXPECTED[
            "rest_ministry"
        ]
    finally:
        rig.gateway.close()
