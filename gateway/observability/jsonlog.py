"""Structured logs: one JSON object per line, with the correlation id, masked by one filter.

The standard library's logging is enough (no structlog): :class:`JsonFormatter` renders a record
after :class:`~gateway.logmask.MaskingFilter` has rewritten its message and traceback, so the
one masking processor sees everything that is written, JSON or plain.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import IO

import orjson

from gateway import logmask
from gateway.observability.correlation import current

__all__ = ["JsonFormatter", "configure"]


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "cid"?, "exc"?}`` per line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        cid = getattr(record, "cid", None) or current()
        if cid:
            doc["cid"] = cid
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exc"] = record.exc_text
        return orjson.dumps(doc).decode()


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]  # the stream's type is IO[str]
    """Marks the handler :func:`configure` installed, so a second call replaces it."""


def configure(level: int, *, json: bool, stream: IO[str] | None = None) -> logging.Handler:
    """Log to ``stream`` (stderr) at ``level``, as JSON lines or plain text, always masked.

    Replaces the handler an earlier call installed (the root logger is process-global).
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    handler = _Handler(stream or sys.stderr)
    if json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(logmask.MaskingFilter())
    root.setLevel(level)
    root.addHandler(handler)
    return handler
