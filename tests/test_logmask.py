"""The log filter that keeps ID numbers and names out of ordinary logs."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from gateway.logmask import MaskingFilter, install, mask_text, sensitive


def test_masks_digit_runs_keeping_the_last_three() -> None:
    """9 to 12 digits are masked; shorter and longer runs (codes, ms timestamps) are kept."""
    assert mask_text("id 001090012345 cmnd 012345678") == "id *********345 cmnd *********678"
    assert mask_text("code 12345678 at 1796117330493") == "code 12345678 at 1796117330493"


def test_masks_names_in_xml_and_json() -> None:
    """Name elements (any prefix) and JSON name members are masked."""
    xml = "<ns0:HoVaTen>Nguyễn Văn An</ns0:HoVaTen><Ten a='1'>An</Ten><MaDVC>X</MaDVC>"
    assert mask_text(xml) == "<ns0:HoVaTen>***</ns0:HoVaTen><Ten a='1'>***</Ten><MaDVC>X</MaDVC>"
    assert mask_text('{"HoVaTen": "Nguyễn Văn An", "full_name":"A B"}') == (
        '{"HoVaTen": "***", "full_name":"***"}'
    )


def test_sensitive_values_are_masked_anywhere_inside_the_block() -> None:
    """A value registered with sensitive() is masked in free text, only inside the block."""
    with sensitive("Phạm Ngọc Hân", None):
        assert mask_text("hello Phạm Ngọc Hân!") == "hello ***!"
    assert mask_text("hello Phạm Ngọc Hân!") == "hello Phạm Ngọc Hân!"


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    log = logging.getLogger("test.logmask")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    yield log, stream
    log.removeHandler(handler)
    log.propagate = True


def test_filter_masks_arguments_and_tracebacks(logger: tuple[logging.Logger, io.StringIO]) -> None:
    """Arguments and exception text are masked; the record is kept."""
    log, stream = logger
    install(log)
    install(log)  # idempotent: one filter per handler
    assert sum(isinstance(f, MaskingFilter) for f in log.handlers[0].filters) == 1
    log.info("look-up %s for %s", "001090012345", "x")
    try:
        raise ValueError("bad 079301004567")
    except ValueError:
        log.exception("failed")
    out = stream.getvalue()
    assert "001090012345" not in out
    assert "079301004567" not in out
    assert "*********345" in out
    assert "*********567" in out
    assert "Traceback" in out


def test_sensitive_values_are_masked_in_bytes_reprs() -> None:
    """A name logged inside a bytes repr (as zeep does) is masked in its escaped form too."""
    logged = repr("<x>Trần Thị Cúc</x>".encode())
    with sensitive("Trần Thị Cúc"):
        assert "Tr" not in mask_text(logged)
