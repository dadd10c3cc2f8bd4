"""The sandbox hộ tịch, SOAP and REST ministries under ``gateway sandbox``: snippets, ledgers,
the drivable clock and the case book."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator

import httpx
import pytest

from gateway.config import load_settings
from gateway.connectors.ministry import CaseRef, CaseState, SystemConfig, system_client
from gateway.connectors.ministry.http import close_system_client
from gateway.connectors.ministry.oauth import ClientCredentials
from gateway.connectors.ministry.profile import SystemContext, profile_type
from gateway.sandbox import Sandbox, SandboxOptions
from gateway.sandbox.ministry_cases import CaseBook, FaultPlan, SandboxClock
from gateway.sandbox.ministry_specs import HOTICH_SAMPLE_PROCEDURE, profile_simulators
from gateway.sandbox.server import LEDGER_PATH
from tests.connectors.ministry_profiles._helpers import handover


def test_case_book_dedupes_or_duplicates_and_counts() -> None:
    """With dedupe a repeat returns the case; without it a second case opens; both counted."""
    now = [100.0]
    deduping = CaseBook(clock=lambda: now[0], dedupe=True)
    first, opened = deduping.open("K", {})
    again, reopened = deduping.open("K", {})
    assert (opened, reopened, first is again) == (True, False, True)
    assert deduping.ledger()["submissions"] == {"K": 2}
    assert deduping.ledger()["duplicate_cases"] == []
    naive = CaseBook(clock=lambda: now[0], dedupe=False)
    naive.open("K", {})
    naive.open("K", {})
    assert naive.ledger()["duplicate_cases"] == ["K"]


def test_stages_follow_the_clock() -> None:
    """A case reaches each stage when the clock passes its offset; advancing never goes back."""
    clock = SandboxClock(lambda: 1000.0)
    book = CaseBook(clock=clock)
    case, _ = book.open("K", {})
    assert case.stage(clock()) == "received"
    clock.advance(60)
    assert case.stage(clock()) == "processing"
    clock.advance(-500)
    clock.advance(60)
    assert case.stage(clock()) == "completed"
    assert case.changed_at(clock()) == 1120.0


def test_scripted_faults_come_first_and_by_operation() -> None:
    """inject() applies to the named operation's next calls only, before the dice."""
    plan = FaultPlan()
    plan.inject("timeout", operation="submit", count=2)
    assert plan.draw("status") is None
    assert [plan.draw("submit"), plan.draw("submit"), plan.draw("submit")] == [
        "timeout",
        "timeout",
        None,
    ]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    specs = profile_simulators()
    with Sandbox(
        SandboxOptions(), ports={s.name: 0 for s in specs}, specs=specs, hold_seconds=0.2
    ) as running:
        yield running


@pytest.mark.network
def test_snippets_are_a_configuration_the_gateway_accepts(sandbox: Sandbox) -> None:
    """The printed TOML loads: three routes, three systems, each route's options valid."""
    config = tomllib.loads(sandbox.snippet())
    settings = load_settings(**config)
    assert settings.ministry is not None
    assert {r.profile for r in settings.ministry.routes} == {"hotich", "soap", "rest"}
    route = settings.ministry.route_for(HOTICH_SAMPLE_PROCEDURE)
    assert route is not None
    assert route.system == "hotich"
    for name in ("hotich", "soap_ministry", "rest_ministry"):
        assert settings.ministry_system(name).base_url.startswith(sandbox.url(name))


@pytest.mark.network
def test_hotich_over_loopback_with_the_advance_endpoint(sandbox: Sandbox) -> None:
    """A hand-over over real HTTP opens a case (ledger), and POST /_sandbox/advance moves it."""
    url = sandbox.url("hotich")
    snippet = tomllib.loads(sandbox.snippet())
    config = SystemConfig.model_validate(snippet["peers"]["hotich"])
    with system_client("hotich", config) as http:
        system = SystemContext(name="hotich", config=config, http=http, clock=lambda: 0.0)
        ptype = profile_type("hotich")
        profile = ptype.build(system)
        ho = handover(ptype.options.model_validate({"module": "KS"}), ChuHoSo="Trần Văn C")
        profile.hand_over(ho)
        ledger = httpx.get(url + LEDGER_PATH).json()
        assert ledger["cases_opened"] == 1
        assert ledger["tokens"] == 1
        moved = httpx.post(url + "/_sandbox/advance", json={"seconds": 120}).json()
        assert moved["now"] > 0
        status = profile.find(CaseRef(ho.dossier_no))
        assert status is not None
        assert status.state is CaseState.COMPLETED
        assert status.result is not None
        close_system_client(http)  # the token client too: an open socket fails the test run
        assert isinstance(http.auth, ClientCredentials)
        assert http.auth._http.is_closed
    assert httpx.post(url + "/_sandbox/advance", content=b"[").status_code == 400


@pytest.mark.network
def test_soap_ministry_serves_its_wsdl(sandbox: Sandbox) -> None:
    """GET <endpoint>?wsdl answers the contract."""
    snippet = tomllib.loads(sandbox.snippet())
    reply = httpx.get(snippet["peers"]["soap_ministry"]["base_url"] + "?wsdl")
    assert reply.status_code == 200
    assert b"LienThongHoSo" in reply.content
