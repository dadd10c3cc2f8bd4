"""open_redis: external URL, embedded redis-server child, or the in-memory fallback."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from gateway.errors import ConfigurationError
from gateway.runtime import MEMORY_URL, RedisServer, find_redis_server, open_redis


def _no_binary() -> str | None:
    return None


def test_explicit_url_opens_that_server_and_close_leaves_it_running(
    redis_server: RedisServer, redis_url: str, tmp_path: Path
) -> None:
    """With a URL the handle is external and durable, and close() does not stop that server."""
    with open_redis(redis_url, tmp_path) as handle:
        assert handle.kind == "external"
        assert handle.durable is True
        assert handle.server is None
        handle.client.set("k", "v")
    assert redis_server.running
    assert not (tmp_path / "redis").exists()


def test_unreachable_url_is_a_configuration_error(tmp_path: Path) -> None:
    """A URL nothing answers on raises ConfigurationError naming the address."""
    url = f"unix://{tmp_path}/nothing.sock"
    with pytest.raises(ConfigurationError, match=r"cannot reach Redis at unix://.*nothing\.sock"):
        open_redis(url, tmp_path)


def test_error_messages_hide_the_url_password(tmp_path: Path) -> None:
    """A password in the URL is not repeated in the error message."""
    url = f"unix://:s3cret@{tmp_path}/nothing.sock?password=s3cret"
    with pytest.raises(ConfigurationError) as info:
        open_redis(url, tmp_path)
    assert "s3cret" not in str(info.value)


def test_invalid_url_is_a_configuration_error(tmp_path: Path) -> None:
    """A URL with an unknown scheme raises ConfigurationError, not ValueError."""
    with pytest.raises(ConfigurationError, match="invalid Redis URL"):
        open_redis("http://example.invalid/", tmp_path)


def test_no_url_starts_an_embedded_server_under_data_dir(tmp_path: Path) -> None:
    """Without a URL a durable redis-server child serves data_dir/redis; close() reaps it."""
    handle = open_redis(None, tmp_path)
    try:
        assert handle.kind == "embedded"
        assert handle.durable is True
        assert handle.url == f"unix://{tmp_path}/redis/redis.sock"
        assert handle.client.ping() is True
    finally:
        handle.close()
    assert handle.server is not None
    assert handle.server.process is not None
    assert handle.server.process.poll() is not None


def test_embedded_data_survives_reopening(tmp_path: Path) -> None:
    """What one embedded handle wrote, the next one on the same data_dir reads."""
    with open_redis(None, tmp_path, appendfsync="always") as handle:
        handle.client.set("delivery:7", "queued")
    with open_redis(None, tmp_path) as handle:
        assert handle.client.get("delivery:7") == b"queued"


def test_no_binary_falls_back_to_memory_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a binary the handle is in-memory, not durable, runs Lua, and says so loudly."""
    with caplog.at_level(logging.WARNING, logger="gateway.runtime"):
        handle = open_redis(None, tmp_path, find_binary=_no_binary)
    with handle:
        assert handle.kind == "memory"
        assert handle.durable is False
        assert handle.url == MEMORY_URL
        assert handle.client.eval("return redis.call('incr', KEYS[1])", 1, "n") == 1
    [record] = [r for r in caplog.records if r.name == "gateway.runtime"]
    assert record.levelno == logging.WARNING
    assert "LOST" in record.getMessage()
    assert not (tmp_path / "redis").exists()


def test_no_binary_without_fallback_is_a_configuration_error(tmp_path: Path) -> None:
    """With fallback off, a missing binary and no URL refuse to start."""
    with pytest.raises(ConfigurationError, match="redis-server is not installed"):
        open_redis(None, tmp_path, allow_fallback=False, find_binary=_no_binary)


def test_memory_fallback_without_lupa_names_lupa(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If lupa cannot be imported, the fallback refuses to start and names the package."""
    monkeypatch.setitem(sys.modules, "lupa", None)
    with pytest.raises(ConfigurationError, match="'lupa'"):
        open_redis(None, tmp_path, find_binary=_no_binary)


def test_default_finder_finds_the_installed_binary() -> None:
    """find_redis_server() returns an absolute path when redis-server is on PATH."""
    found = find_redis_server()
    assert found is not None
    assert Path(found).is_absolute()
