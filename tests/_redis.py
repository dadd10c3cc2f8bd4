"""Typed reads from the tests' bytes-mode Redis clients.

redis-py types each reply for both decode modes (and for the async client), so ``keys`` is
``bytes | str`` and ``xrange`` may be ``None``; a client made without ``decode_responses``
returns bytes, which these helpers state once instead of at every call.
"""

from __future__ import annotations

from typing import cast

import redis

StreamEntry = tuple[bytes, dict[bytes, bytes]]


def key_names(client: redis.Redis, pattern: str) -> list[str]:
    """The keys matching ``pattern``, decoded."""
    return [k.decode() for k in cast("list[bytes]", client.keys(pattern))]


def hget(client: redis.Redis, name: str, key: str) -> bytes | None:
    """One hash field, as bytes."""
    return cast("bytes | None", client.hget(name, key))


def xrange(client: redis.Redis, key: str) -> list[StreamEntry]:
    """Every entry of a stream, oldest first: ``(stream id, fields)``."""
    return cast("list[StreamEntry]", client.xrange(key))
