"""Who is calling: API keys (native and operations APIs) and DVCQG-style sessions (intake).

Secrets never reach a log line or an error message: a failed check says only that it failed.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

from fastapi import Depends, Request

from gateway.api.deps import get_service
from gateway.api.problems import Problem
from gateway.config import ClientConfig, Settings
from gateway.pipeline.outbox import text
from gateway.service import GatewayService

__all__ = [
    "Client",
    "Operator",
    "SessionStore",
    "bearer_client",
    "client_by_id",
    "operator_client",
]


def client_by_id(settings: Settings, client_id: str) -> ClientConfig | None:
    """The configured client with this id, if it still exists."""
    return next((c for c in settings.clients if c.id == client_id), None)


def bearer_client(
    request: Request, service: Annotated[GatewayService, Depends(get_service)]
) -> ClientConfig:
    """The client named by ``Authorization: Bearer <api key>``; 401 problem otherwise."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    client = None
    if scheme.lower() == "bearer" and key.strip():
        client = service.settings.client_by_key(key.strip())
    if client is None:
        raise Problem(
            401,
            "a valid API key is required: Authorization: Bearer <api key>",
            kind="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="tthc-gateway"'},
        )
    return client


Client = Annotated[ClientConfig, Depends(bearer_client)]
"""A route parameter: the authenticated client."""


def operator_client(client: Client) -> ClientConfig:
    """The authenticated client, if it is an operator; 403 problem otherwise."""
    if not client.operator:
        raise Problem(403, "this operation is reserved to operator clients", kind="forbidden")
    return client


Operator = Annotated[ClientConfig, Depends(operator_client)]
"""A route parameter: the authenticated operator client."""


class SessionStore:
    """DVCQG-style sessions: ``<ns>:session:<sha256 of token>`` → client id, with a fixed TTL.

    Only a hash of the token is stored, so whoever reads Redis (a dump, a replica, a monitor)
    cannot take over a session; the token itself exists only in the client's hands.
    The TTL is not extended on use: when it runs out the client gets the portal's "session
    rejected" answer and logs in again, exactly as it does with the real portal.
    """

    def __init__(self, service: GatewayService) -> None:
        self._redis = service.client
        self._ns = service.settings.namespace
        self._ttl = service.settings.intake.session_ttl_seconds
        self._settings = service.settings

    def key(self, token: str) -> str:
        """The Redis key of session ``token``."""
        # A 256-bit random token needs no salt or slow hash: nothing can be guessed from it.
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self._ns}:session:{digest}"

    def open(self, client: ClientConfig) -> str:
        """A new session token for ``client``."""
        token = secrets.token_urlsafe(32)
        self._redis.set(self.key(token), client.id.encode(), ex=self._ttl)
        return token

    def client(self, token: str) -> ClientConfig | None:
        """The client holding ``token``, or None for an unknown or expired session."""
        # token_urlsafe tokens are 43 characters; anything far longer is not one of ours.
        if not token or len(token) > 256:
            return None
        client_id = text(self._redis.get(self.key(token)))
        return None if client_id is None else client_by_id(self._settings, client_id)
