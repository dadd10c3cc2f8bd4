"""The console's login limiter, and each peer's recent (not lifetime) error rate."""

from __future__ import annotations

import re

import pytest
import redis

from gateway.config import ClientConfig, LoginThrottleSettings, Settings
from gateway.connectors.dvcqg import DvcqgConnector, Service
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from gateway.testing.records import Clock
from tests.api.conftest import AGENCY, DOSSIER_NO, ApiClient, provincial_dossier
from tests.api.test_console import Browser

PROV = {"Authorization": "Bearer prov-key"}


@pytest.fixture
def settings() -> Settings:
    """A province with a DVCQG login and an operator; failed logins: 3 per key, 5 per IP."""
    return Settings(
        clients=(
            ClientConfig(
                id="prov",
                api_key="prov-key",
                username="prov-user",
                password="prov-pass",
                agencies=frozenset({AGENCY}),
            ),
            ClientConfig(id="ops", api_key="ops-key", operator=True, agencies=frozenset({"*"})),
        ),
        login=LoginThrottleSettings(max_failures=3, max_failures_per_ip=5, window_seconds=300),
    )


def test_console_logins_are_throttled_per_key_and_per_address(api: ApiClient) -> None:
    """Three wrong tries of one key, then 429 for it (the right key still logs in); five
    wrong keys from one address, then 429 for every key from it, the right one included,
    before the key is looked at."""
    browser = Browser(api)
    for _ in range(3):
        assert browser.login("guess-1").headers["location"] == "/console/login?error=key"
    refused = browser.login("guess-1")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "too many failed logins" in refused.text
    assert re.search(r'name="csrf" value="[^"]+"', refused.text)  # a fresh form, to try later
    assert browser.login("ops-key").status_code == 303  # success takes its own unit back
    Browser(api).login("guess-2")  # the fourth failure from this address
    assert Browser(api).login("ops-key").status_code == 303
    Browser(api).login("guess-3")  # the fifth
    locked = Browser(api).login("ops-key")
    assert locked.status_code == 429
    assert not any(c.startswith("gw_console=") for c in locked.headers.get_list("set-cookie"))
    elsewhere = Browser(ApiClient(api.app, client_address=("192.0.2.7", 4000)))
    assert elsewhere.login("ops-key").status_code == 303


def test_the_console_limiter_is_not_the_dvcqg_logins(api: ApiClient) -> None:
    """An address locked out of the console still logs in to the DVCQG API, and back."""
    for i in range(5):
        Browser(api).login(f"wrong-{i}")
    assert Browser(api).login("ops-key").status_code == 429
    answer = api.post("/dvcqg/auth", json={"username": "prov-user", "password": "prov-pass"})
    assert answer.status_code == 200, answer.text


@pytest.fixture
def clock() -> Clock:
    return Clock(start=1_764_561_600.0)


@pytest.fixture
def service(
    settings: Settings, redis_client: redis.Redis, portal: FakePortal, clock: Clock
) -> GatewayService:
    """Overrides the API conftest's: the same gateway on a settable clock."""
    connector = DvcqgConnector(
        portal.connector_config("http://portal.test"), transport=portal.transport()
    )
    return GatewayService(settings, redis_client, connector, clock=clock)


def _peer_row(page: str, peer: str) -> str:
    row = re.search(rf"<tr><td>{peer}</td>.*?</tr>", page, re.S)
    assert row is not None, page
    return row.group(0)


def test_the_error_rate_is_of_the_last_15_minutes(
    api: ApiClient, service: GatewayService, portal: FakePortal, clock: Clock
) -> None:
    """A refused send shows as 100 % now; 16 minutes and one good send later, 0 %, though the
    lifetime counters still hold the failure."""
    portal.reject(DOSSIER_NO)
    api.post("/v1/dossiers", json=provincial_dossier(), headers={**PROV, "Idempotency-Key": "a"})
    service.flush(Service.DOSSIER, AGENCY)
    browser = Browser(api)
    browser.login()
    header = browser.get("/console").text
    assert "failed sends (last 15 min)" in header
    assert "100.0% of 1" in _peer_row(header, "dvcqg")
    portal.clear_faults()
    clock.advance(16 * 60)
    other = provincial_dossier(no=f"{AGENCY}-250310-0008")
    api.post("/v1/dossiers", json=other, headers={**PROV, "Idempotency-Key": "b"})
    service.flush(Service.DOSSIER, AGENCY)
    row = _peer_row(browser.get("/console").text, "dvcqg")
    assert "0.0% of 1" in row
    assert service.outbox.dead_letter_count() == 1  # the lifetime record is still there
