"""The provincial client most tests push as: ``prov``, every agency, a webhook at the receiver."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from gateway.config import ClientConfig

__all__ = ["HOOK_URL", "province_client"]

HOOK_URL = "http://hooks.test/hooks/prov"
"""Where ``prov``'s webhook points: a ``WebhookReceiver`` transport mounted for hooks.test."""


def province_client(secret: str, **extra: Any) -> ClientConfig:
    """Client ``prov`` (API key ``k1``, every agency) with a webhook signed by ``secret``;
    ``extra`` adds or replaces fields (a DVCQG login, say)."""
    fields: dict[str, Any] = {
        "id": "prov",
        "api_key": "k1",
        "agencies": frozenset({"*"}),
        "webhook_url": HOOK_URL,
        "webhook_secrets": (SecretStr(secret),),
    }
    return ClientConfig(**{**fields, **extra})
