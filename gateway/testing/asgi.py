"""One in-process HTTP request to an ASGI app, from synchronous test code."""

from __future__ import annotations

from typing import Any

import anyio
import httpx

__all__ = ["asgi_call"]


def asgi_call(app: Any, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """``method url`` against ``app`` through httpx's ASGI transport (no socket, no server)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as c:
            return await c.request(method, url, **kwargs)

    return anyio.run(go)
