"""``POST /v1/identity:verify`` end to end, against the population simulator (both profiles)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI

from gateway.api import create_app
from gateway.config import ClientConfig, Settings
from gateway.connectors.dvcqg import Service
from gateway.identity import IdentityService
from gateway.identity_settings import IdentitySettings
from gateway.logmask import MaskingFilter
from gateway.pipeline.breaker import BreakerConfig
from gateway.service import GatewayService
from gateway.testing.population import PopulationSimulator
from gateway.testing.records import national_dossier

from .conftest import ApiClient

DOSSIER = "000.00.01.H22-250310-0007"
AN: dict[str, Any] = {
    "id_number": "001090012345",
    "full_name": "Nguyễn Văn An",
    "birth_date": "1990-02-15",
    "sex": "male",
}
PROV = {"Authorization": "Bearer prov-key"}
VERIFY_ONLY = {"Authorization": "Bearer other-key"}
OPS = {"Authorization": "Bearer ops-key"}


class Clock:
    """A settable monotonic clock for the breaker."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["lgsp", "soap"])
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sim() -> PopulationSimulator:
    return PopulationSimulator.from_seed()


@pytest.fixture
def identity_settings(sim: PopulationSimulator, profile: str) -> IdentitySettings:
    return IdentitySettings(
        population=sim.config(profile, "http://population.test"),
        entitlements={"prov": ("HoVaTen", "ThuongTru"), "other": "verify"},
        breaker=BreakerConfig(failure_threshold=2, reset_seconds=30),
    )


@pytest.fixture
def settings(identity_settings: IdentitySettings) -> Settings:
    """Overrides the API conftest's: the same three clients, with identity checks."""
    return Settings(
        clients=(
            ClientConfig(id="prov", api_key="prov-key", agencies=frozenset({"000.00.01.H22"})),
            ClientConfig(id="other", api_key="other-key", agencies=frozenset({"000.00.02.H22"})),
            ClientConfig(id="ops", api_key="ops-key", operator=True, agencies=frozenset({"*"})),
        ),
        identity=identity_settings,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


def wire(
    app: FastAPI, service: GatewayService, transport: httpx.AsyncBaseTransport, clock: Clock
) -> IdentityService:
    """Point the app's identity checks at ``transport`` with the test's breaker clock."""
    settings = service.settings.identity
    assert settings is not None
    identity = IdentityService.build(
        settings,
        service.client,
        service.settings.namespace,
        transport=transport,
        breaker_clock=clock,
        on_dossier_check=service.evaluations.refresh_idchecks,
    )
    app.state.identity = identity
    return identity


@pytest.fixture
def app(service: GatewayService, sim: PopulationSimulator, clock: Clock) -> FastAPI:
    app = create_app(service)
    wire(app, service, sim.transport(), clock)
    return app


@pytest.fixture
def gw(app: FastAPI) -> ApiClient:
    return ApiClient(app)


def checks(client: redis.Redis, dossier: str = DOSSIER) -> list[dict[str, Any]]:
    """The 766 evaluation list of ``dossier``, as the evaluations code reads it."""
    return [json.loads(raw) for raw in client.lrange(f"gw:idchecks:{dossier}", 0, -1)]


def audit(gw: ApiClient) -> list[dict[str, str]]:
    answer = gw.get("/v1/identity/audit", headers=OPS)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, str]] = answer.json()["items"]
    return items


def test_match_returns_entitled_fields_and_records_the_check(
    gw: ApiClient, redis_client: redis.Redis, profile: str, sim: PopulationSimulator
) -> None:
    """A match answers the entitled fields only, audits it and keeps it with the dossier."""
    answer = gw.post("/v1/identity:verify", json={**AN, "dossier_no": DOSSIER}, headers=PROV)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "match"
    assert body["mismatches"] == []
    assert body["profile"] == profile
    assert set(body["citizen"]) == {"HoVaTen", "ThuongTru"}
    assert body["citizen"]["HoVaTen"] == {"Ho": "Nguyễn", "ChuDem": "Văn", "Ten": "An"}
    [check] = checks(redis_client)
    assert set(check) == {"at", "outcome", "profile", "client"}
    assert check["outcome"] == "match"
    assert (check["profile"], check["client"]) == (profile, "prov")
    assert isinstance(check["at"], int)
    [entry] = audit(gw)
    assert entry["client"] == "prov"
    assert entry["dossier"] == DOSSIER
    assert entry["outcome"] == "match"
    assert entry["id_number"] == "*********345"
    assert entry["request_id"] == body["request_id"]
    assert "Nguyễn" not in json.dumps(entry)
    assert [c.outcome for c in sim.calls if c.profile != "token"] == ["found"]


def test_verify_only_client_gets_no_record(gw: ApiClient) -> None:
    """A verify-only client learns match or mismatch, never the record."""
    answer = gw.post("/v1/identity:verify", json=AN, headers=VERIFY_ONLY)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "match"
    assert answer.json()["citizen"] is None


def test_mismatch_names_the_fields_and_shows_nothing(gw: ApiClient) -> None:
    """A wrong name and date are named; the record is not shown to an entitled client."""
    answer = gw.post(
        "/v1/identity:verify",
        json={**AN, "full_name": "Nguyễn Văn Ân", "birth_date": "1990-02-16"},
        headers=PROV,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "mismatch"
    assert answer.json()["mismatches"] == ["full_name", "birth_date"]
    assert answer.json()["citizen"] is None


def test_unknown_person_is_a_mismatch_on_the_number(gw: ApiClient) -> None:
    """Nobody under the number: mismatch on id_number, found false."""
    answer = gw.post("/v1/identity:verify", json={**AN, "id_number": "001090099999"}, headers=PROV)
    assert answer.status_code == 200, answer.text
    assert answer.json()["found"] is False
    assert answer.json()["mismatches"] == ["id_number"]


def test_offline_failure_answers_at_once(
    gw: ApiClient, sim: PopulationSimulator, redis_client: redis.Redis
) -> None:
    """A number failing an offline rule is 422 naming it; the database is never called."""
    bad = {**AN, "id_number": "001290012345", "dossier_no": DOSSIER}
    answer = gw.post("/v1/identity:verify", json=bad, headers=PROV)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["outcome"] == "invalid"
    assert [(e["path"], e["rule"]) for e in problem["errors"]] == [
        ("id_number", "personal_id_century")
    ]
    assert sim.calls == ()
    assert [c["outcome"] for c in checks(redis_client)] == ["invalid"]
    assert audit(gw)[0]["reason"] == "personal_id_century"


def test_bad_request_names_the_field(gw: ApiClient) -> None:
    """A missing birth and an unknown member are 422 with their paths."""
    answer = gw.post(
        "/v1/identity:verify", json={"id_number": "1", "full_name": "A", "x": 1}, headers=PROV
    )
    assert answer.status_code == 422
    paths = {e["path"] for e in answer.json()["errors"]}
    assert "x" in paths


def test_control_characters_in_the_name_are_refused(
    gw: ApiClient, sim: PopulationSimulator
) -> None:
    """A name with a control character is 422 on full_name, before any call."""
    answer = gw.post("/v1/identity:verify", json={**AN, "full_name": "An\u0001"}, headers=PROV)
    assert answer.status_code == 422
    assert [e["path"] for e in answer.json()["errors"]] == ["full_name"]
    assert sim.calls == ()


def test_authentication_and_entitlement(gw: ApiClient) -> None:
    """No key: 401. A client missing from the entitlements: 403."""
    assert gw.post("/v1/identity:verify", json=AN).status_code == 401
    answer = gw.post("/v1/identity:verify", json=AN, headers=OPS)
    assert answer.status_code == 403
    assert gw.get("/v1/identity/audit", headers=PROV).status_code == 403


def test_breaker_opens_answers_503_then_closes(
    gw: ApiClient, sim: PopulationSimulator, clock: Clock
) -> None:
    """Two transient failures open it: 503 with Retry-After, no call; a probe later closes it."""
    sim.fail_next(1, status=503)
    sim.timeout_next(1)
    for _ in range(2):
        answer = gw.post("/v1/identity:verify", json=AN, headers=PROV)
        assert answer.status_code == 503
        assert answer.json()["outcome"] == "unavailable"
    assert gw.get("/health/identity").json()["breaker"] == "open"
    calls = len(sim.calls)
    refused = gw.post("/v1/identity:verify", json=AN, headers=PROV)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "30"
    assert len(sim.calls) == calls  # not called while open
    metrics = gw.get("/metrics").text
    assert 'gateway_identity_breaker_state{peer="population"} 2.0' in metrics
    clock.now += 30
    probe = gw.post("/v1/identity:verify", json=AN, headers=PROV)
    assert probe.status_code == 200, probe.text
    assert gw.get("/health/identity").json()["breaker"] == "closed"
    assert 'outcome="unavailable"' in gw.get("/metrics").text


def test_soap_fault_is_502_without_its_text(gw: ApiClient, sim: PopulationSimulator) -> None:
    """A SOAP fault is 502 naming the fault code; the breaker stays closed (the peer is up)."""
    sim.soap_fault_next(3, code="Server")
    for _ in range(3):
        answer = gw.post("/v1/identity:verify", json=AN, headers=PROV)
        assert answer.status_code == 502
        assert answer.json()["reason"] == "peer_code:Server"
        assert "simulated" not in answer.text
    assert gw.get("/health/identity").json()["breaker"] == "closed"


def test_expired_tokens_are_replaced(gw: ApiClient, sim: PopulationSimulator, profile: str) -> None:
    """Tokens revoked at the platform: the LGSP profile fetches a new one and answers."""
    assert gw.post("/v1/identity:verify", json=AN, headers=PROV).status_code == 200
    sim.expire_tokens()
    assert gw.post("/v1/identity:verify", json=AN, headers=PROV).status_code == 200
    outcomes = [c.outcome for c in sim.calls]
    if profile == "lgsp":
        assert outcomes == ["token", "found", "expired_token", "token", "found"]
    else:
        assert outcomes == ["found", "found"]


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (b'<!DOCTYPE x [<!ENTITY a "Nguyen">]><x>&a;</x>', "xml_dtd_forbidden"),
        (b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Bo", "xml_malformed"),
        (b"<x>" + b"Nguyen Van An " * 100_000 + b"</x>", "reply_too_large"),
        (
            b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'><s:Body>"
            b"<CongdanCollection xmlns='urn:other'><CongDan><HoVaTen>Nguyen Van An</HoVaTen>"
            b"</CongDan></CongdanCollection></s:Body></s:Envelope>",
            "reply_namespace",
        ),
    ],
    ids=["dtd", "truncated", "oversized", "namespace"],
)
def test_hostile_replies_are_502_naming_the_rule(
    app: FastAPI, service: GatewayService, clock: Clock, profile: str, body: bytes, rule: str
) -> None:
    """A hostile reply is a 502 problem naming the rule, never a 500 with the peer's text."""

    def hostile(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if profile == "lgsp":
            return httpx.Response(200, json={"error_code": "0", "message": body.decode()})
        return httpx.Response(200, content=body)

    wire(app, service, httpx.MockTransport(hostile), clock)
    answer = ApiClient(app).post("/v1/identity:verify", json=AN, headers=PROV)
    assert answer.status_code == 502
    assert answer.json()["reason"] == f"reply:{rule}"
    assert "Nguyen" not in answer.text


def test_nothing_is_cached_unless_configured(
    gw: ApiClient, sim: PopulationSimulator, redis_client: redis.Redis
) -> None:
    """With no cache TTL, every look-up calls the database and nothing personal is stored."""
    gw.post("/v1/identity:verify", json=AN, headers=PROV)
    gw.post("/v1/identity:verify", json=AN, headers=PROV)
    assert [c.outcome for c in sim.calls if c.profile != "token"] == ["found", "found"]
    assert list(redis_client.scan_iter("gw:idcache:*")) == []


def test_cache_with_ttl(
    app: FastAPI,
    service: GatewayService,
    sim: PopulationSimulator,
    clock: Clock,
    identity_settings: IdentitySettings,
    redis_client: redis.Redis,
) -> None:
    """With cache_ttl_seconds, a second look-up is answered from Redis, which expires it."""
    cached = identity_settings.model_copy(update={"cache_ttl_seconds": 60})
    identity = IdentityService.build(cached, redis_client, "gw", transport=sim.transport())
    app.state.identity = identity
    gw = ApiClient(app)
    assert gw.post("/v1/identity:verify", json=AN, headers=PROV).json()["outcome"] == "match"
    assert gw.post("/v1/identity:verify", json=AN, headers=PROV).json()["outcome"] == "match"
    assert [c.outcome for c in sim.calls if c.profile != "token"] == ["found"]
    [key] = redis_client.scan_iter("gw:idcache:*")
    assert b"001090012345" not in key
    assert 0 < redis_client.ttl(key) <= 60


def test_not_configured_is_404(service: GatewayService) -> None:
    """Without [identity] the route answers 404 naming the section."""
    plain = GatewayService(
        service.settings.model_copy(update={"identity": None}), service.client, service.connector
    )
    answer = ApiClient(create_app(plain)).post("/v1/identity:verify", json=AN, headers=PROV)
    assert answer.status_code == 404
    assert "[identity]" in answer.json()["detail"]


def test_logs_of_a_whole_run_hold_no_number_and_no_name(
    gw: ApiClient, sim: PopulationSimulator, caplog: pytest.LogCaptureFixture, profile: str
) -> None:
    """At DEBUG (zeep logs whole envelopes), masked logs hold no ID number and no name."""
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(MaskingFilter())
    gw.post("/v1/identity:verify", json={**AN, "dossier_no": DOSSIER}, headers=PROV)
    gw.post("/v1/identity:verify", json={**AN, "full_name": "Trần Thị Cúc"}, headers=PROV)
    gw.post("/v1/identity:verify", json={**AN, "id_number": "003090012345"}, headers=PROV)
    sim.soap_fault_next(1)
    gw.post("/v1/identity:verify", json=AN, headers=PROV)
    sim.fail_next(1)
    gw.post("/v1/identity:verify", json=AN, headers=PROV)
    text = caplog.text
    assert len(caplog.records) >= 5
    for secret in ("001090012345", "003090012345", "012345678", "Nguyễn", "Văn An", "Trần", "Cúc"):
        assert secret not in text, secret
        # zeep logs bodies as bytes reprs, where Vietnamese letters appear escaped.
        assert repr(secret.encode())[2:-1] not in text, secret
    assert "identity look-up" in text  # our own failure lines were logged, masked
    if profile == "soap":
        # zeep logged both envelopes; the filter masked the number and the names.
        assert "<ns0:SoDinhDanh>***</ns0:SoDinhDanh>" in text
        assert "<Ho>***</Ho>" in text


def test_a_dossier_look_up_reaches_its_evaluation(
    gw: ApiClient, service: GatewayService, redis_client: redis.Redis
) -> None:
    """A look-up for an accepted dossier is recounted into its 766 evaluation record at once."""
    service.accept(
        Service.DOSSIER, "000.00.01.H22", [national_dossier(DOSSIER, "2")], client="prov"
    )
    service.evaluations.drain()
    before = service.evaluations.store.get(DOSSIER)
    assert before is not None
    assert before.idchecks == {}
    assert (
        gw.post("/v1/identity:verify", json={**AN, "dossier_no": DOSSIER}, headers=PROV).status_code
        == 200
    )
    bad = {**AN, "id_number": "003090012345", "dossier_no": DOSSIER}
    assert gw.post("/v1/identity:verify", json=bad, headers=PROV).status_code == 422
    after = service.evaluations.store.get(DOSSIER)
    assert after is not None
    assert after.idchecks == {"match": 1, "invalid": 1}


def test_the_app_wires_the_evaluations_recount(service: GatewayService) -> None:
    """create_app builds the identity service with the evaluations' recount as its hook."""
    app = create_app(service)
    identity = app.state.identity
    assert isinstance(identity, IdentityService)
    assert identity.on_dossier_check == service.evaluations.refresh_idchecks


def test_the_console_shows_look_ups_per_hour_and_outcome(gw: ApiClient) -> None:
    """Two matches, a mismatch and an invalid number: the console's identity panel counts
    them in this hour's row, server-rendered, and the page stays small."""
    from tests.api.test_console import Browser

    gw.post("/v1/identity:verify", json=AN, headers=PROV)
    gw.post("/v1/identity:verify", json=AN, headers=PROV)
    gw.post("/v1/identity:verify", json={**AN, "full_name": "Nguyễn Văn Ân"}, headers=PROV)
    gw.post("/v1/identity:verify", json={**AN, "id_number": "001290012345"}, headers=PROV)
    browser = Browser(gw)
    browser.login()
    page = browser.get("/console")
    assert page.status_code == 200
    assert 'id="identity-total">4<' in page.text
    rows = re.findall(r"<tr><td>\d\d-\d\d \d\d:00</td>(.*?)</tr>", page.text)
    assert rows == ["<td>2</td><td>1</td><td>1</td><td>0</td>"]  # match mismatch invalid unavail.
    assert len(page.content) < 1024 * 1024


def test_the_app_closes_the_population_connector_on_shutdown(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lifespan's shutdown closes the identity service's connector."""
    import anyio

    closed: list[bool] = []
    identity = app.state.identity

    async def aclose() -> None:
        closed.append(True)

    monkeypatch.setattr(identity, "aclose", aclose)

    async def serve() -> None:
        async with app.router.lifespan_context(app):
            assert closed == []

    anyio.run(serve)
    assert closed == [True]
