"""Structured logs: one JSON object per line, with the correlation id, masked by logmask."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from gateway.observability import bind, configure


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """A JSON handler on the root logger writing to a buffer; removed afterwards."""
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure(logging.INFO, json=True, stream=buffer)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_line_is_json_with_the_bound_correlation_id(stream: io.StringIO) -> None:
    """A record logged inside ``bind`` carries that id; outside it has none."""
    log = logging.getLogger("gateway.test")
    with bind("cid-42"):
        log.info("delivered %d records", 3)
    log.info("idle")
    first, second = _lines(stream)
    assert first["message"] == "delivered 3 records"
    assert first["cid"] == "cid-42"
    assert first["level"] == "info"
    assert first["logger"] == "gateway.test"
    assert "cid" not in second


def test_personal_data_and_secrets_are_masked(stream: io.StringIO) -> None:
    """ID numbers, names, passwords and bearer tokens never reach a JSON line, tracebacks too."""
    log = logging.getLogger("gateway.test")
    log.warning(
        'login {"username": "prov", "password": "hunter2-secret"} for 001090012345'
        " <HoVaTen>Nguyễn Văn An</HoVaTen> Authorization: Bearer prov-key-123"
    )
    try:
        raise ValueError("number 079123456789")
    except ValueError:
        log.exception("failed")
    text = stream.getvalue()
    for secret in ("hunter2-secret", "001090012345", "Nguyễn", "prov-key-123", "079123456789"):
        assert secret not in text
    lines = _lines(stream)
    assert "*********345" in str(lines[0]["message"])
    assert "ValueError" in str(lines[1]["exc"])


def test_configure_twice_keeps_one_handler(stream: io.StringIO) -> None:
    """Configuring again (the CLI runs main once per command) replaces the first handler."""
    other = io.StringIO()
    handler = configure(logging.INFO, json=True, stream=other)
    try:
        logging.getLogger("gateway.test").info("once")
        assert stream.getvalue() == ""
        assert len(other.getvalue().splitlines()) == 1
    finally:
        logging.getLogger().removeHandler(handler)
