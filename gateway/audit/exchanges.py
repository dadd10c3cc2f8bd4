"""Every exchange with a peer, into the audit chain: an httpx transport wrapped around a client's.

:func:`audit_http` finds the httpx clients a connector holds and wraps their transports, so no
connector changes. Per call the wrapper:

1. refuses to send while the audit store is failing (``httpx.ConnectError``: the connector
   reports it as "not sent", the core retries later), as X-Road will not exchange a message it
   cannot log;
2. adds the current correlation id as ``X-Correlation-ID``;
3. appends one ``exchange`` entry: peer, operation (method and path), SHA-256 of the request and
   response bodies, status or the transport error, correlation id.

A transport whose answer arrived but cannot be recorded is not undone (the peer acted); the
failure marks the store failing, so the intake stops taking work and metrics say why.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import httpx

from gateway.audit.chain import AuditChain
from gateway.errors import AuditUnavailableError
from gateway.observability.correlation import HEADER, current

__all__ = ["AsyncAuditedTransport", "AuditedTransport", "audit_http"]

log = logging.getLogger("gateway.audit")


def _body_digest(request: httpx.Request) -> str:
    try:
        return hashlib.sha256(request.content).hexdigest()
    except httpx.RequestNotRead:
        return "streamed"


class _Recorder:
    def __init__(self, chain: AuditChain, peer: str) -> None:
        self.chain = chain
        self.peer = peer

    def before(self, request: httpx.Request) -> None:
        if not self.chain.writable():
            raise httpx.ConnectError(
                f"not sent: {self.chain.failure or 'audit store not writable'}", request=request
            )
        cid = current()
        if cid is not None:
            request.headers[HEADER] = cid

    def record(
        self, request: httpx.Request, response: httpx.Response | None, error: Exception | None
    ) -> None:
        entry: dict[str, Any] = {
            "peer": self.peer,
            "operation": f"{request.method} {request.url.path}",
            "request_sha256": _body_digest(request),
            "cid": request.headers.get(HEADER, ""),
        }
        if response is not None:
            entry["status"] = response.status_code
            entry["response_sha256"] = hashlib.sha256(response.content).hexdigest()
            entry["outcome"] = "answered"
        else:
            entry["outcome"] = type(error).__name__
        try:
            self.chain.append("exchange", entry)
        except AuditUnavailableError:
            log.error("exchange with %s not recorded: audit store not writable", self.peer)


class AuditedTransport(httpx.BaseTransport):
    """A synchronous transport that records each exchange of ``inner`` (see the module)."""

    def __init__(self, inner: httpx.BaseTransport, chain: AuditChain, peer: str) -> None:
        self.inner = inner
        self._rec = _Recorder(chain, peer)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._rec.before(request)
        try:
            response = self.inner.handle_request(request)
            response.read()
        except Exception as exc:
            self._rec.record(request, None, exc)
            raise
        self._rec.record(request, response, None)
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncAuditedTransport(httpx.AsyncBaseTransport):
    """The asynchronous twin of :class:`AuditedTransport` (the population connectors)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, chain: AuditChain, peer: str) -> None:
        self.inner = inner
        self._rec = _Recorder(chain, peer)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._rec.before(request)
        try:
            response = await self.inner.handle_async_request(request)
            await response.aread()
        except Exception as exc:
            self._rec.record(request, None, exc)
            raise
        self._rec.record(request, response, None)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def audit_http(owner: object, chain: AuditChain, peer: str) -> int:
    """Wrap the transports of every httpx client held by ``owner``; how many were wrapped.

    httpx offers no public way to wrap the transport of a built client; ``_transport`` and
    ``_mounts`` (proxies) are what ``Client.send`` uses, stable since httpx 0.18.
    """
    wrapped = 0
    for value in list(vars(owner).values()):
        if isinstance(value, httpx.Client):
            value._transport = _wrap(value._transport, chain, peer)
            value._mounts = {
                k: None if t is None else _wrap(t, chain, peer) for k, t in value._mounts.items()
            }
            wrapped += 1
        elif isinstance(value, httpx.AsyncClient):
            value._transport = _wrap_async(value._transport, chain, peer)
            value._mounts = {
                k: None if t is None else _wrap_async(t, chain, peer)
                for k, t in value._mounts.items()
            }
            wrapped += 1
    return wrapped


def _wrap(t: httpx.BaseTransport, chain: AuditChain, peer: str) -> httpx.BaseTransport:
    return t if isinstance(t, AuditedTransport) else AuditedTransport(t, chain, peer)


def _wrap_async(
    t: httpx.AsyncBaseTransport, chain: AuditChain, peer: str
) -> httpx.AsyncBaseTransport:
    return t if isinstance(t, AsyncAuditedTransport) else AsyncAuditedTransport(t, chain, peer)
