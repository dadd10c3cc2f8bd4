"""The population-database simulator: seed, both profiles, faults, ledger, loopback serving."""

from __future__ import annotations

import anyio
import httpx
import pytest

from gateway.connectors.population import (
    LookupRequest,
    PopulationConfig,
    build_population_connector,
)
from gateway.errors import PermanentPeerError, TransientPeerError
from gateway.mappers.citizen_xml import CitizenReply
from gateway.sandbox import Faults, SimulatorServer
from gateway.testing.population import PopulationSimulator

HAN = LookupRequest("079301004567", "Phạm Ngọc Hân", 2001, None, None, "r1")


def look_up(
    config: PopulationConfig,
    transport: httpx.AsyncBaseTransport | None = None,
    request: LookupRequest = HAN,
) -> CitizenReply:
    async def go() -> CitizenReply:
        connector = build_population_connector(config, transport=transport)
        try:
            return await connector.look_up(request)
        finally:
            await connector.aclose()

    return anyio.run(go)


def test_seed_citizens_pass_the_offline_rules() -> None:
    """Every seeded citizen is found, in both profiles, with its seeded name."""
    sim = PopulationSimulator.from_seed()
    for profile in ("lgsp", "soap"):
        reply = look_up(sim.config(profile, "http://sim.test"), sim.transport())
        assert reply.citizens[0].name.text() == "Phạm Ngọc Hân"


def test_ledger_masks_numbers_and_records_outcomes() -> None:
    """The ledger lists token and look-up calls with masked numbers and their outcomes."""
    sim = PopulationSimulator.from_seed()
    config = sim.config("lgsp", "http://sim.test")
    look_up(config, sim.transport())
    look_up(config, sim.transport(), LookupRequest("001090099999", "X", 1990, None, None, "r2"))
    assert [(c.profile, c.outcome) for c in sim.calls] == [
        ("token", "token"),
        ("lgsp", "found"),
        ("token", "token"),
        ("lgsp", "not_found"),
    ]
    assert sim.calls[1].id_number == "*********567"


def test_wrong_client_secret_is_refused() -> None:
    """The token endpoint checks the client credentials."""
    sim = PopulationSimulator.from_seed()
    config = sim.config("lgsp", "http://sim.test", client_secret="wrong")
    with pytest.raises(TransientPeerError):  # PeerAuthError is transient: our configuration
        look_up(config, sim.transport())
    assert sim.calls[-1].outcome == "token_refused"


@pytest.mark.network
def test_served_on_loopback_both_profiles_and_faults() -> None:
    """Over real HTTP: both profiles answer; a timeout fault is cut by the connector's timeout."""
    sim = PopulationSimulator.from_seed()
    with SimulatorServer(sim, hold_seconds=1.0) as server:
        assert server.url.startswith("http://127.0.0.1:")
        for profile in ("lgsp", "soap"):
            assert look_up(sim.config(profile, server.url)).citizens[0].id_number == "079301004567"
        sim.timeout_next(1)
        with pytest.raises(TransientPeerError):
            look_up(sim.config("soap", server.url, read_timeout=0.2, total_timeout=0.3))
        sim.soap_fault_next(1)
        with pytest.raises(PermanentPeerError, match="SOAP fault Server"):
            look_up(sim.config("soap", server.url))
    assert [c.outcome for c in sim.calls if c.profile == "soap"] == [
        "found",
        "timeout",
        "soap_fault",
    ]


def test_random_faults_from_the_sandbox_rates() -> None:
    """With the sandbox's fault rates, error is a SOAP fault and unavailable a 503."""
    sim = PopulationSimulator.from_seed(faults=Faults(error_rate=1.0))
    with pytest.raises(PermanentPeerError, match="SOAP fault Server"):
        look_up(sim.config("soap", "http://sim.test"), sim.transport())
    sim = PopulationSimulator.from_seed(faults=Faults(unavailable_rate=1.0))
    with pytest.raises(TransientPeerError):
        look_up(sim.config("lgsp", "http://sim.test"), sim.transport())
    assert sim.ledger()["outcomes"] == {"token": 1, "http_503": 1}


def test_ledger_and_reset() -> None:
    """The ledger is JSON-ready with masked numbers; reset forgets calls and tokens."""
    sim = PopulationSimulator.from_seed()
    look_up(sim.config("lgsp", "http://sim.test"), sim.transport())
    ledger = sim.ledger()
    assert ledger["citizens"] == 5
    assert ledger["outcomes"] == {"token": 1, "found": 1}
    assert "079301004567" not in str(ledger)
    sim.reset()
    assert sim.ledger()["calls"] == []


def test_snippet_configures_the_gateway() -> None:
    """The TOML snippet gives a valid [identity] section pointing at the simulator."""
    import tomllib

    from gateway.identity_settings import IdentitySettings

    sim = PopulationSimulator.from_seed()
    data = tomllib.loads(sim.snippet("http://127.0.0.1:9300", "demo", profile="soap"))
    settings = IdentitySettings.model_validate(data["identity"])
    assert settings.population.endpoint == "http://127.0.0.1:9300/soap"
    assert settings.entitlement("demo") == ("HoVaTen", "NgayThangNamSinh", "ThuongTru")


def test_down_answers_503_until_up_again() -> None:
    """A simulator set down refuses every call with 503 (transient), then serves again."""
    sim = PopulationSimulator.from_seed()
    sim.set_down()
    with pytest.raises(TransientPeerError) as caught:
        look_up(sim.config("soap", "http://sim.test"), sim.transport())
    assert caught.value.status == 503
    sim.set_down(False)
    assert look_up(sim.config("soap", "http://sim.test"), sim.transport()).citizens
