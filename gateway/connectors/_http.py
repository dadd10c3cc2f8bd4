"""Failure classification shared by the JSON-over-HTTPS connectors.

Each function returns the exception to raise so the caller can write ``raise ... from exc`` at the
boundary and keep the traceback of the httpx failure.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

import httpx

from gateway.errors import ConfigurationError, PeerError, PermanentPeerError, TransientPeerError

__all__ = ["GatewayFailure", "parse_retry_after", "status_error", "transport_error"]

GatewayFailure = PeerError | ConfigurationError

# The request never left this machine, so the peer cannot have acted on it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)
# A 503 says the server refused the work; other 5xx (a 504 from a proxy above all) may come
# after the peer has already stored the request.
_UNPROCESSED_5XX = frozenset({503})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` value (delta-seconds or an HTTP date).

    Returns ``None`` for a missing or unreadable value and never a negative number. ``now`` is
    for tests; it defaults to the current UTC time.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are GMT; the parser leaves "-0000" naive.
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def transport_error(
    exc: httpx.TransportError, *, system: str, operation: str, writes: bool
) -> GatewayFailure:
    """Translate an httpx transport failure.

    ``writes`` says whether the request changes state at the peer: only then can a failure after
    sending be ``ambiguous`` (a read can simply be asked again).
    """
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConfigurationError(f"{system}.{operation}: unusable URL ({detail})")
    if isinstance(exc, _NOT_SENT):
        return TransientPeerError(
            f"request not sent ({detail})", system=system, operation=operation, ambiguous=False
        )
    # ReadTimeout, WriteTimeout, ReadError, WriteError, RemoteProtocolError and anything new:
    # the bytes may have reached the peer.
    return TransientPeerError(
        f"no complete reply ({detail})", system=system, operation=operation, ambiguous=writes
    )


def status_error(
    response: httpx.Response, *, system: str, operation: str, writes: bool
) -> PeerError | None:
    """Classify a non-2xx HTTP status; ``None`` for 2xx.

    429 (with ``Retry-After``), 408 and 5xx are transient; any other status is permanent.
    Callers that treat 401/403 as an expired session must check them first.
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    what = f"HTTP {status} {response.reason_phrase}".rstrip()
    if status == 429:
        return TransientPeerError(
            f"{what}: throttled",
            system=system,
            operation=operation,
            status=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status == 408:
        return TransientPeerError(what, system=system, operation=operation, status=status)
    if status >= 500:
        return TransientPeerError(
            what,
            system=system,
            operation=operation,
            status=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            ambiguous=writes and status not in _UNPROCESSED_5XX,
        )
    return PermanentPeerError(what, system=system, operation=operation, status=status)
