"""One logging filter that keeps personal data out of ordinary logs (Decree 13/2023).

It masks, in every record's message, arguments and formatted traceback:

- runs of 9 to 12 digits (personal ID numbers, old ID card numbers, phone numbers), keeping the
  last three digits as :func:`~gateway.schemas.identifiers.mask_id` does;
- names in the shapes the gateway and its peers write them: XML elements ``HoVaTen``, ``Ho``,
  ``ChuDem``, ``Ten`` (any prefix, as zeep logs SOAP envelopes at DEBUG) and JSON members
  ``"HoVaTen"``, ``"full_name"`` …;
- secrets: the values of ``password``, ``api_key``, ``secret``, ``token``, ``session`` … (as
  JSON members, ``key=value`` or ``key: value``), bearer tokens and ``whsec_`` webhook secrets;
- any value registered for the current task with :func:`sensitive` (the look-up's name and
  number), wherever it appears.

The JSON log formatter (:mod:`gateway.observability.jsonlog`) renders records after this filter,
so this stays the one place that masks.

:func:`install` puts it on the root logger's handlers, where logging is configured (the CLI).
Capabilities that handle personal data wrap their work in :func:`sensitive`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["MaskingFilter", "install", "mask_text", "sensitive"]

_DIGITS = re.compile(r"(?<![0-9])[0-9]{6,9}([0-9]{3})(?![0-9])")
_NAME_TAGS = r"HoVaTen|Ho|ChuDem|Ten|TenCongDan|full_name"
_XML_NAME = re.compile(rf"(<(?:[\w.-]+:)?(?:{_NAME_TAGS})(?:\s[^>]*)?>)([^<]+)(<)")
_JSON_NAME = re.compile(rf"""(["'](?:{_NAME_TAGS})["']\s*:\s*["'])((?:[^"'\\]|\\.)*)(["'])""")
_SECRET_KEYS = r"password|passwd|api_key|apikey|secret|token|session|webhook_secrets?"  # noqa: S105 - key names, not a secret
_JSON_SECRET = re.compile(
    rf"""(["']?(?:{_SECRET_KEYS})["']?\s*[:=]\s*["']?)([^"'\s,&}}]+)""", re.IGNORECASE
)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_WHSEC = re.compile(r"whsec_[A-Za-z0-9+/=]+")
_MASK = "***"

_sensitive: ContextVar[tuple[str, ...]] = ContextVar("gateway_logmask_sensitive", default=())


@contextmanager
def sensitive(*values: str | None) -> Iterator[None]:
    """Mask ``values`` in every log record emitted by this task (and tasks it starts) inside."""
    extra = tuple(v for v in values if v and len(v) >= 2)
    token = _sensitive.set(_sensitive.get() + extra)
    try:
        yield
    finally:
        _sensitive.reset(token)


def mask_text(text: str) -> str:
    """``text`` with ID numbers, names and the current task's sensitive values masked."""
    for value in sorted(_sensitive.get(), key=len, reverse=True):
        text = text.replace(value, _MASK)
        # zeep logs bodies as bytes reprs, where "Nguyễn" reads "Nguy\xe1\xbb\x85n".
        escaped = repr(value.encode("utf-8"))[2:-1]
        if escaped != value:
            text = text.replace(escaped, _MASK)
    text = _XML_NAME.sub(rf"\1{_MASK}\3", text)
    text = _JSON_NAME.sub(rf"\1{_MASK}\3", text)
    text = _JSON_SECRET.sub(rf"\1{_MASK}", text)
    text = _BEARER.sub(rf"\1{_MASK}", text)
    text = _WHSEC.sub(_MASK, text)
    return _DIGITS.sub(r"*********\1", text)


class MaskingFilter(logging.Filter):
    """Rewrites each record in place to its masked message; never drops a record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = mask_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Put one :class:`MaskingFilter` on every handler of ``logger`` (the root by default).

    Idempotent. Handlers added later (a test's, uvicorn's own) need ``handler.addFilter``.
    """
    target = logger if logger is not None else logging.getLogger()
    for handler in target.handlers:
        for existing in handler.filters:
            if isinstance(existing, MaskingFilter):
                break
        else:
            handler.addFilter(MaskingFilter())
