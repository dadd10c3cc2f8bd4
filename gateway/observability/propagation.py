"""``traceparent`` on every outbound request of a connector, while traces are on.

:func:`propagate_http` wraps the transports of the httpx clients a connector holds, as
:func:`~gateway.audit.exchanges.audit_http` does, so no connector changes. The header names the
current span: the delivery span of the batch being sent (:mod:`gateway.pipeline.traced`), so a
peer that traces continues the gateway's trace.
"""

from __future__ import annotations

import httpx

from gateway.observability.traces import Tracing

__all__ = ["AsyncPropagatingTransport", "PropagatingTransport", "propagate_http"]


class PropagatingTransport(httpx.BaseTransport):
    """``inner`` with the current trace context on each request's headers."""

    def __init__(self, inner: httpx.BaseTransport, tracing: Tracing) -> None:
        self.inner = inner
        self.tracing = tracing

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.tracing.inject(request.headers)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncPropagatingTransport(httpx.AsyncBaseTransport):
    """The asynchronous twin of :class:`PropagatingTransport` (the population connectors)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, tracing: Tracing) -> None:
        self.inner = inner
        self.tracing = tracing

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.tracing.inject(request.headers)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def propagate_http(owner: object, tracing: Tracing) -> int:
    """Wrap the transports of every httpx client held by ``owner``; how many were wrapped.

    Same private attributes as ``audit_http`` (``_transport``, ``_mounts``; see there why).
    """
    wrapped = 0
    for value in list(vars(owner).values()):
        if isinstance(value, httpx.Client):
            value._transport = _wrap(value._transport, tracing)
            value._mounts = {
                k: None if t is None else _wrap(t, tracing) for k, t in value._mounts.items()
            }
            wrapped += 1
        elif isinstance(value, httpx.AsyncClient):
            value._transport = _wrap_async(value._transport, tracing)
            value._mounts = {
                k: None if t is None else _wrap_async(t, tracing) for k, t in value._mounts.items()
            }
            wrapped += 1
    return wrapped


def _wrap(t: httpx.BaseTransport, tracing: Tracing) -> httpx.BaseTransport:
    return t if isinstance(t, PropagatingTransport) else PropagatingTransport(t, tracing)


def _wrap_async(t: httpx.AsyncBaseTransport, tracing: Tracing) -> httpx.AsyncBaseTransport:
    return t if isinstance(t, AsyncPropagatingTransport) else AsyncPropagatingTransport(t, tracing)
