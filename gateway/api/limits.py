"""Request-body size and time limits, enforced before any endpoint sees a byte.

``Content-Length`` is checked first (cheap refusal), then the bytes actually received are
counted, because a chunked request has no length and a client may lie about it. The whole body
must arrive within ``timeout`` seconds: a sender that announces 100 bytes and sends 1 is cut off
with a 408 (and the connection closed) instead of holding it open for minutes. The body is
buffered here (it is bounded) and handed to the app unchanged.
"""

from __future__ import annotations

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.problems import Problem

__all__ = ["BodyLimit"]


class BodyLimit:
    """ASGI middleware: 413 problem for bodies over ``max_bytes`` (400 for a bad length), 408
    for a body not received within ``timeout`` seconds."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    def _problem(self, scope: Scope, status: int, detail: str) -> Problem:
        # The DVCQG-compatible clients read error_code, not the problem fields.
        dvcqg = str(scope.get("path", "")).startswith("/dvcqg/")
        ext = {"error_code": str(status), "message": detail} if dvcqg else None
        kinds = {413: "body-too-large", 408: "body-timeout"}
        return Problem(
            status,
            detail,
            kind=kinds.get(status, "invalid-body"),
            extensions=ext,
            # The rest of a slow body is never read: the connection cannot be reused.
            headers={"Connection": "close"} if status == 408 else None,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared and the real size, then run the app on the buffered body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                await self._problem(scope, 400, "invalid Content-Length").response()(
                    scope, receive, send
                )
                return
            if length > limit:
                await self._problem(scope, 413, f"request body over {limit} bytes").response()(
                    scope, receive, send
                )
                return
        chunks: list[bytes] = []
        total = 0
        with anyio.move_on_after(self.timeout) as deadline:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                total += len(chunk)
                if total > limit:
                    await self._problem(scope, 413, f"request body over {limit} bytes").response()(
                        scope, receive, send
                    )
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if deadline.cancelled_caught:
            detail = f"request body not received within {self.timeout:g} s"
            await self._problem(scope, 408, detail).response()(scope, receive, send)
            return
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
