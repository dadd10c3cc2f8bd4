"""RedisServer: a private redis-server child on a unix socket."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest
import redis

from gateway.errors import ConfigurationError
from gateway.runtime import AppendFsync, RedisServer


def _client(server: RedisServer) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(server.socket_path))


def _script(tmp_path: Path, body: str) -> str:
    """An executable stand-in for redis-server."""
    path = tmp_path / "fake-redis-server"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_started_server_answers_ping_on_its_socket(tmp_path: Path) -> None:
    """After start() the server answers on data_dir/redis.sock and its URL names that socket."""
    with RedisServer(tmp_path) as server:
        client = _client(server)
        assert client.ping() is True
        client.close()
        assert server.socket_path == tmp_path / "redis.sock"
        assert server.url == f"unix://{tmp_path}/redis.sock"


@pytest.mark.parametrize("appendfsync", ["everysec", "always"])
def test_data_survives_a_stop_and_restart_on_the_same_dir(
    tmp_path: Path, appendfsync: AppendFsync
) -> None:
    """A key written before stop() is read back after a new server starts on the same dir."""
    with RedisServer(tmp_path, appendfsync=appendfsync) as first:
        client = _client(first)
        client.set("dossier:1", "received")
        client.close()
    with RedisServer(tmp_path) as second:
        client = _client(second)
        assert client.get("dossier:1") == b"received"
        client.close()


def test_stop_reaps_the_child(tmp_path: Path) -> None:
    """stop() leaves no running or zombie child behind."""
    server = RedisServer(tmp_path)
    server.start()
    process = server.process
    assert process is not None
    assert process.poll() is None
    server.stop()
    assert process.poll() is not None
    assert not server.running


def test_stop_twice_is_harmless(tmp_path: Path) -> None:
    """A second stop() (or one without start()) does nothing."""
    RedisServer(tmp_path).stop()
    with RedisServer(tmp_path) as server:
        pass
    server.stop()


def test_child_that_exits_at_start_raises_with_its_output(tmp_path: Path) -> None:
    """A child that dies before answering raises ConfigurationError carrying what it printed."""
    binary = _script(tmp_path, "echo 'FATAL CONFIG FILE ERROR' >&2; exit 3")
    server = RedisServer(tmp_path / "data", binary=binary)
    with pytest.raises(ConfigurationError, match=r"code 3(.|\n)*FATAL CONFIG FILE ERROR"):
        server.start()
    assert server.process is not None
    assert server.process.poll() == 3


def test_child_that_never_answers_times_out_and_is_reaped(tmp_path: Path) -> None:
    """A child that never answers PING is stopped, reaped, and reported within the timeout."""
    binary = _script(tmp_path, "exec sleep 30")
    server = RedisServer(tmp_path / "data", binary=binary, startup_timeout=0.2)
    with pytest.raises(ConfigurationError, match="did not answer PING"):
        server.start()
    assert server.process is not None
    assert server.process.poll() is not None


def test_binary_that_cannot_run_is_a_configuration_error(tmp_path: Path) -> None:
    """A binary that exists but cannot be executed raises ConfigurationError, not OSError."""
    binary = tmp_path / "not-executable"
    binary.write_text("")
    with pytest.raises(ConfigurationError, match="cannot run"):
        RedisServer(tmp_path / "data", binary=str(binary)).start()


def test_second_server_on_a_served_dir_is_refused(tmp_path: Path) -> None:
    """Starting a second server on a directory another one serves raises, and the first lives on."""
    with RedisServer(tmp_path) as first:
        with pytest.raises(ConfigurationError, match="already serves"):
            RedisServer(tmp_path).start()
        client = _client(first)
        assert client.ping() is True
        client.close()


def test_socket_path_too_long_is_refused(tmp_path: Path) -> None:
    """A data dir too deep for a unix socket path raises before any child starts."""
    server = RedisServer(tmp_path / ("d" * 120))
    with pytest.raises(ConfigurationError, match="longer than a unix socket allows"):
        server.start()
    assert server.process is None


def test_missing_binary_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no redis-server on PATH, start() says so instead of failing in Popen."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigurationError, match="redis-server was not found"):
        RedisServer(tmp_path).start()


def test_server_opens_no_tcp_port(redis_server: RedisServer) -> None:
    """The session server listens on its unix socket only (port 0)."""
    client = _client(redis_server)
    assert client.config_get("port") == {"port": "0"}
    client.close()


def test_network_guard_blocks_tcp_in_unmarked_tests() -> None:
    """An unmarked test that opens a TCP connection fails at connect, before any packet leaves."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(pytest.fail.Exception, match="must not use the network"),
    ):
        sock.connect(("127.0.0.1", 9))


@pytest.mark.network
def test_network_guard_lets_marked_tests_reach_loopback() -> None:
    """A test marked ``network`` may connect to a loopback listener."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        socket.create_connection(listener.getsockname()[:2], timeout=1).close()
