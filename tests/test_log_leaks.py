"""The session-wide log leak watch (tests/conftest.py) is on, and it catches leaks."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from gateway.testing.logleaks import LeakWatch, watch_secrets

log = logging.getLogger("gateway.test.leaks")


def test_the_session_watch_is_on_the_root_logger(leak_watch: LeakWatch) -> None:
    assert leak_watch in logging.getLogger().handlers
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG


def test_the_session_watch_catches_a_planted_secret(
    leak_watch: LeakWatch, request: pytest.FixtureRequest
) -> None:
    """A SecretStr's value logged in free text (no key= the mask knows) is caught; the
    leak is then taken back so this test passes."""
    secret = SecretStr("planted-provider-hash-secret")
    log.warning("signing with %s", secret.get_secret_value())
    leaks = leak_watch.take(request.node.nodeid)
    assert [x.kind for x in leaks] == ["configured secret"]
    assert secret.get_secret_value() not in str(leaks[0])  # the report never repeats it
    assert leaks[0].logger == "gateway.test.leaks"


def test_a_test_citizens_name_and_an_id_the_mask_missed(
    leak_watch: LeakWatch, request: pytest.FixtureRequest
) -> None:
    log.info("applicant Nguyễn Văn An checked")  # a name in free text: the mask cannot know
    leaks = leak_watch.take(request.node.nodeid)
    assert [x.kind for x in leaks] == ["test citizen's name"]


def test_what_the_mask_covers_is_no_leak(
    leak_watch: LeakWatch, request: pytest.FixtureRequest
) -> None:
    log.info("look-up of 001090012345, password=hunter2hunter2, Bearer abcdefghijkl")
    log.info('{"HoVaTen": "Nguyễn Văn An"}')
    assert leak_watch.leaks(request.node.nodeid) == []


def test_a_private_watch_sees_what_the_mask_leaves() -> None:
    """The checker on its own: patterns after masking, forbidden values, nothing else."""
    watch = LeakWatch()
    logger = logging.getLogger("gateway.test.private")
    logger.addHandler(watch)
    logger.propagate = False
    try:
        with watch_secrets(watch):
            key = SecretStr("api-key-of-a-test")
        logger.error("client authenticated with api-key-of-a-test")
        logger.error("all fine, dossier 000.00.01.H22-250101-0001")
        with watch_secrets(watch):
            pass
        kinds = [x.kind for x in watch.leaks()]
    finally:
        logger.removeHandler(watch)
        logger.propagate = True
    assert key.get_secret_value() == "api-key-of-a-test"
    assert kinds == ["configured secret"]
    assert watch.records == 2


def test_an_issued_token_in_free_text_is_caught(
    leak_watch: LeakWatch, request: pytest.FixtureRequest
) -> None:
    """A session token (secrets.token_urlsafe) logged as is: caught."""
    import secrets

    token = secrets.token_urlsafe(32)
    log.info("opened session %s", token)
    assert [x.kind for x in leak_watch.take(request.node.nodeid)] == ["issued token"]
