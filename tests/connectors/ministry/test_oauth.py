"""OAuth2 client credentials at the LGSP: cached, refreshed before expiry and on a 401."""

from __future__ import annotations

import threading

import httpx
import pytest

from gateway.connectors.ministry import ClientCredentials
from gateway.errors import PeerAuthError, TransientPeerError


class _Lgsp:
    """A token endpoint and one API, counting what they see."""

    def __init__(self, lifetime: int = 3600) -> None:
        self.lifetime = lifetime
        self.issued = 0
        self.revoked: set[str] = set()
        self.seen: list[str] = []
        self.token_status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            if self.token_status != 200:
                return httpx.Response(self.token_status, json={"error": "invalid_client"})
            assert request.headers["Authorization"].startswith("Basic ")
            assert b"grant_type=client_credentials" in request.content
            self.issued += 1
            return httpx.Response(
                200, json={"access_token": f"t{self.issued}", "expires_in": self.lifetime}
            )
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.seen.append(token)
        if token in self.revoked or not token:
            return httpx.Response(401)
        return httpx.Response(200, json={"ok": True})


def _client(lgsp: _Lgsp, clock: list[float]) -> tuple[httpx.Client, ClientCredentials]:
    transport = httpx.MockTransport(lgsp)
    auth = ClientCredentials(
        system="lltp",
        token_url="https://lgsp.test/token",
        client_id="gw",
        client_secret="s3cret",
        token_client=httpx.Client(transport=transport),
        refresh_margin=60,
        clock=lambda: clock[0],
    )
    return httpx.Client(transport=transport, auth=auth, base_url="https://lgsp.test"), auth


def test_token_is_cached_between_calls() -> None:
    """Ten calls within the token's life fetch one token."""
    lgsp, clock = _Lgsp(), [0.0]
    client, _ = _client(lgsp, clock)
    for _ in range(10):
        assert client.post("/api").status_code == 200
    assert lgsp.issued == 1
    assert set(lgsp.seen) == {"t1"}


def test_token_is_refreshed_before_it_expires() -> None:
    """Within the refresh margin of expiry, a new token is fetched before the call."""
    lgsp, clock = _Lgsp(lifetime=600), [0.0]
    client, _ = _client(lgsp, clock)
    client.post("/api")
    clock[0] = 539.0
    client.post("/api")
    assert lgsp.issued == 1
    clock[0] = 541.0
    client.post("/api")
    assert lgsp.issued == 2
    assert lgsp.seen[-1] == "t2"


def test_401_refreshes_once_and_repeats_the_call() -> None:
    """A token revoked early: one new token, the call repeated once, and it succeeds."""
    lgsp, clock = _Lgsp(), [0.0]
    client, _ = _client(lgsp, clock)
    client.post("/api")
    lgsp.revoked.add("t1")
    response = client.post("/api", json={"a": 1})
    assert response.status_code == 200
    assert lgsp.seen[-2:] == ["t1", "t2"]


def test_second_401_is_returned_not_looped() -> None:
    """When the fresh token is refused too, the 401 comes back after exactly one retry."""
    lgsp, clock = _Lgsp(), [0.0]
    client, _ = _client(lgsp, clock)
    lgsp.revoked.update({"t1", "t2", "t3"})
    assert client.post("/api").status_code == 401
    assert lgsp.issued == 2


def test_refused_credentials_are_an_auth_error_without_the_secret() -> None:
    """invalid_client at the token endpoint is PeerAuthError; the secret is in no message."""
    lgsp, clock = _Lgsp(), [0.0]
    lgsp.token_status = 401
    client, _ = _client(lgsp, clock)
    with pytest.raises(PeerAuthError) as info:
        client.post("/api")
    assert "s3cret" not in str(info.value)


def test_token_endpoint_down_is_transient() -> None:
    """A 5xx from the token endpoint is transient (retry later), not an auth failure."""
    lgsp, clock = _Lgsp(), [0.0]
    lgsp.token_status = 503
    client, _ = _client(lgsp, clock)
    with pytest.raises(TransientPeerError) as info:
        client.post("/api")
    assert not isinstance(info.value, PeerAuthError)


def test_threads_share_one_fetch() -> None:
    """Eight threads starting together fetch one token between them."""
    lgsp, clock = _Lgsp(), [0.0]
    client, _ = _client(lgsp, clock)
    barrier = threading.Barrier(8)

    def call() -> None:
        barrier.wait()
        client.post("/api")

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lgsp.issued == 1


def test_async_client_shares_the_flow() -> None:
    """On an httpx.AsyncClient (zeep's transport) the token is cached and a 401 refreshed."""
    import anyio

    lgsp, clock = _Lgsp(), [0.0]
    transport = httpx.MockTransport(lgsp)
    auth = ClientCredentials(
        system="soap",
        token_url="https://lgsp.test/token",
        client_id="gw",
        client_secret="s3cret",
        token_client=httpx.Client(transport=transport),
        clock=lambda: clock[0],
    )

    async def go() -> list[int]:
        async with httpx.AsyncClient(
            transport=transport, auth=auth, base_url="https://lgsp.test"
        ) as client:
            first = (await client.post("/api")).status_code
            lgsp.revoked.add("t1")
            second = (await client.post("/api")).status_code
            return [first, second]

    assert anyio.run(go) == [200, 200]
    assert lgsp.issued == 2
