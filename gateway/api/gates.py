"""ASGI middlewares around every request: the correlation id, the intake's span, the audit gate.

- :class:`Correlation` binds the caller's ``X-Correlation-ID`` (or a new id, when absent or
  unusable) for the request, and answers with it, so the intake stores it with each item.
- :class:`TraceIntake` (only while traces are on) makes each intake request a server span named
  by its route template, with the correlation id, method and status: no path, query or body.
- :class:`AuditGate` answers 503 (``Retry-After``) to new work while the audit chain cannot be
  written, as X-Road does without its message log: the intakes (DVCQG and native) and identity
  look-ups. Reads, health, metrics and operator pages stay open so operators can see why.

Pure ASGI rather than ``BaseHTTPMiddleware``: no extra task or body copy on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.problems import Problem, problem_response
from gateway.observability.correlation import HEADER, bind, current, new_cid, valid_cid
from gateway.observability.traces import CORRELATION_ATTRIBUTE, Attribute, Tracing

__all__ = ["INTAKE_PATHS", "AuditGate", "Correlation", "TraceIntake"]

INTAKE_PATHS: tuple[str, ...] = ("/dvcqg/integration", "/v1/dossiers", "/v1/steps", "/v1/identity")
"""Path prefixes of the routes that take new work (POST)."""

_HEADER_BYTES = HEADER.lower().encode()


class Correlation:
    """Binds the request's correlation id and echoes it in the response headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == _HEADER_BYTES), None)
        cid = valid_cid(given.decode("latin-1") if given is not None else None) or new_cid()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (_HEADER_BYTES, cid.encode())]
            await send(message)

        with bind(cid):
            await self.app(scope, receive, send_with_id)


class TraceIntake:
    """One server span per intake request (see the module); inside :class:`Correlation`."""

    def __init__(self, app: ASGIApp, *, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(INTAKE_PATHS):
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        prefix = next(p for p in INTAKE_PATHS if scope["path"].startswith(p))
        attributes: dict[str, Attribute] = {"http.request.method": method}
        cid = current()
        if cid is not None:
            attributes[CORRELATION_ATTRIBUTE] = cid
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with self.tracing.server_span(f"{method} {prefix}", scope["headers"], attributes) as span:
            try:
                await self.app(scope, receive, send_status)
            finally:
                # The route's template (``/v1/dossiers/{dossier_no}``), never the path itself,
                # which may hold a dossier's number; the router has set it by now.
                route = _template(scope.get("route"))
                if route is not None:
                    span.set_attribute("http.route", route)
                if status:
                    span.set_attribute("http.response.status_code", status)


def _template(route: Any) -> str | None:
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


class AuditGate:
    """503 for new work while ``failing()`` names why the audit store cannot be written."""

    def __init__(self, app: ASGIApp, *, failing: Callable[[], str | None]) -> None:
        self.app = app
        self.failing = failing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].startswith(INTAKE_PATHS)
        ):
            why = self.failing()
            if why is not None:
                response = problem_response(
                    Problem(
                        503,
                        f"the gateway takes no new work: {why}; nothing was accepted",
                        kind="audit-unavailable",
                        headers={"Retry-After": "5"},
                    )
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
