"""OAuth2 client credentials at the LGSP (RFC 6749 §4.4) as an ``httpx.Auth``.

One token per system, shared by every worker thread: it is fetched on first use, reused until
``refresh_margin`` seconds before it expires (half its life at the latest), fetched again then,
and once more when the ministry answers 401 (a token revoked early); a second 401 is returned to
the caller, which classifies it (:class:`~gateway.errors.PeerAuthError`). A lock makes
concurrent threads wait for one fetch instead of each fetching its own. The secret never
appears in errors or logs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator

import httpx

from gateway.errors import PeerAuthError, TransientPeerError

__all__ = ["ClientCredentials"]

_DEFAULT_LIFETIME = 300.0  # seconds, when the token endpoint omits expires_in


class _NoAuth(httpx.Auth):
    """Credentials travel in the form body (``client_auth = "post"``)."""


class ClientCredentials(httpx.Auth):
    """Bearer tokens from a client-credentials grant, cached and refreshed (thread-safe).

    ``token_client`` posts to ``token_url``; it is separate from the client this auth is
    attached to so that the token call does not run through this auth itself. ``clock`` is
    monotonic seconds (injectable in tests).
    """

    def __init__(
        self,
        *,
        system: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        token_client: httpx.Client,
        client_auth: str = "basic",
        scope: str | None = None,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._system = system
        self._token_url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._http = token_client
        self._client_auth = client_auth
        self._scope = scope
        self._margin = refresh_margin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0
        """Tokens fetched so far (for tests and metrics)."""

    def close(self) -> None:
        """Close the token client (the client this auth is attached to does not own it)."""
        self._http.close()

    def token(self, *, stale: str | None = None) -> str:
        """A valid token; ``stale`` is one the peer refused, to be replaced if still cached."""
        with self._lock:
            fresh = self._token is not None and self._clock() < self._refresh_at
            if fresh and (stale is None or self._token != stale):
                assert self._token is not None  # noqa: S101 - narrowed by `fresh`
                return self._token
            return self._fetch()

    def _fetch(self) -> str:
        data = {"grant_type": "client_credentials"}
        if self._scope:
            data["scope"] = self._scope
        # The token client carries no auth of its own, so "none" here means none at all.
        auth: httpx.Auth = httpx.BasicAuth(self._client_id, self._secret)
        if self._client_auth == "post":
            auth = _NoAuth()
            data |= {"client_id": self._client_id, "client_secret": self._secret}
        try:
            response = self._http.post(self._token_url, data=data, auth=auth)
        except httpx.TransportError as exc:
            raise TransientPeerError(
                f"token endpoint unreachable ({type(exc).__name__})",
                system=self._system,
                operation="token",
            ) from exc
        if response.status_code in (400, 401, 403):
            # invalid_client / unauthorized_client: our credentials, not the dossier's fault.
            raise PeerAuthError(
                "token endpoint refused the client credentials",
                system=self._system,
                operation="token",
                status=response.status_code,
            )
        if response.status_code != 200:
            raise TransientPeerError(
                f"token endpoint answered HTTP {response.status_code}",
                system=self._system,
                operation="token",
                status=response.status_code,
            )
        try:
            body = response.json()
            token = body["access_token"]
            lifetime = float(body.get("expires_in") or _DEFAULT_LIFETIME)
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientPeerError(
                "token endpoint reply has no access_token", system=self._system, operation="token"
            ) from exc
        if not isinstance(token, str) or not token:
            raise TransientPeerError(
                "token endpoint reply has no access_token", system=self._system, operation="token"
            )
        self._token = token
        # ``refresh_margin`` before expiry, but never later than half the token's life: a
        # token living no longer than the margin would otherwise be stale on arrival, and
        # every call would fetch one (one thread at a time, under the lock).
        self._refresh_at = self._clock() + max(lifetime - self._margin, lifetime / 2)
        self.fetches += 1
        return token

    def invalidate(self) -> None:
        """Forget the cached token (the next request fetches one)."""
        with self._lock:
            self._token = None

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        """Send with the cached token; on a 401, fetch a new one and send once more."""
        token = self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = self.token(stale=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The same flow for an ``httpx.AsyncClient`` (zeep's ``AsyncTransport``).

        The token is fetched with the synchronous token client: it happens once per token
        lifetime, and sharing one cache and one lock with the synchronous flow matters more
        than not blocking the loop for that one call.
        """
        token = self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            token = self.token(stale=token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request
