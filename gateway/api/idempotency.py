"""``Idempotency-Key`` for the native write endpoints (IETF draft-ietf-httpapi-idempotency-key).

- no key → 400; a key used with another request (method, path or body) → 422;
- a key whose first request is still being processed → 409;
- a key whose first request finished → that response again (status and body), with
  ``Idempotent-Replayed: true``.

State lives in Redis under ``<ns>:idem:<client>:<key>``: first an in-flight marker set with
``SET NX`` (so exactly one request wins), then the final response, kept for
``intake.idempotency_ttl_seconds``. If processing raises, the marker is removed so the client may
retry with the same key. The in-flight marker has a short TTL of its own, so a process that dies
mid-request does not block the key for a day.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import redis
from fastapi import Request
from fastapi.responses import Response

from gateway.api.problems import Problem
from gateway.config import ClientConfig
from gateway.service import GatewayService

__all__ = [
    "HEADER",
    "REPLAYED_HEADER",
    "Claim",
    "IdempotencyStore",
    "StoredResponse",
    "idempotent",
]

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IN_FLIGHT_TTL_SECONDS = 300

# Settle a claim only while it is still ours (or lapsed with nobody else holding the key): a
# request slower than the in-flight TTL must not overwrite the request that took the key over.
_SETTLE = """
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] and current ~= false then return 0 end
if ARGV[2] == '' then
  if current then redis.call('DEL', KEYS[1]) end
else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return 1
"""
_KEY_SHAPE = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True, slots=True)
class Claim:
    """This request holds the key: ``marker`` is the exact in-flight value it wrote."""

    marker: bytes


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response worth remembering: status, JSON body bytes, media type, extra headers."""

    status: int
    body: bytes
    media_type: str = "application/json"
    location: str | None = None

    def response(self, *, replayed: bool = False) -> Response:
        """This response, marked as a replay when it is one."""
        headers = {REPLAYED_HEADER: "true"} if replayed else {}
        if self.location:
            headers["Location"] = self.location
        return Response(self.body, self.status, headers=headers, media_type=self.media_type)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request fingerprint a key is bound to: method, path and the exact body bytes."""
    h = hashlib.sha256()
    h.update(f"{method} {path}\n".encode())
    h.update(body)
    return h.hexdigest()


def key_from(request: Request) -> str:
    """The request's idempotency key; 400 problem if missing or malformed.

    The draft defines the header as a structured-field string (``"abc"``); bare tokens are
    accepted too, since most clients send them that way.
    """
    values = request.headers.getlist(HEADER)
    if len(values) > 1:
        # Which one the client meant is a guess; the first would be taken silently.
        raise Problem(
            400,
            f"{len(values)} {HEADER} headers; send exactly one",
            kind="idempotency-key-repeated",
        )
    raw = values[0] if values else None
    if raw is None:
        raise Problem(
            400, f"the {HEADER} header is required on this endpoint", kind="idempotency-key-missing"
        )
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not _KEY_SHAPE.match(key):
        raise Problem(
            400, f"{HEADER} must be 1-255 visible ASCII characters", kind="idempotency-key-invalid"
        )
    return key


class IdempotencyStore:
    """Redis-backed idempotency records of one gateway (see the module docstring)."""

    def __init__(self, client: redis.Redis, *, namespace: str, ttl_seconds: int) -> None:
        self._redis = client
        self._ns = namespace
        self._ttl = ttl_seconds

    def _key(self, client_id: str, key: str) -> str:
        return f"{self._ns}:idem:{client_id}:{key}"

    def begin(self, client_id: str, key: str, fp: str) -> Claim | StoredResponse:
        """Claim ``key`` for this request, or the stored response to replay.

        Raises a 422 problem if the key belongs to another request and a 409 problem if the
        first request with this key is still in flight.
        """
        rkey = self._key(client_id, key)
        marker = orjson.dumps({"state": "in_flight", "fp": fp, "owner": secrets.token_hex(8)})
        for _ in range(3):
            if self._redis.set(rkey, marker, nx=True, ex=min(IN_FLIGHT_TTL_SECONDS, self._ttl)):
                return Claim(marker)
            raw = self._redis.get(rkey)
            if raw is None:
                continue  # expired between SET NX and GET: try to claim it again
            if raw == marker:
                # Ours: the SET ran, its reply was lost (the client's socket timeout) and
                # redis-py sent it again, which found the key. The owner token is new per call.
                return Claim(marker)
            stored = orjson.loads(raw)
            if stored.get("fp") != fp:
                raise Problem(
                    422,
                    f"this {HEADER} was already used for a different request;"
                    " use a new key for a new request",
                    kind="idempotency-key-reused",
                )
            if stored.get("state") != "done":
                raise Problem(
                    409,
                    f"a request with this {HEADER} is still being processed; retry later",
                    kind="idempotency-in-flight",
                    headers={"Retry-After": "1"},
                )
            return StoredResponse(
                int(stored["status"]),
                stored["body"].encode(),
                stored.get("media_type", "application/json"),
                stored.get("location"),
            )
        raise Problem(
            409,
            f"could not claim this {HEADER}; retry later",
            kind="idempotency-in-flight",
            headers={"Retry-After": "1"},
        )

    def finish(
        self, client_id: str, key: str, fp: str, claim: Claim, response: StoredResponse
    ) -> bool:
        """Remember the final response of the request holding ``claim``; False if it lost it."""
        record = {
            "state": "done",
            "fp": fp,
            "status": response.status,
            "body": response.body.decode(),
            "media_type": response.media_type,
            "location": response.location,
        }
        return self._settle(client_id, key, claim, orjson.dumps(record))

    def abandon(self, client_id: str, key: str, claim: Claim) -> bool:
        """Forget a claim whose processing failed, so the key can be used again."""
        return self._settle(client_id, key, claim, b"")

    def _settle(self, client_id: str, key: str, claim: Claim, value: bytes) -> bool:
        done = self._redis.eval(
            _SETTLE, 1, self._key(client_id, key), claim.marker, value, self._ttl
        )
        return bool(done)


def idempotent(
    request: Request,
    body: bytes,
    client: ClientConfig,
    gateway: GatewayService,
    process: Callable[[], StoredResponse],
) -> Response:
    """Run ``process`` at most once per (client, key, request); replay its response after.

    ``process`` may raise (a :class:`Problem` for bad input, or any error): nothing is stored
    then and the key is released.
    """
    key = key_from(request)
    store = IdempotencyStore(
        gateway.client,
        namespace=gateway.settings.namespace,
        ttl_seconds=gateway.settings.intake.idempotency_ttl_seconds,
    )
    fp = fingerprint(request.method, request.url.path, body)
    claim = store.begin(client.id, key, fp)
    if isinstance(claim, StoredResponse):
        return claim.response(replayed=True)
    try:
        result = process()
    except BaseException:
        store.abandon(client.id, key, claim)
        raise
    store.finish(client.id, key, fp, claim, result)
    return result.response()
