"""An httpx transport wrapper that stops reading a reply past a byte limit.

httpx reads whole bodies into memory; a peer (or anything pretending to be one) could send
gigabytes. The limit is applied while the body streams in, before it is all held.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

__all__ = ["BoundedTransport", "ReplyTooLarge"]


class ReplyTooLarge(Exception):
    """The reply body passed the limit; raised while it is read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"reply over {limit} bytes")
        self.limit = limit


class _BoundedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                raise ReplyTooLarge(self._limit)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class BoundedTransport(httpx.AsyncBaseTransport):
    """Wraps ``inner``; every reply body is cut off (``ReplyTooLarge``) past ``limit`` bytes."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit:
            await response.aclose()
            raise ReplyTooLarge(self._limit)
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)  # noqa: S101 - async transports give one
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_BoundedStream(stream, self._limit),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()
