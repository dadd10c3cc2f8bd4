"""Console sessions: an HttpOnly, SameSite=Strict cookie naming a session kept in Redis.

The cookie holds a 256-bit random token; Redis holds only its SHA-256 (``<ns>:console:session:…``)
with the operator's client id, the session's CSRF token, and a digest of the browser it was
opened from (client address and User-Agent). A cookie presented by another client (another
address or browser) is refused, so a stolen cookie is not enough. Every form carries the CSRF
token, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import cast

import redis

__all__ = ["COOKIE", "ConsoleSession", "ConsoleSessions"]

COOKIE = "gw_console"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """An open console session: who, and the CSRF token its forms must carry."""

    client_id: str
    csrf: str

    def csrf_ok(self, given: str | None) -> bool:
        """True when ``given`` is this session's CSRF token (constant-time)."""
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


class ConsoleSessions:
    """Sessions of one namespace, each valid ``ttl_seconds`` from login."""

    def __init__(self, client: redis.Redis, namespace: str, *, ttl_seconds: int = 8 * 3600) -> None:
        self._redis = client
        self._ns = namespace
        self.ttl_seconds = ttl_seconds

    def _key(self, token: str) -> str:
        return f"{self._ns}:console:session:{_digest(token)}"

    @staticmethod
    def binding(address: str, user_agent: str) -> str:
        """What ties a session to the browser that opened it."""
        return _digest(f"{address}\n{user_agent}")

    def open(self, client_id: str, binding: str) -> str:
        """A new session for ``client_id``; returns the cookie's token."""
        token = secrets.token_urlsafe(32)
        fields = {"client": client_id, "csrf": secrets.token_urlsafe(32), "bind": binding}
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(self._key(token), mapping=fields)  # type: ignore[arg-type]  # str mapping is valid
        pipe.expire(self._key(token), self.ttl_seconds)
        pipe.execute()
        return token

    def get(self, token: str | None, binding: str) -> ConsoleSession | None:
        """The session of ``token`` if it exists and was opened by this browser."""
        if not token or len(token) > 256:
            return None
        raw = cast("dict[bytes, bytes]", self._redis.hgetall(self._key(token)))
        if not raw:
            return None
        f = {k.decode(): v.decode() for k, v in raw.items()}
        if not hmac.compare_digest(f.get("bind", "").encode(), binding.encode()):
            return None
        return ConsoleSession(f["client"], f["csrf"])

    def close(self, token: str | None) -> None:
        """End the session of ``token`` (logout)."""
        if token:
            self._redis.delete(self._key(token))
