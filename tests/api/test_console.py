"""The console over HTTP: login, sessions bound to the browser, CSRF on every form, pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway.connectors.dvcqg import Service
from gateway.service import GatewayService
from gateway.testing.fake_portal import FakePortal
from tests.api.conftest import AGENCY, DOSSIER_NO, ApiClient

PROV = {"Authorization": "Bearer prov-key"}
UA = {"User-Agent": "test-browser/1"}
Make = Callable[..., dict[str, Any]]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Browser:
    """Carries cookies between requests to the app, like a browser (one client address)."""

    def __init__(self, api: ApiClient, ua: str = "test-browser/1") -> None:
        self.api = api
        self.cookies: dict[str, str] = {}
        self.ua = ua

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {"User-Agent": self.ua, **kwargs.pop("headers", {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        answer = self.api.request(method, url, headers=headers, **kwargs)
        for raw in answer.headers.get_list("set-cookie"):
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            if value in ("", '""') or "Max-Age=0" in raw:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return answer

    def get(self, url: str) -> httpx.Response:
        return self._send("GET", url)

    def post(self, url: str, data: dict[str, str]) -> httpx.Response:
        return self._send("POST", url, data=data)

    def login(self, key: str = "ops-key") -> httpx.Response:
        page = self.get("/console/login")
        token = _CSRF.search(page.text)
        assert token is not None
        return self.post("/console/login", {"csrf": token.group(1), "api_key": key})

    def csrf(self, url: str) -> str:
        token = _CSRF.search(self.get(url).text)
        assert token is not None, url
        return token.group(1)


@pytest.fixture
def dead(api: ApiClient, service: GatewayService, portal: FakePortal, make_provincial: Make) -> str:
    """One dossier the portal refused, now a dead letter; its id."""
    portal.reject(DOSSIER_NO)
    answer = api.post(
        "/v1/dossiers", json=make_provincial(), headers={**PROV, "Idempotency-Key": "c1"}
    )
    service.flush(Service.DOSSIER, AGENCY)
    portal.clear_faults()
    return str(answer.json()["delivery_id"])


def test_pages_need_a_login(api: ApiClient) -> None:
    """Without a session every page redirects to the login form."""
    for url in ("/console", "/console/dead-letters", "/console/audit"):
        answer = api.get(url)
        assert answer.status_code == 303, url
        assert answer.headers["location"] == "/console/login"


def test_login_sets_a_strict_http_only_cookie(api: ApiClient) -> None:
    """An operator key opens a session: HttpOnly, SameSite=Strict, Path=/console."""
    browser = Browser(api)
    answer = browser.login()
    assert answer.status_code == 303
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("gw_console="))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie
    page = browser.get("/console")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert 'id="operator">ops<' in page.text


def test_a_non_operator_key_is_refused(api: ApiClient) -> None:
    """A province's key opens no session."""
    browser = Browser(api)
    answer = browser.login("prov-key")
    assert answer.headers["location"].startswith("/console/login?error=")
    assert "gw_console" not in browser.cookies


def test_login_without_its_csrf_token_is_refused(api: ApiClient) -> None:
    """The login form itself carries a CSRF token (double submit); without it: 403."""
    browser = Browser(api)
    browser.get("/console/login")
    answer = browser.post("/console/login", {"api_key": "ops-key"})
    assert answer.status_code == 403
    assert "gw_console" not in browser.cookies


def test_forms_without_csrf_token_are_refused(
    api: ApiClient, service: GatewayService, dead: str
) -> None:
    """Replay and discard without (or with a wrong) CSRF token answer 403 and change nothing."""
    browser = Browser(api)
    browser.login()
    for data in ({}, {"csrf": "forged"}):
        for action in ("replay", "discard"):
            answer = browser.post(f"/console/dead-letters/{dead}/{action}", {**data, "reason": "x"})
            assert answer.status_code == 403, (action, data)
    assert service.deadletters.get(dead).status == "dead"
    assert service.audit is not None
    assert [e for e in service.audit.export(None, None) if e["kind"] == "operator"] == []


def test_a_session_cookie_from_another_client_is_refused(
    service: GatewayService, api: ApiClient, dead: str
) -> None:
    """The same cookie sent from another address, or another browser, is no session."""
    browser = Browser(api)
    browser.login()
    assert browser.get("/console/dead-letters").status_code == 200
    elsewhere = Browser(ApiClient(api.app, client_address=("192.0.2.9", 5555)))
    elsewhere.cookies = dict(browser.cookies)
    assert elsewhere.get("/console/dead-letters").status_code == 303
    other_browser = Browser(api, ua="another-browser/2")
    other_browser.cookies = dict(browser.cookies)
    assert other_browser.get("/console/dead-letters").status_code == 303


def test_replay_and_discard_through_the_console_are_audited(
    api: ApiClient,
    service: GatewayService,
    portal: FakePortal,
    dead: str,
    make_provincial: Make,
) -> None:
    """Replay delivers the letter; a discard's reason shows in the console's audit page."""
    browser = Browser(api)
    browser.login()
    listing = browser.get("/console/dead-letters")
    assert f"/console/dead-letters/{dead}" in listing.text
    token = browser.csrf(f"/console/dead-letters/{dead}")
    answer = browser.post(f"/console/dead-letters/{dead}/replay", {"csrf": token})
    assert answer.status_code == 303
    service.flush(Service.DOSSIER, AGENCY)
    assert DOSSIER_NO in portal.dossiers
    shown = browser.get(f"/console/dead-letters/{dead}")
    assert 'id="delivery-state">delivered<' in shown.text
    other = f"{AGENCY}-250310-0009"
    portal.reject(other)
    made = api.post(
        "/v1/dossiers", json=make_provincial(no=other), headers={**PROV, "Idempotency-Key": "c2"}
    )
    service.flush(Service.DOSSIER, AGENCY)
    second = str(made.json()["delivery_id"])
    browser.post(f"/console/dead-letters/{second}/discard", {"csrf": token, "reason": "test data"})
    audit = browser.get("/console/audit?kind=operator").text
    assert "test data" in audit
    assert "discard" in audit
    assert "replay" in audit
    assert service.audit is not None
    assert service.audit.verify().ok


def test_listing_pages_and_groups(
    api: ApiClient, service: GatewayService, portal: FakePortal, make_provincial: Make
) -> None:
    """Letters are grouped by peer, channel and reason, paged 50 at a time, filterable."""
    numbers = [f"{AGENCY}-250311-{i:04d}" for i in range(1, 56)]
    for no in numbers:
        portal.reject(no)
    for start in range(0, len(numbers), 5):
        for i, no in enumerate(numbers[start : start + 5]):
            api.post(
                "/v1/dossiers",
                json=make_provincial(no=no),
                headers={**PROV, "Idempotency-Key": f"p{start + i}"},
            )
        service.flush(Service.DOSSIER, AGENCY)
    browser = Browser(api)
    browser.login()
    first = browser.get("/console/dead-letters")
    assert "55 matching" in first.text
    assert first.text.count('class="letter"') == 50
    assert 'id="next"' in first.text
    second = browser.get("/console/dead-letters?offset=50")
    assert second.text.count('class="letter"') == 5
    none = browser.get("/console/dead-letters?peer=nobody")
    assert "0 matching" in none.text
    assert len(first.content) < 1024 * 1024


def test_links_cannot_put_their_own_words_on_a_page(api: ApiClient, dead: str) -> None:
    """The login page shows only known error codes; a notice outside the plain pattern is 422."""
    page = api.get("/console/login?error=call+0900")
    assert "call 0900" not in page.text
    browser = Browser(api)
    browser.login()
    crafted = browser.get(f"/console/dead-letters/{dead}?notice=%3Cb%3Ecall%3C%2Fb%3E")
    assert crafted.status_code == 422
    assert browser.get("/console/dead-letters/..%2Fx").status_code in (404, 422)
