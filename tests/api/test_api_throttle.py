"""Login throttling at ``POST /dvcqg/auth``: per username, per client IP, reset by success."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gateway.config import LoginThrottleSettings, Settings
from gateway.service import GatewayService
from tests._redis import key_names

RIGHT = {"username": "prov-user", "password": "prov-pass"}
WRONG = {"username": "prov-user", "password": "guess"}


def fail(api: Any, times: int, body: dict[str, str] = WRONG) -> None:
    for _ in range(times):
        assert api.post("/dvcqg/auth", json=body).status_code == 401


def test_fifth_failure_then_429_even_with_right_password(api: Any) -> None:
    """After 5 failures the right password answers 429: it is not even checked."""
    fail(api, 5)
    answer = api.post("/dvcqg/auth", json=RIGHT)
    assert answer.status_code == 429
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["error_code"] == "429"
    assert body["status"] == 429
    assert "session" not in body
    assert "prov-user" not in answer.text


def test_429_carries_retry_after_within_the_window(api: Any, service: GatewayService) -> None:
    """Retry-After gives whole seconds until the window (300 s by default) closes."""
    fail(api, 5)
    answer = api.post("/dvcqg/auth", json=WRONG)
    assert answer.status_code == 429
    wait = int(answer.headers["retry-after"])
    assert 1 <= wait <= service.settings.login.window_seconds
    assert f"{wait} s" in answer.json()["message"]


def test_four_failures_still_let_the_right_password_in(api: Any) -> None:
    """Below the limit, the right password logs in as usual."""
    fail(api, 4)
    assert api.post("/dvcqg/auth", json=RIGHT).status_code == 200


def test_other_usernames_unaffected(api: Any) -> None:
    """One username locked out leaves another (from the same address) able to log in."""
    fail(api, 5)
    assert api.post("/dvcqg/auth", json=RIGHT).status_code == 429
    other = api.post("/dvcqg/auth", json={"username": "other-user", "password": "other-pass"})
    assert other.status_code == 200


def test_success_before_limit_resets_the_count(api: Any) -> None:
    """Four failures, a success, four more failures: the right password still gets in."""
    fail(api, 4)
    assert api.post("/dvcqg/auth", json=RIGHT).status_code == 200
    fail(api, 4)
    assert api.post("/dvcqg/auth", json=RIGHT).status_code == 200


def test_refused_attempts_do_not_extend_the_window(api: Any, service: GatewayService) -> None:
    """Retrying while refused is not counted: the wait never grows back to a full window."""
    fail(api, 5)
    [key] = service.client.keys("gw:login:user:*")
    service.client.pexpire(key, 2000)
    for _ in range(3):
        answer = api.post("/dvcqg/auth", json=WRONG)
        assert answer.status_code == 429
        assert int(answer.headers["retry-after"]) <= 2
    assert service.client.get(key) == b"5"


def test_window_end_lifts_the_lock(api: Any, service: GatewayService) -> None:
    """When the counter expires (its TTL is the window), the right password works again."""
    fail(api, 5)
    [key] = service.client.keys("gw:login:user:*")
    assert 0 < service.client.ttl(key) <= 300
    service.client.delete(key)
    assert api.post("/dvcqg/auth", json=RIGHT).status_code == 200


def test_counters_do_not_name_the_username(api: Any, service: GatewayService) -> None:
    """Counter keys hold a hash of the username, never the name a guesser typed."""
    fail(api, 1, {"username": "admin@province", "password": "x"})
    keys = key_names(service.client, "gw:login:*")
    assert len(keys) == 2
    assert not any("admin" in k for k in keys)


def test_one_address_spraying_usernames_is_throttled(api: Any, service: GatewayService) -> None:
    """Failures across many usernames from one IP reach the per-IP limit (20 by default)."""
    limit = service.settings.login.max_failures_per_ip
    for n in range(limit):
        fail(api, 1, {"username": f"user-{n}", "password": "x"})
    answer = api.post("/dvcqg/auth", json=RIGHT)
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) >= 1


def test_per_ip_limit_is_per_address(
    api_from: Callable[[str], Any], service: GatewayService
) -> None:
    """Another client address is not held by the first one's failures."""
    sprayer, neighbour = api_from("192.0.2.1"), api_from("192.0.2.2")
    for n in range(service.settings.login.max_failures_per_ip):
        fail(sprayer, 1, {"username": f"user-{n}", "password": "x"})
    assert sprayer.post("/dvcqg/auth", json=RIGHT).status_code == 429
    assert neighbour.post("/dvcqg/auth", json=RIGHT).status_code == 200


class TestConfigured:
    """Limits and window come from the ``[login]`` settings."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        """Two failures per username, a 60 s window."""
        login = LoginThrottleSettings(max_failures=2, window_seconds=60)
        return settings.model_copy(update={"login": login})

    def test_configured_limit_and_window(self, api: Any, service: GatewayService) -> None:
        """The third attempt after two failures is refused, and the counter lives 60 s."""
        fail(api, 2)
        answer = api.post("/dvcqg/auth", json=RIGHT)
        assert answer.status_code == 429
        assert 1 <= int(answer.headers["retry-after"]) <= 60
