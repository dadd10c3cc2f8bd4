"""The HTTP side shared by JSON ministry profiles: one client per system, one call helper.

:func:`system_client` builds the ``httpx.Client`` a profile receives in its
:class:`~gateway.connectors.ministry.profile.SystemContext` (base URL, timeouts, OAuth2 client
credentials); :func:`post_json` makes one call and classifies what can go wrong on the way
(transport, HTTP status, a body that is not a JSON object), so a profile only classifies its
ministry's own reply codes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from gateway.connectors._http import status_error, transport_error
from gateway.connectors.ministry.oauth import ClientCredentials
from gateway.connectors.ministry.settings import SystemConfig
from gateway.errors import PeerAuthError, PeerReplyError

__all__ = ["close_system_client", "post_json", "system_client"]

_MAX_REPLY = 4 * 1024 * 1024


def system_client(
    name: str,
    config: SystemConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> httpx.Client:
    """The client of one ministry system; ``transport`` replaces the network in tests."""
    # Every phase bounded explicitly: SystemConfig.max_call_seconds (the lease check at start)
    # counts on pool and write too, which httpx would otherwise give the read timeout.
    timeout = httpx.Timeout(
        connect=config.connect_timeout,
        read=config.read_timeout,
        write=config.read_timeout,
        pool=config.connect_timeout,
    )
    auth: httpx.Auth | None = None
    if config.token_url is not None:
        assert config.client_id is not None  # noqa: S101 - SystemConfig requires them together
        assert config.client_secret is not None  # noqa: S101 - same
        auth = ClientCredentials(
            system=name,
            token_url=config.token_url,
            client_id=config.client_id,
            client_secret=config.client_secret.get_secret_value(),
            token_client=httpx.Client(transport=transport, timeout=timeout),
            client_auth=config.client_auth,
            scope=config.scope,
            refresh_margin=config.refresh_margin_seconds,
            clock=clock,
        )
    base = config.base_url if config.base_url.endswith("/") else config.base_url + "/"
    return httpx.Client(base_url=base, timeout=timeout, auth=auth, transport=transport)


def close_system_client(http: httpx.Client) -> None:
    """Close a client from :func:`system_client`, and its OAuth2 token client with it."""
    http.close()
    if isinstance(http.auth, ClientCredentials):
        http.auth.close()


def post_json(
    http: httpx.Client, system: str, operation: str, body: Any, *, writes: bool
) -> dict[str, Any]:
    """``POST <base>/<operation>`` with a JSON body; the reply's JSON object.

    Raises ``TransientPeerError`` (transport failures, ``ambiguous`` for a writing call whose
    request may have arrived; 5xx, 408, 429), ``PeerAuthError`` (401/403 after the auth's one
    refresh), ``PermanentPeerError`` (other 4xx) and ``PeerReplyError`` (not a JSON object).
    """
    try:
        response = http.post(operation, content=orjson.dumps(body), headers=_JSON)
    except httpx.TransportError as exc:
        raise transport_error(exc, system=system, operation=operation, writes=writes) from exc
    if response.status_code in (401, 403):
        raise PeerAuthError(
            f"HTTP {response.status_code}: the LGSP refused our token",
            system=system,
            operation=operation,
            status=response.status_code,
        )
    failure = status_error(response, system=system, operation=operation, writes=writes)
    if failure is not None:
        raise failure
    if len(response.content) > _MAX_REPLY:
        raise PeerReplyError("reply_too_large", system=system, operation=operation)
    try:
        parsed = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise PeerReplyError(
            "reply_not_json", system=system, operation=operation, status=response.status_code
        ) from None
    if not isinstance(parsed, dict):
        raise PeerReplyError(
            "reply_not_object", system=system, operation=operation, status=response.status_code
        )
    return parsed


_JSON = {"Content-Type": "application/json", "Accept": "application/json"}
