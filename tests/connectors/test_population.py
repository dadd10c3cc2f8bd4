"""The population-database connector, both profiles, against respx (the HTTP boundary)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import anyio
import httpx
import orjson
import pytest
import respx

from gateway.connectors.population import (
    LgspConnector,
    LookupRequest,
    PopulationConfig,
    SoapConnector,
)
from gateway.errors import PeerAuthError, PeerReplyError, PermanentPeerError, TransientPeerError
from gateway.mappers.citizen_xml import CITIZEN_NAMESPACE, CitizenReply

BASE = "http://lgsp.test"
SOAP_URL = "http://dancu.test/soap"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
REQUEST = LookupRequest("001090012345", "Nguyễn Văn An", 1990, "19900215", None, "req-1")
AN = (
    "<CongDan><SoDinhDanh>001090012345</SoDinhDanh>"
    "<HoVaTen><Ho>Nguyễn</Ho><ChuDem>Văn</ChuDem><Ten>An</Ten></HoVaTen></CongDan>"
)


def envelope(inner: str = AN, *, ns: str = CITIZEN_NAMESPACE, prolog: str = "") -> str:
    return (
        f'{prolog}<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body>'
        f'<TraCuuThongTinCongDanResponse xmlns="http://dancuquocgia.bca">'
        f'<CongdanCollection xmlns="{ns}">{inner}</CongdanCollection>'
        f"</TraCuuThongTinCongDanResponse></s:Body></s:Envelope>"
    )


FAULT = (
    f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body><s:Fault><faultcode>s:Client</faultcode>'
    "<faultstring>Sai MaTichHop của Nguyễn Văn An</faultstring></s:Fault></s:Body></s:Envelope>"
)


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lgsp_config(**overrides: object) -> PopulationConfig:
    values: dict[str, object] = {
        "profile": "lgsp",
        "base_url": BASE,
        "client_id": "gw",
        "client_secret": "s3cret",
        "integration_code": "TICH-HOP",
        "service_code": "DVC-1",
        "read_timeout": 1.0,
        "total_timeout": 2.0,
    }
    values.update(overrides)
    return PopulationConfig.model_validate(values)


def soap_config(**overrides: object) -> PopulationConfig:
    values: dict[str, object] = {"profile": "soap", "base_url": SOAP_URL, "service_code": "DVC-1"}
    values.update(overrides)
    return PopulationConfig.model_validate(values)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def token_route(mock: respx.MockRouter, *, expires_in: int = 3600) -> respx.Route:
    counter = iter(range(1, 1000))
    return mock.post(f"{BASE}/token").mock(
        side_effect=lambda request: httpx.Response(
            200, json={"access_token": f"tok-{next(counter)}", "expires_in": expires_in}
        )
    )


def lgsp_reply(message: str = envelope(), code: str = "0") -> httpx.Response:
    return httpx.Response(200, json={"error_code": code, "message": message})


def run_lgsp(connector: LgspConnector, request: LookupRequest = REQUEST) -> CitizenReply:
    async def go() -> CitizenReply:
        return await connector.look_up(request)

    return anyio.run(go)


def run_soap(connector: SoapConnector) -> CitizenReply:
    async def go() -> CitizenReply:
        return await connector.look_up(REQUEST)

    return anyio.run(go)


# -- LGSP JSON profile -----------------------------------------------------------------------


def test_lgsp_fetches_a_token_then_posts_the_lookup(mock: respx.MockRouter) -> None:
    """Client credentials at /token, then the JSON body of §3 with the bearer token."""
    tokens = token_route(mock)
    lookup = mock.post(f"{BASE}/api/dancu/tracuu").mock(return_value=lgsp_reply())
    reply = run_lgsp(LgspConnector(lgsp_config()))
    assert reply.citizens[0].name.text() == "Nguyễn Văn An"
    token_request = tokens.calls.last.request
    assert token_request.headers["authorization"].startswith("Basic ")
    assert b"grant_type=client_credentials" in token_request.content
    sent = lookup.calls.last.request
    assert sent.headers["authorization"] == "Bearer tok-1"
    body = json.loads(sent.content)
    assert body == {
        "HoVaTen": "Nguyễn Văn An",
        "SoDinhDanh": "001090012345",
        "SoCMND": "",
        "NgayThangNam": "19900215",
        "Nam": "1990",
        "MaTichHop": "TICH-HOP",
        "MaDVC": "DVC-1",
        "MaCanBo": "",
        "MaYeuCau": "req-1",
    }


def test_lgsp_token_is_cached_and_refreshed_before_expiry(mock: respx.MockRouter) -> None:
    """Two look-ups share a token; past expiry minus the margin, a new one is fetched first."""
    tokens = token_route(mock, expires_in=600)
    lookup = mock.post(f"{BASE}/api/dancu/tracuu").mock(return_value=lgsp_reply())
    clock = Clock()
    connector = LgspConnector(lgsp_config(token_refresh_margin_seconds=60), clock=clock)
    run_lgsp(connector)
    clock.now += 500
    run_lgsp(connector)
    assert tokens.call_count == 1
    clock.now += 41  # 541 s after the fetch: inside the 60 s margin of a 600 s token
    run_lgsp(connector)
    assert tokens.call_count == 2
    assert lookup.calls.last.request.headers["authorization"] == "Bearer tok-2"


def test_lgsp_401_fetches_a_fresh_token_once(mock: respx.MockRouter) -> None:
    """A token revoked early (401) is replaced and the look-up sent again, once."""
    tokens = token_route(mock)
    lookup = mock.post(f"{BASE}/api/dancu/tracuu").mock(
        side_effect=[httpx.Response(401), lgsp_reply()]
    )
    reply = run_lgsp(LgspConnector(lgsp_config()))
    assert len(reply.citizens) == 1
    assert tokens.call_count == 2
    assert [c.request.headers["authorization"] for c in lookup.calls] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]


def test_lgsp_second_401_is_our_credentials(mock: respx.MockRouter) -> None:
    """401 with a fresh token too: PeerAuthError, and no third attempt."""
    token_route(mock)
    lookup = mock.post(f"{BASE}/api/dancu/tracuu").mock(return_value=httpx.Response(401))
    with pytest.raises(PeerAuthError):
        run_lgsp(LgspConnector(lgsp_config()))
    assert lookup.call_count == 2


def test_lgsp_refused_client_credentials(mock: respx.MockRouter) -> None:
    """The token endpoint's invalid_client is PeerAuthError; the look-up is never sent."""
    mock.post(f"{BASE}/token").mock(return_value=httpx.Response(401, json={"error": "x"}))
    lookup = mock.post(f"{BASE}/api/dancu/tracuu")
    with pytest.raises(PeerAuthError):
        run_lgsp(LgspConnector(lgsp_config()))
    assert lookup.call_count == 0


def test_lgsp_error_code_is_permanent_and_not_found_code_is_nobody(
    mock: respx.MockRouter,
) -> None:
    """An error_code outside ok_codes is a refusal; a configured not-found code is no one."""
    token_route(mock)
    mock.post(f"{BASE}/api/dancu/tracuu").mock(return_value=lgsp_reply("", code="7"))
    with pytest.raises(PermanentPeerError) as caught:
        run_lgsp(LgspConnector(lgsp_config()))
    assert caught.value.peer_code == "7"
    assert run_lgsp(LgspConnector(lgsp_config(not_found_codes=("7",)))).citizens == ()


def test_lgsp_soap_fault_inside_message(mock: respx.MockRouter) -> None:
    """A fault wrapped in message is a permanent refusal carrying the fault code only."""
    token_route(mock)
    mock.post(f"{BASE}/api/dancu/tracuu").mock(return_value=lgsp_reply(FAULT))
    with pytest.raises(PermanentPeerError) as caught:
        run_lgsp(LgspConnector(lgsp_config()))
    assert caught.value.peer_code == "Client"
    assert "Nguyễn" not in str(caught.value)


@pytest.mark.parametrize(
    ("answer", "rule"),
    [
        (lgsp_reply(envelope(prolog='<!DOCTYPE x [<!ENTITY e "e">]>')), "xml_dtd_forbidden"),
        (lgsp_reply(envelope(ns="http://evil.example/")), "reply_namespace"),
        (lgsp_reply(envelope()[:-30]), "xml_malformed"),
        (lgsp_reply(envelope(AN * 2000)), "reply_too_large"),
        (httpx.Response(200, content=b"<html>gateway error</html>"), "reply_json"),
        (httpx.Response(200, json={"error_code": "0", "message": 5}), "reply_message"),
    ],
    ids=["dtd", "namespace", "truncated", "oversized", "not-json", "no-message"],
)
def test_lgsp_hostile_replies(mock: respx.MockRouter, answer: httpx.Response, rule: str) -> None:
    """Each hostile reply is a PeerReplyError naming its rule, never carrying its text."""
    token_route(mock)
    mock.post(f"{BASE}/api/dancu/tracuu").mock(return_value=answer)
    with pytest.raises(PeerReplyError) as caught:
        run_lgsp(LgspConnector(lgsp_config(max_reply_bytes=64 * 1024)))
    assert caught.value.rule == rule
    assert "Nguyễn" not in str(caught.value)
    assert "001090012345" not in str(caught.value)


def test_lgsp_streamed_oversized_body_is_cut(mock: respx.MockRouter) -> None:
    """A body without Content-Length is cut off while it streams in, past the limit."""
    token_route(mock)

    async def endless() -> object:
        for _ in range(10_000):
            yield b"x" * 4096

    mock.post(f"{BASE}/api/dancu/tracuu").mock(
        return_value=httpx.Response(200, content=endless())  # type: ignore[arg-type]  # async iterator body
    )
    with pytest.raises(PeerReplyError) as caught:
        run_lgsp(LgspConnector(lgsp_config(max_reply_bytes=8192)))
    assert caught.value.rule == "reply_too_large"


def test_lgsp_transient_failures(mock: respx.MockRouter) -> None:
    """5xx and timeouts are transient (the breaker counts them)."""
    token_route(mock)
    route = mock.post(f"{BASE}/api/dancu/tracuu")
    route.mock(return_value=httpx.Response(503, text="busy"))
    with pytest.raises(TransientPeerError) as caught:
        run_lgsp(LgspConnector(lgsp_config()))
    assert caught.value.status == 503
    route.mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(TransientPeerError):
        run_lgsp(LgspConnector(lgsp_config()))


# -- plain SOAP profile -----------------------------------------------------------------------


def test_soap_posts_the_wsdl_operation(mock: respx.MockRouter) -> None:
    """zeep's async client posts the operation envelope (SOAPAction, namespace) to soap_url."""
    route = mock.post(SOAP_URL).mock(
        return_value=httpx.Response(200, text=envelope(), headers={"Content-Type": "text/xml"})
    )
    reply = run_soap(SoapConnector(soap_config()))
    assert reply.citizens[0].id_number == "001090012345"
    sent = route.calls.last.request
    assert sent.headers["soapaction"] == '"http://dancuquocgia.bca/TraCuuThongTinCongDan"'
    body = sent.content.decode()
    assert "http://dancuquocgia.bca" in body
    assert "<ns0:SoDinhDanh>001090012345</ns0:SoDinhDanh>" in body
    assert "<ns0:NgayThangNamSinh>19900215</ns0:NgayThangNamSinh>" in body


def test_soap_other_operation_by_configuration(mock: respx.MockRouter) -> None:
    """``operation`` chooses another WSDL operation (XacThucThongTinCongDan)."""
    route = mock.post(SOAP_URL).mock(return_value=httpx.Response(200, text=envelope()))
    run_soap(SoapConnector(soap_config(operation="XacThucThongTinCongDan")))
    assert "XacThucThongTinCongDan" in route.calls.last.request.headers["soapaction"]


def test_soap_fault(mock: respx.MockRouter) -> None:
    """HTTP 500 with a SOAP fault: a permanent refusal with the fault code, no fault text."""
    mock.post(SOAP_URL).mock(return_value=httpx.Response(500, text=FAULT))
    with pytest.raises(PermanentPeerError) as caught:
        run_soap(SoapConnector(soap_config()))
    assert caught.value.peer_code == "Client"
    assert caught.value.status == 500
    assert "Nguyễn" not in str(caught.value)


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (
            envelope(prolog='<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd">'),
            "xml_dtd_forbidden",
        ),
        (envelope(ns="urn:wrong"), "reply_namespace"),
        (envelope()[:-50], "xml_malformed"),
        (envelope(AN * 2000), "reply_too_large"),
    ],
    ids=["dtd", "namespace", "truncated", "oversized"],
)
def test_soap_hostile_replies(mock: respx.MockRouter, body: str, rule: str) -> None:
    """Each hostile SOAP reply is a PeerReplyError naming its rule."""
    mock.post(SOAP_URL).mock(return_value=httpx.Response(200, text=body))
    with pytest.raises(PeerReplyError) as caught:
        run_soap(SoapConnector(soap_config(max_reply_bytes=64 * 1024)))
    assert caught.value.rule == rule


def test_soap_transient_failures(mock: respx.MockRouter) -> None:
    """A 502, a 500 error page, a 429 and a connection error are transient."""
    route = mock.post(SOAP_URL)
    route.mock(return_value=httpx.Response(502, text="bad gateway"))
    with pytest.raises(TransientPeerError):
        run_soap(SoapConnector(soap_config()))
    route.mock(return_value=httpx.Response(500, text="<html><body>proxy error</body></html>"))
    with pytest.raises(TransientPeerError) as caught:
        run_soap(SoapConnector(soap_config()))
    assert caught.value.status == 500
    route.mock(return_value=httpx.Response(429, headers={"Retry-After": "7"}))
    with pytest.raises(TransientPeerError) as caught:
        run_soap(SoapConnector(soap_config()))
    assert caught.value.retry_after == 7.0
    route.mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(TransientPeerError):
        run_soap(SoapConnector(soap_config()))


def test_lgsp_token_reply_without_token(mock: respx.MockRouter) -> None:
    """A token reply without access_token is an unreadable reply."""
    mock.post(f"{BASE}/token").mock(return_value=httpx.Response(200, content=orjson.dumps({})))
    with pytest.raises(PeerReplyError) as caught:
        run_lgsp(LgspConnector(lgsp_config()))
    assert caught.value.rule == "token_missing"
