"""DVCQG-style sessions: only a hash of the token is kept in Redis."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from gateway.api.auth import SessionStore
from gateway.service import GatewayService
from tests._redis import key_names

AGENCY = "000.00.01.H22"


def test_plain_token_is_not_a_redis_key(login: Callable[..., str], service: GatewayService) -> None:
    """The session key is the token's SHA-256; the token appears in no key and no value."""
    token = login()
    keys = key_names(service.client, "*")
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert f"gw:session:{digest}" in keys
    assert not any(token in k for k in keys)
    assert service.client.get(f"gw:session:{token}") is None
    assert all(token.encode() not in (service.client.get(k) or b"") for k in keys)


def test_hashed_session_logs_in_and_pushes(
    api: Any, login: Callable[..., str], make_national: Callable[..., dict[str, Any]]
) -> None:
    """A session from login is accepted on the next call, through its hash."""
    envelope = {
        "session": login(),
        "madonvi": AGENCY,
        "service": "DongBoHoSoMC",
        "isUpdating": "False",
        "data": [make_national()],
    }
    answer = api.post("/dvcqg/integration", json=envelope)
    assert answer.status_code == 200, answer.text
    assert answer.json()["error_code"] == "0"


def test_the_hash_itself_is_not_a_session(
    api: Any, login: Callable[..., str], service: GatewayService
) -> None:
    """Someone who reads the key from Redis cannot use it as a session token."""
    digest = hashlib.sha256(login().encode()).hexdigest()
    store = SessionStore(service)
    assert store.client(digest) is None


def test_odd_tokens_are_unknown_sessions(service: GatewayService) -> None:
    """Empty, huge or non-ASCII tokens are simply unknown sessions, never errors."""
    store = SessionStore(service)
    for token in ("", "x" * 10_000, "phiên:làm việc", "\ud800"):
        assert store.client(token) is None
