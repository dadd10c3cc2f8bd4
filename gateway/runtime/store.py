"""Choose and open the Redis the gateway queues on: external URL, embedded child, or memory."""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

import redis

from gateway.errors import ConfigurationError
from gateway.runtime.redis_server import AppendFsync, RedisServer, find_redis_server

__all__ = ["MEMORY_URL", "RedisHandle", "RedisKind", "open_redis"]

RedisKind = Literal["external", "embedded", "memory"]

#: The ``url`` of a memory-only handle; no client can connect to it.
MEMORY_URL = "memory://"

_log = logging.getLogger("gateway.runtime")


@dataclass(slots=True)
class RedisHandle:
    """An open Redis and what it is: ``kind``, and whether its data outlives this process.

    ``client`` returns bytes (``decode_responses`` is off, as dramatiq expects). ``durable`` is
    False only for the in-memory fallback; an external server is trusted to persist its data.
    ``server`` is the embedded child, if any. ``close()`` closes the client and stops the child it
    owns (never an external server); it is also what leaving a ``with`` block does.
    """

    client: redis.Redis
    url: str = field(repr=False)  # may carry a password
    kind: RedisKind
    durable: bool
    server: RedisServer | None = None

    def close(self) -> None:
        """Close the client, then stop and reap the embedded server if this handle owns one."""
        try:
            self.client.close()
        finally:
            if self.server is not None:
                self.server.stop()

    def __enter__(self) -> RedisHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_redis(
    url: str | None,
    data_dir: Path,
    *,
    allow_fallback: bool = True,
    appendfsync: AppendFsync = "everysec",
    find_binary: Callable[[], str | None] = find_redis_server,
    timeout: float | None = None,
) -> RedisHandle:
    """Open the Redis the gateway should use and check that it answers.

    With ``url``: that server, PINGed once. Without: a ``redis-server`` child under
    ``data_dir/redis`` (``appendfsync`` applies to it); if ``find_binary`` finds no binary and
    ``allow_fallback`` is true, an in-memory fakeredis that loses everything on restart (logged
    as a WARNING on ``gateway.runtime``). Raises ``ConfigurationError`` when the URL is invalid or
    unreachable, when the child does not start, when no binary exists and fallback is off, or when
    the fallback cannot run Lua (``lupa`` missing).
    """
    if url is not None:
        return _open_external(url, timeout)
    binary = find_binary()
    if binary is not None:
        server = RedisServer(data_dir / "redis", appendfsync=appendfsync, binary=binary)
        server.start()
        client = redis.Redis(unix_socket_path=str(server.socket_path), socket_timeout=timeout)
        return RedisHandle(client, server.url, "embedded", durable=True, server=server)
    if not allow_fallback:
        raise ConfigurationError(
            "no Redis URL is configured and redis-server is not installed: "
            "set a Redis URL or install redis-server (apt-get install redis-server)"
        )
    return _open_memory()


def _open_external(url: str, timeout: float | None) -> RedisHandle:
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    except ValueError as exc:
        raise ConfigurationError(f"invalid Redis URL {_redact(url)!r}: {exc}") from exc
    try:
        client.ping()
    except redis.RedisError as exc:
        # A connection that timed out mid-handshake is not back in the pool: close() alone
        # leaves its socket open.
        client.connection_pool.disconnect(inuse_connections=True)
        client.close()
        raise ConfigurationError(f"cannot reach Redis at {_redact(url)}: {exc}") from exc
    return RedisHandle(client, url, "external", durable=True)


def _open_memory() -> RedisHandle:
    # dramatiq enqueues and acks through Lua scripts; fakeredis runs them only with lupa, and
    # without it the first send fails deep inside a worker instead of here.
    try:
        importlib.import_module("lupa")
    except ImportError as exc:
        raise ConfigurationError(
            "the in-memory Redis fallback needs the 'lupa' package for Lua scripting: "
            "install lupa, install redis-server, or set a Redis URL"
        ) from exc
    # Imported here because only the fallback needs it.
    import fakeredis

    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    try:
        client.eval("return 1", 0)
    except redis.RedisError as exc:
        raise ConfigurationError(
            f"the in-memory Redis fallback cannot run Lua scripts (is 'lupa' working?): {exc}"
        ) from exc
    _log.warning(
        "NO DURABLE STORE: no Redis URL is configured and redis-server is not installed, so the "
        "gateway runs on an in-memory Redis. Queued deliveries, idempotency keys and dead letters "
        "are LOST when the process stops. Install redis-server or set a Redis URL for production."
    )
    return RedisHandle(client, MEMORY_URL, "memory", durable=False)


def _redact(url: str) -> str:
    """The URL with any password replaced, fit for messages and logs."""
    url = re.sub(r"(//[^/@:]*):[^/@]*@", r"\1:***@", url)
    return re.sub(r"(password=)[^&]*", r"\1***", url)
