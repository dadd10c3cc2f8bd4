"""The correlation id of the work in hand: set at the intake, stored with each item, sent on.

One context variable holds it. The intake middleware sets it from the caller's
``X-Correlation-ID`` (or a new one); the delivery side sets it around each peer call from the
items' stored ``cid``; the audit transport puts it on the outbound request's headers and in the
audit entry; :class:`~gateway.observability.jsonlog.JsonFormatter` writes it on every log line.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["HEADER", "bind", "current", "new_cid", "valid_cid"]

HEADER = "X-Correlation-ID"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_cid: ContextVar[str | None] = ContextVar("gateway_correlation_id", default=None)


def new_cid() -> str:
    """A fresh correlation id (32 hex digits)."""
    return uuid.uuid4().hex


def valid_cid(value: str | None) -> str | None:
    """``value`` if it is a usable id (1-64 of ``A-Z a-z 0-9 . _ : -``), else None.

    A caller's id ends up in headers, logs and Redis: anything else is replaced, never echoed.
    """
    return value if value is not None and _VALID.match(value) else None


def current() -> str | None:
    """The correlation id of this task, if one is bound."""
    return _cid.get()


@contextmanager
def bind(cid: str | None) -> Iterator[None]:
    """Make ``cid`` the current correlation id inside the block."""
    token = _cid.set(cid)
    try:
        yield
    finally:
        _cid.reset(token)
