"""Fixtures for the whole test suite.

Sections below are independent; add yours as a new section at the end (or in a conftest.py next
to the tests that need it) rather than editing another's.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from collections.abc import Iterator

import pytest
import redis

from gateway.runtime import RedisServer
from gateway.testing.logleaks import LeakWatch, citizens, watch_secrets, watch_tokens
from gateway.testing.population import DEFAULT_SEED

# --- Network guard ----------------------------------------------------------------------------
# No unit test may reach the network by accident (zeep's tests/conftest.py does the same for
# requests). Unix sockets stay open because Redis runs on one. A test marked
# ``@pytest.mark.network`` may connect to loopback addresses only, so a marked test still cannot
# reach a real national peer.

_INTERNET_FAMILIES = (socket.AF_INET, socket.AF_INET6)


def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) and address else None
    if not isinstance(host, str):
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@pytest.fixture(autouse=True)
def _guard_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make TCP/UDP connects fail the test unless it is marked ``network`` and stays on loopback."""
    marked = request.node.get_closest_marker("network") is not None
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def check(sock: socket.socket, address: object) -> None:
        if sock.family not in _INTERNET_FAMILIES:
            return
        if marked and _is_loopback(address):
            return
        # pytest.fail raises a BaseException, so no `except Exception` retry loop can swallow it.
        if marked:
            pytest.fail(f"a network-marked test may only connect to loopback, not {address!r}")
        pytest.fail(
            f"test tried to connect to {address!r}: unit tests must not use the network. "
            "Mock the peer (respx), or mark a loopback-only test @pytest.mark.network."
        )

    def connect(self: socket.socket, address: object) -> None:
        check(self, address)
        real_connect(self, address)  # type: ignore[arg-type]  # any address, checked above

    def connect_ex(self: socket.socket, address: object) -> int:
        check(self, address)
        return real_connect_ex(self, address)  # type: ignore[arg-type]  # any address, checked above

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


# --- Redis ------------------------------------------------------------------------------------
# One real redis-server child per session (unix socket, no TCP port, so parallel sessions never
# collide); each test gets it empty.


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The session's redis-server; do not stop it or FLUSHALL it yourself."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client on the session's Redis, emptied (FLUSHALL) before the test."""
    client = redis.Redis(unix_socket_path=str(redis_server.socket_path))
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def redis_url(redis_client: redis.Redis, redis_server: RedisServer) -> str:
    """The session Redis' ``unix://`` URL, emptied before the test (via ``redis_client``)."""
    return redis_server.url


# --- Log leak watch ---------------------------------------------------------------------------
# Every log record of the whole run, rendered as the gateway's handlers render it (after the
# log mask), must hold no ID number and no secret: the ID numbers and names of the test
# citizens, every SecretStr value and secrets.token_* token made during the run, and any
# 9/12-digit run, bearer credential or whsec_ secret the mask left. A test whose records leak
# fails in its teardown, naming the kind, logger and source line (never the value).
# tests/test_log_leaks.py proves the watch is installed and catches planted leaks.

_LEAK_WATCH = LeakWatch()
_LEAK_STACK = contextlib.ExitStack()


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.addHandler(_LEAK_WATCH)
    # DEBUG: zeep logs whole envelopes and httpx every request there; a leak at DEBUG counts.
    root.setLevel(logging.DEBUG)
    _LEAK_STACK.enter_context(watch_secrets(_LEAK_WATCH))
    _LEAK_STACK.enter_context(watch_tokens(_LEAK_WATCH))
    for value, kind in citizens(DEFAULT_SEED):
        _LEAK_WATCH.forbid(value, kind)


def pytest_unconfigure(config: pytest.Config) -> None:
    _LEAK_STACK.close()
    logging.getLogger().removeHandler(_LEAK_WATCH)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _LEAK_WATCH.test = item.nodeid
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]  # pluggy's hookwrapper result
    if call.when != "teardown" or report.failed:
        return
    leaks = _LEAK_WATCH.leaks(item.nodeid)
    if leaks:
        report.outcome = "failed"
        report.longrepr = "log records leaked personal data or secrets:\n" + "\n".join(
            f"  {leak}" for leak in leaks[:20]
        )


@pytest.fixture
def leak_watch() -> LeakWatch:
    """The session's log leak watch (tests that plant a leak take it back with ``take``)."""
    return _LEAK_WATCH
