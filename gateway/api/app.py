"""The app factory: one FastAPI app around one :class:`~gateway.service.GatewayService`.

No module-level app and no globals: ``create_app(service)`` builds everything per call, so tests
and embedded instances never share state. Errors are RFC 9457 problem documents
(:mod:`gateway.api.problems`); bad input never becomes a 500.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.api import (
    console,
    dvcqg_intake,
    evaluations,
    health,
    identity,
    ministries,
    native,
    operations,
    payments,
)
from gateway.api.gates import AuditGate, Correlation, TraceIntake
from gateway.api.health import metrics_registry
from gateway.api.limits import BodyLimit
from gateway.api.openapi import document_problems
from gateway.api.problems import Problem, problem_response
from gateway.errors import AuditUnavailableError, Violation
from gateway.service import GatewayService

__all__ = ["create_app"]

log = logging.getLogger("gateway.api")

_DESCRIPTION = """\
Accepts dossier records from provincial systems and delivers them to the national portal (DVCQG).

- `/dvcqg/*`: the portal's own adapter protocol, for systems already written against it.
- `/v1/dossiers`, `/v1/steps`: the native API (provincial records, `Idempotency-Key` required).
- `/v1/dead-letters`, `/v1/audit`: operations, for operator clients.
- Errors are `application/problem+json` (RFC 9457).
"""


def create_app(service: GatewayService) -> FastAPI:
    """Build the HTTP API around ``service`` (OpenAPI at ``/openapi.json``, docs at ``/docs``)."""
    app = FastAPI(
        title="tthc-gateway",
        version="0.1.0",
        description=_DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.service = service
    app.state.metrics_registry = metrics_registry(service)
    intake = service.settings.intake
    app.add_middleware(
        BodyLimit, max_bytes=intake.max_body_bytes, timeout=intake.body_timeout_seconds
    )
    app.add_middleware(AuditGate, failing=service.audit_failure)
    if service.tracing is not None:
        # Added before Correlation, so it runs inside it and the span has the request's id.
        app.add_middleware(TraceIntake, tracing=service.tracing)
    app.add_middleware(Correlation)
    for module in (dvcqg_intake, native, operations, evaluations, health, ministries):
        app.include_router(module.router)
    identity.install(app, service)
    console.install(app)
    dvcqg_intake.add_bare_routes(app, intake.bare_routes)
    payments.install(app, service)
    app.add_exception_handler(Problem, _on_problem)  # type: ignore[arg-type]
    app.add_exception_handler(AuditUnavailableError, _on_audit)  # type: ignore[arg-type]
    app.add_exception_handler(redis.RedisError, _on_store)
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The app owns what it built (payment provider clients, the population connector); the
    # service is the caller's.
    try:
        yield
    finally:
        payments.shutdown(app)
        await identity.shutdown(app)


async def _on_problem(request: Request, exc: Problem) -> Response:
    return problem_response(exc)


async def _on_audit(request: Request, exc: AuditUnavailableError) -> Response:
    # The action could not be recorded; the chain is now failing, so the gate refuses new work.
    return problem_response(
        Problem(503, f"{exc}; retry later", kind="audit-unavailable", headers={"Retry-After": "5"})
    )


_UNAVAILABLE = (
    redis.ConnectionError,  # also BusyLoadingError (LOADING), AuthenticationError
    redis.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.MasterDownError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
)
# Refusals redis-py leaves as a plain ResponseError: persistence failing (MISCONF: the AOF or a
# snapshot cannot be written), a script running too long (BUSY), too few replicas.
_UNAVAILABLE_REPLIES = (b"MISCONF", b"BUSY ", b"NOREPLICAS")


def _unavailable(exc: redis.RedisError) -> bool:
    """True when Redis could not serve (down, hung, refusing writes), False for an answer that
    says our command or our data is wrong (a script error, WRONGTYPE, a bad argument): a bug,
    which a 503 would hide behind retries every 5 seconds."""
    if isinstance(exc, _UNAVAILABLE) or type(exc) is redis.RedisError:
        return True  # a bare RedisError: the gateway's own (updates losing 100 races in a row)
    if type(exc) is redis.ResponseError:
        return str(exc).encode().startswith(_UNAVAILABLE_REPLIES)
    return False


async def _on_store(request: Request, exc: Exception) -> Response:
    # Redis down, hung (the client's timeout) or refusing writes. The sender may retry: a
    # record the store did take meanwhile is then a duplicate. A 500 would read as our bug.
    # The message can name keys: not logged.
    if not isinstance(exc, redis.RedisError) or not _unavailable(exc):
        return _internal_error(request, exc)
    log.warning(
        "store unavailable (%s) on %s %s", type(exc).__name__, request.method, request.url.path
    )
    return problem_response(
        Problem(
            503,
            "the gateway's store is unavailable; retry later",
            kind="store-unavailable",
            headers={"Retry-After": "5"},
        )
    )


async def _on_validation(request: Request, exc: RequestValidationError) -> Response:
    violations = [
        Violation(
            ".".join(str(p) for p in err.get("loc", ())),
            str(err.get("type", "invalid")),
            str(err.get("msg", "")),
        )
        for err in exc.errors()
    ]
    return problem_response(
        Problem(
            422,
            "the request does not match the contract",
            kind="invalid-request",
            errors=violations,
        )
    )


async def _on_http(request: Request, exc: StarletteHTTPException) -> Response:
    return problem_response(
        Problem(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))
    )


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    if isinstance(exc, redis.RedisError) and _unavailable(exc):
        return await _on_store(request, exc)  # raised in a middleware, outside the routes
    return _internal_error(request, exc)


def _internal_error(request: Request, exc: Exception) -> Response:
    # Method and path only: bodies, headers and the exception message may hold personal data
    # or secrets. The traceback (code locations) is what a developer needs.
    log.error(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc
    )
    return problem_response(Problem(500, "internal error; the request may be retried"))


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """An ``app.openapi`` that moves ``$defs`` of hand-written request bodies into components."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                content = operation.get("requestBody", {}).get("content", {})
                body = content.get("application/json", {}).get("schema")
                if isinstance(body, dict) and "$defs" in body:
                    components.update(body.pop("$defs"))
                items = body.get("items") if isinstance(body, dict) else None
                if isinstance(items, dict) and "$defs" in items:
                    components.update(items.pop("$defs"))
        document_problems(schema)
        app.openapi_schema = schema
        return schema

    return build
