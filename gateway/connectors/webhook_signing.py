"""Standard Webhooks signatures: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``.

The signed content is ``"<id>.<timestamp>.<body>"`` (the body's exact bytes), the signature
``v1,<base64 HMAC-SHA256>`` under a secret ``whsec_<base64 key>``. The signature header is a
space-separated list, so a sender holding two secrets during a rotation signs with both and a
receiver accepts a message that any of its secrets signed. Checked against the
``standardwebhooks`` reference library in the tests; hand-written here because that library
signs one secret at a time and only text bodies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
import time
from collections.abc import Mapping, Sequence

from gateway.errors import WebhookSignatureError

__all__ = [
    "ID_HEADER",
    "SECRET_PREFIX",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "new_secret",
    "sign",
    "signature_header",
    "signed_headers",
    "verify",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme's prefix, not a secret
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
_VERSION = "v1"
_KEY_BYTES = 32
# A header with more signatures than this is not a rotation, it is someone probing.
_MAX_SIGNATURES = 10


def new_secret() -> str:
    """A fresh random secret, ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(_KEY_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        # Some issuers drop base64 padding; b64decode ignores padding beyond what it needs.
        key = base64.b64decode(raw + "==", validate=False)
    except (binascii.Error, ValueError) as exc:
        raise WebhookSignatureError("bad_secret", "a secret is not whsec_<base64>") from exc
    if not key:
        raise WebhookSignatureError("bad_secret", "a secret is empty")
    return key


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature, ``v1,<base64>``, of ``body`` sent as ``msg_id`` at ``timestamp`` (s)."""
    digest = _digest(_key(secret), msg_id, timestamp, body)
    return f"{_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated."""
    if not secrets:
        raise WebhookSignatureError("bad_secret", "no secret to sign with")
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)


def signed_headers(
    secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers for one message."""
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(secrets, msg_id, timestamp, body),
    }


def _header(found: Mapping[str, str], name: str) -> str:
    for key, value in found.items():
        if key.lower() == name:
            return value
    raise WebhookSignatureError("missing_header", f"no {name} header")


def verify(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> None:
    """Raise :class:`WebhookSignatureError` unless one of ``secrets`` signed this message.

    The timestamp must lie within ``tolerance_seconds`` of ``now`` (default: the clock), either
    way, so a captured message cannot be replayed later. Header names are case-insensitive.
    Every comparison is constant-time.
    """
    msg_id = _header(headers, ID_HEADER)
    stamp = _header(headers, TIMESTAMP_HEADER)
    offered = _header(headers, SIGNATURE_HEADER)
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise WebhookSignatureError("bad_timestamp", "webhook-timestamp is not whole seconds")
    timestamp = int(stamp)
    current = time.time() if now is None else now
    if timestamp < current - tolerance_seconds:
        raise WebhookSignatureError("too_old", f"older than {tolerance_seconds} s")
    if timestamp > current + tolerance_seconds:
        raise WebhookSignatureError("too_new", f"more than {tolerance_seconds} s in the future")
    if not secrets:
        raise WebhookSignatureError("bad_secret", "no secret to verify with")
    expected = [_digest(_key(s), msg_id, timestamp, body) for s in secrets]
    candidates: list[bytes] = []
    for item in offered.split(" ")[:_MAX_SIGNATURES]:
        version, _, encoded = item.partition(",")
        if version != _VERSION:
            continue  # other schemes (v1a: asymmetric) may sit alongside; not ours
        try:
            candidates.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    # Compare against every candidate without stopping early, so timing says nothing of which.
    matched = False
    for want in expected:
        for got in candidates:
            matched |= hmac.compare_digest(want, got)
    if not matched:
        raise WebhookSignatureError("bad_signature", "no signature matches a known secret")
