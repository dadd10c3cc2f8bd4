"""Process-level plumbing the gateway needs to run: the Redis it queues on, the collector.

Import from here, not from the submodules: ``RedisServer`` runs a private ``redis-server`` child,
``open_redis`` picks the Redis to use (external URL, embedded child, or in-memory fallback).
"""

from gateway.runtime.collector import tune_collector
from gateway.runtime.redis_server import AppendFsync, RedisServer, find_redis_server
from gateway.runtime.store import MEMORY_URL, RedisHandle, RedisKind, open_redis

__all__ = [
    "MEMORY_URL",
    "AppendFsync",
    "RedisHandle",
    "RedisKind",
    "RedisServer",
    "find_redis_server",
    "open_redis",
    "tune_collector",
]
