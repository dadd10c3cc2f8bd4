"""The LGSP JSON profile: OAuth2 client credentials, then JSON whose ``message`` wraps SOAP XML.

The token is cached and shared by concurrent look-ups; it is fetched again
``token_refresh_margin_seconds`` before it expires, and once more when the look-up answers 401
(the platform may revoke tokens early). A second 401 is the gateway's own credentials failing:
:class:`~gateway.errors.PeerAuthError`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from gateway.connectors._http import status_error
from gateway.connectors.population._bounded import BoundedTransport
from gateway.connectors.population.base import (
    SYSTEM,
    LookupRequest,
    fault_error,
    reply_from,
    translated,
)
from gateway.connectors.population.config import PopulationConfig
from gateway.errors import PeerAuthError, PeerReplyError, PermanentPeerError
from gateway.mappers.citizen_xml import CitizenReply

__all__ = ["LgspConnector"]

_OPERATION = "TraCuuThongTinCongDan"
_TOKEN = "token"  # noqa: S105 - an operation name, not a secret


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    refresh_at: float  # monotonic seconds


class LgspConnector:
    """Look-ups through the province's data-sharing platform (LGSP).

    ``transport`` replaces the network (tests and the simulator); ``clock`` is monotonic
    seconds, injectable so token expiry is tested without waiting.
    """

    profile = "lgsp"

    def __init__(
        self,
        config: PopulationConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if config.client_id is None or config.client_secret is None:
            raise ValueError("the lgsp profile needs client_id and client_secret")
        self._config = config
        self._clock = clock
        self._auth = (config.client_id, config.client_secret.get_secret_value())
        inner = transport if transport is not None else httpx.AsyncHTTPTransport()
        self._http = httpx.AsyncClient(
            base_url=config.base_url,
            transport=BoundedTransport(inner, config.max_reply_bytes),
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout),
        )
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()
        self.token_fetches = 0
        """How many tokens were fetched (for tests and health pages)."""

    async def look_up(self, request: LookupRequest) -> CitizenReply:
        """Ask the database about one person (see :class:`LookupRequest`)."""
        async with translated(_OPERATION, total_timeout=self._config.total_timeout):
            token = await self._current_token()
            response = await self._post(request, token)
            if response.status_code == 401:
                # The platform may revoke a token before its stated expiry: fetch one more.
                token = await self._current_token(stale=token)
                response = await self._post(request, token)
                if response.status_code == 401:
                    raise PeerAuthError(
                        "the look-up refused a fresh token",
                        system=SYSTEM,
                        operation=_OPERATION,
                        status=401,
                    )
            return self._read(response)

    async def _post(self, request: LookupRequest, token: str) -> httpx.Response:
        c = self._config
        body = {
            "HoVaTen": request.full_name,
            "SoDinhDanh": request.id_number,
            "SoCMND": request.old_id_number or "",
            "NgayThangNam": request.birth_date or "",
            "Nam": str(request.birth_year),
            "MaTichHop": c.integration_code,
            "MaDVC": c.service_code,
            "MaCanBo": c.officer_code,
            "MaYeuCau": request.request_id,
        }
        return await self._http.post(
            c.lookup_path,
            content=orjson.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )

    def _read(self, response: httpx.Response) -> CitizenReply:
        failure = status_error(response, system=SYSTEM, operation=_OPERATION, writes=False)
        if failure is not None:
            raise failure
        payload = _json_object(response.content, operation=_OPERATION)
        code = str(payload.get("error_code", "")).strip()
        if code in self._config.not_found_codes:
            return CitizenReply()
        if code not in self._config.ok_codes:
            raise PermanentPeerError(
                "the look-up was refused",
                system=SYSTEM,
                operation=_OPERATION,
                status=response.status_code,
                peer_code=code or None,
            )
        message = payload.get("message")
        if not isinstance(message, str):
            raise PeerReplyError("reply_message", system=SYSTEM, operation=_OPERATION)
        reply = reply_from(
            message.encode("utf-8"),
            operation=_OPERATION,
            namespace=self._config.reply_namespace,
            max_bytes=self._config.max_reply_bytes,
        )
        if reply.fault_code is not None:
            raise fault_error(reply.fault_code, operation=_OPERATION, status=response.status_code)
        return reply

    async def _current_token(self, *, stale: str | None = None) -> str:
        """A valid token; ``stale`` names one the peer just refused, so it is not reused."""
        async with self._token_lock:
            token = self._token
            if token is not None and token.value != stale and self._clock() < token.refresh_at:
                return token.value
            self._token = await self._fetch_token()
            return self._token.value

    async def _fetch_token(self) -> _Token:
        started = self._clock()
        response = await self._http.post(
            self._config.token_path,
            data={"grant_type": "client_credentials"},
            auth=self._auth,
        )
        self.token_fetches += 1
        if response.status_code in (400, 401, 403):
            # RFC 6749 §5.2: invalid_client and friends are 400/401: our credentials.
            raise PeerAuthError(
                "the token endpoint refused the gateway's client credentials",
                system=SYSTEM,
                operation=_TOKEN,
                status=response.status_code,
            )
        failure = status_error(response, system=SYSTEM, operation=_TOKEN, writes=False)
        if failure is not None:
            raise failure
        payload = _json_object(response.content, operation=_TOKEN)
        value = payload.get("access_token")
        lifetime = payload.get("expires_in", 3600)
        if not isinstance(value, str) or not value:
            raise PeerReplyError("token_missing", system=SYSTEM, operation=_TOKEN)
        try:
            seconds = float(lifetime)
        except (TypeError, ValueError):
            raise PeerReplyError("token_expires_in", system=SYSTEM, operation=_TOKEN) from None
        margin = min(self._config.token_refresh_margin_seconds, seconds / 2)
        return _Token(value, started + seconds - margin)

    def invalidate_token(self) -> None:
        """Forget the cached token (the next look-up fetches one)."""
        self._token = None

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()


def _json_object(content: bytes, *, operation: str) -> dict[str, Any]:
    try:
        payload = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise PeerReplyError("reply_json", system=SYSTEM, operation=operation) from None
    if not isinstance(payload, dict):
        raise PeerReplyError("reply_json", system=SYSTEM, operation=operation)
    return payload
