"""A check that logs hold no ID number or secret: for a test suite's whole run.

:class:`LeakWatch` is a logging handler for the root logger. It renders every record the way the
gateway's own handlers do (after :class:`~gateway.logmask.MaskingFilter`, on a copy, so other
handlers see the record untouched) and remembers every rendering that still holds:

- a value :meth:`LeakWatch.forbid` was given: every ``SecretStr`` built while the watch runs
  (:func:`watch_secrets`: passwords, API keys, webhook and provider secrets), every token drawn
  from ``secrets.token_urlsafe`` or ``secrets.token_hex`` (:func:`watch_tokens`: sessions, CSRF
  tokens, the simulators' access tokens), and the ID numbers and names of the test citizens
  (:func:`citizens`);
- a 9- or 12-digit run (an old ID card or a personal ID number), a bearer credential or a
  ``whsec_`` webhook secret that the mask left in place.

Reports never repeat the value found: only its kind, its first two characters and the record's
logger, level and position.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import SecretStr

from gateway.logmask import MaskingFilter

__all__ = ["Leak", "LeakWatch", "citizens", "watch_secrets", "watch_tokens"]

_MIN_LEN = 6
"""Shorter forbidden values (the tests' "k1" API keys) would match ordinary text."""
_PATTERNS = {
    "12-digit ID number": re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])"),
    "9-digit ID number": re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])"),
    "bearer credential": re.compile(r"Bearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE),
    "webhook secret": re.compile(r"whsec_[A-Za-z0-9+/=]{6,}"),
}


@dataclass(frozen=True, slots=True)
class Leak:
    """One forbidden value found in one rendered record."""

    test: str
    kind: str
    hint: str
    logger: str
    level: str
    where: str

    def __str__(self) -> str:
        return (
            f"{self.test}: {self.kind} ({self.hint}…) in a {self.level} record of"
            f" {self.logger!r} at {self.where}"
        )


class LeakWatch(logging.Handler):
    """Remembers records whose masked rendering still holds a forbidden value (thread-safe)."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self._mask = MaskingFilter()
        self._forbidden: dict[str, str] = {}
        self._leaks: list[Leak] = []
        self._guard = threading.Lock()
        self.test = ""
        """The test now running, named in the leaks found."""
        self.records = 0

    def forbid(self, value: str, kind: str) -> None:
        """Report ``value`` wherever it appears from now on (ignored when too short)."""
        if len(value) >= _MIN_LEN:
            with self._guard:
                self._forbidden.setdefault(value, kind)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            copy = logging.makeLogRecord(dict(record.__dict__))
            self._mask.filter(copy)
            text = self.format(copy)
        except Exception:  # a record that cannot render is not ours to judge; never raise here
            return
        with self._guard:
            self.records += 1
            forbidden = list(self._forbidden.items())
        found = [(kind, value) for value, kind in forbidden if value in text]
        for kind, pattern in _PATTERNS.items():
            found += [(kind, m.group(0)) for m in pattern.finditer(text)]
        if not found:
            return
        where = f"{record.pathname}:{record.lineno}"
        with self._guard:
            for kind, value in found:
                self._leaks.append(
                    Leak(self.test, kind, value[:2], record.name, record.levelname, where)
                )

    def leaks(self, test: str | None = None) -> list[Leak]:
        """The leaks found (of ``test`` only, if given)."""
        with self._guard:
            return [x for x in self._leaks if test is None or x.test == test]

    def take(self, test: str) -> list[Leak]:
        """The leaks of ``test``, forgotten (a test that plants a leak on purpose)."""
        with self._guard:
            mine = [x for x in self._leaks if x.test == test]
            self._leaks = [x for x in self._leaks if x.test != test]
            return mine


@contextmanager
def watch_secrets(watch: LeakWatch) -> Iterator[None]:
    """Forbid, in ``watch``, the value of every ``SecretStr`` built inside the block."""
    original: Any = SecretStr.__init__

    def init(self: SecretStr, secret_value: str) -> None:
        original(self, secret_value)
        if isinstance(secret_value, str):
            watch.forbid(secret_value, "configured secret")

    SecretStr.__init__ = init  # type: ignore[method-assign,assignment]  # a test-session hook, undone below
    try:
        yield
    finally:
        SecretStr.__init__ = original  # type: ignore[method-assign]  # restoring the original


@contextmanager
def watch_tokens(watch: LeakWatch) -> Iterator[None]:
    """Forbid, in ``watch``, every token drawn from :mod:`secrets` inside the block (the
    gateway's session and CSRF tokens, the simulators' access and session tokens)."""
    urlsafe, hexed = secrets.token_urlsafe, secrets.token_hex

    def token_urlsafe(nbytes: int | None = None) -> str:
        value = urlsafe(nbytes)
        watch.forbid(value, "issued token")
        return value

    def token_hex(nbytes: int | None = None) -> str:
        value = hexed(nbytes)
        watch.forbid(value, "issued token")
        return value

    secrets.token_urlsafe, secrets.token_hex = token_urlsafe, token_hex
    try:
        yield
    finally:
        secrets.token_urlsafe, secrets.token_hex = urlsafe, hexed


def citizens(path: Path) -> Iterable[tuple[str, str]]:
    """``(value, kind)`` of the ID numbers and full names in a population seed file."""
    for c in orjson.loads(path.read_bytes()):
        for field in ("SoDinhDanh", "SoCMND"):
            if c.get(field):
                yield str(c[field]), f"test citizen's {field}"
        name = c.get("HoVaTen") or {}
        if isinstance(name, dict):
            full = " ".join(str(name[k]) for k in ("Ho", "ChuDem", "Ten") if name.get(k))
            if full:
                yield full, "test citizen's name"
