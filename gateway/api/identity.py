"""Identity checks for provincial systems: ``POST /v1/identity:verify`` and its operations pages.

A bearer client listed in ``[identity] entitlements`` states a person; the answer is match, or
mismatch naming the differing fields, plus the record's entitled fields. A number failing the
offline rules is 422 at once, naming the rule; while the database's breaker is open (or it
fails transiently) the answer is 503 with ``Retry-After``; a reply the gateway refuses is 502
naming the rule, never the peer's text.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, cast

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from gateway.api.auth import Client, Operator
from gateway.api.deps import parse_json, raw_body, request_body
from gateway.api.problems import Problem
from gateway.errors import ContractError, PermanentPeerError, TransientPeerError
from gateway.identity import IdentityCollector, IdentityService
from gateway.mappers.errors import contract_error_from
from gateway.schemas.identity import IdentityAnswer, IdentityQuery
from gateway.service import GatewayService

__all__ = ["install", "router", "shutdown"]

router = APIRouter(tags=["identity"])

_DEFAULT_RETRY_SECONDS = 5


def install(app: FastAPI, service: GatewayService) -> None:
    """Add the identity routes to ``app``, with a service if ``[identity]`` is configured."""
    settings = service.settings.identity
    identity = None
    if settings is not None:
        identity = IdentityService.build(
            settings,
            service.client,
            service.settings.namespace,
            on_dossier_check=service.evaluations.refresh_idchecks,
            chain=service.audit,
            tracing=service.tracing,
        )
        app.state.metrics_registry.register(
            IdentityCollector(lambda: cast(IdentityService | None, app.state.identity))
        )
    app.state.identity = identity
    app.include_router(router)


async def shutdown(app: FastAPI) -> None:
    """Close the identity service's connector (app shutdown)."""
    identity = cast(IdentityService | None, getattr(app.state, "identity", None))
    if identity is not None:
        await identity.aclose()


def identity_of(request: Request) -> IdentityService:
    """The app's identity service; 404 problem when identity checks are not configured."""
    identity = cast(IdentityService | None, getattr(request.app.state, "identity", None))
    if identity is None:
        raise Problem(404, "identity checks are not configured ([identity])", kind="not-configured")
    return identity


@router.post(
    "/v1/identity:verify",
    openapi_extra=request_body(IdentityQuery),
    response_model=IdentityAnswer,
    responses={
        403: {"description": "the client is not entitled to identity checks"},
        422: {"description": "bad request, or the ID number fails an offline rule"},
        502: {"description": "the population database sent a reply the gateway refuses"},
        503: {"description": "the population database is unavailable (Retry-After)"},
    },
)
async def verify(request: Request, client: Client) -> Response:
    """Verify a person against the population database (offline checks first)."""
    identity = identity_of(request)
    if identity.settings.entitlement(client.id) is None:
        raise Problem(403, "this client is not entitled to identity checks", kind="forbidden")
    data = parse_json(await raw_body(request))
    try:
        query = IdentityQuery.model_validate(data)
    except ValidationError as exc:
        error = contract_error_from(exc)
        raise Problem(
            422,
            "the request does not match the contract",
            kind="invalid-request",
            errors=error.violations,
        ) from None
    try:
        answer = await identity.verify(query, client_id=client.id)
    except ContractError as exc:
        raise Problem(
            422,
            "the ID number fails an offline check; the database was not asked",
            kind="identity-invalid",
            errors=exc.violations,
            extensions={"outcome": "invalid"},
        ) from None
    except TransientPeerError as exc:
        wait = exc.retry_after if exc.retry_after else _DEFAULT_RETRY_SECONDS
        raise Problem(
            503,
            "the population database is unavailable; ask again later",
            kind="population-unavailable",
            extensions={"outcome": "unavailable", "reason": exc.reason},
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        ) from None
    except PermanentPeerError as exc:
        raise Problem(
            502,
            "the population database did not give a usable answer",
            kind="population-refused",
            extensions={"outcome": "unavailable", "reason": exc.reason},
        ) from None
    return JSONResponse(answer.model_dump(mode="json"))


@router.get("/health/identity")
def health(request: Request) -> dict[str, Any]:
    """The population database's breaker: state, seconds until a probe, recent results."""
    return identity_of(request).health()


@router.get("/v1/identity/audit")
def audit(
    request: Request, operator: Operator, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    """The newest identity look-ups (masked numbers only), newest first; operator clients."""
    return {"items": identity_of(request).audit(count=limit)}
