"""Identity look-ups in the audit chain: the look-up itself and the exchange with the database."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.api import create_app
from gateway.config import ClientConfig, Settings
from gateway.identity import IdentityService
from gateway.identity_settings import IdentitySettings
from gateway.service import GatewayService
from gateway.testing.population import PopulationSimulator

from .conftest import ApiClient

AN: dict[str, Any] = {
    "id_number": "001090012345",
    "full_name": "Nguyễn Văn An",
    "birth_date": "1990-02-15",
    "sex": "male",
}


@pytest.fixture
def sim() -> PopulationSimulator:
    return PopulationSimulator.from_seed()


@pytest.fixture
def settings(sim: PopulationSimulator) -> Settings:
    """One province entitled to verify, with identity checks on the LGSP profile."""
    return Settings(
        clients=(
            ClientConfig(id="prov", api_key="prov-key", agencies=frozenset({"000.00.01.H22"})),
        ),
        identity=IdentitySettings(
            population=sim.config("lgsp", "http://population.test"),
            entitlements={"prov": "verify"},
        ),
    )


def test_lookup_and_its_exchange_are_chained_masked(
    service: GatewayService, sim: PopulationSimulator
) -> None:
    """A verify call appends an identity entry (number masked) and the population exchange."""
    app = create_app(service)
    settings = service.settings.identity
    assert settings is not None
    app.state.identity = IdentityService.build(
        settings, service.client, "gw", transport=sim.transport(), chain=service.audit
    )
    answer = ApiClient(app).post(
        "/v1/identity:verify", json=AN, headers={"Authorization": "Bearer prov-key"}
    )
    assert answer.status_code == 200, answer.text
    assert service.audit is not None
    entries = list(service.audit.export(None, None))
    kinds = [e["kind"] for e in entries]
    assert "identity" in kinds
    assert any(e["kind"] == "exchange" and e["peer"] == "population" for e in entries)
    lookup = next(e for e in entries if e["kind"] == "identity")
    assert lookup["client"] == "prov"
    assert lookup["outcome"] == "match"
    assert "001090012345" not in str(entries)
    assert "Nguyễn" not in str(entries)
    assert service.audit.verify().ok
