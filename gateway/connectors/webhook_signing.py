"""Standard Webhooks signatures (placeholder until the sandbox branch's module lands)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Sequence

__all__ = ["new_secret", "sign", "signature_header"]

_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh random secret in the ``whsec_<base64>`` form."""
    return _PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    raw = secret[len(_PREFIX) :] if secret.startswith(_PREFIX) else secret
    return base64.b64decode(raw)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature over ``id.timestamp.body``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: one signature per secret (two during rotation)."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)
