"""Ministry systems: ``POST /v1/ministries/<system>/callback`` (the ministry pushes a status
change) and ``GET /v1/ministries/<system>/cases/<MaHoSo>`` (where a handed-over dossier stands).

The callback is authenticated by the system's ``callback_secret`` as a bearer token, compared
in constant time; a system without one refuses every callback. A duplicate callback is recorded
as a duplicate and answers 200 like the first, so a ministry that retries is never told to
retry for ever; a change of a case not recorded yet answers 409 (push it again later).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from gateway.api.auth import Client
from gateway.api.deps import get_service, raw_body
from gateway.api.problems import Problem
from gateway.errors import ContractError, PeerError, Violation
from gateway.ministry import MinistryService
from gateway.service import GatewayService

__all__ = ["router"]

router = APIRouter(tags=["ministries"])
Gateway = Annotated[GatewayService, Depends(get_service)]
Body = Annotated[bytes, Depends(raw_body)]
System = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


def _ministry(service: GatewayService, system: str) -> MinistryService:
    ministry = service.ministry
    if ministry is None or system not in ministry.connectors:
        raise Problem(404, f"no ministry system {system!r} is configured", kind="not-found")
    return ministry


@router.post("/v1/ministries/{system}/callback")
def callback(system: System, request: Request, service: Gateway, body: Body) -> dict[str, Any]:
    """Record the status changes a ministry pushes; answers what was new and what repeated."""
    ministry = _ministry(service, system)
    secret = ministry.callback_secret(system)
    given = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
    # An empty secret (or token) never authenticates: b"" equals b"" in any comparison.
    if not secret or not given or not hmac.compare_digest(given, secret.encode()):
        raise Problem(401, "callback token missing or wrong", kind="unauthorized")
    try:
        report = ministry.callback(system, dict(request.headers), body)
    except ContractError as exc:
        raise Problem(
            422, "the callback breaks the contract", kind="invalid-request", errors=exc.violations
        ) from None
    except PeerError as exc:
        raise Problem(
            422, f"the callback was refused: {exc.reason}", kind="invalid-request"
        ) from None
    if report.unknown:
        # Retryable: the case may be recorded in a moment (the ministry pushed before our
        # hand-over call returned). The changes that were known are recorded already, so the
        # repeat makes them duplicates.
        raise Problem(
            409,
            "no case is recorded for a pushed change yet; push it again later",
            kind="unknown-case",
            errors=[
                Violation(f"{n}.dossier_no", "unknown_case", f"{no} has no case recorded yet")
                for n, no in enumerate(report.unknown)
            ],
            headers={"Retry-After": "60"},
        )
    return {"recorded": report.recorded, "duplicates": report.duplicates}


@router.get("/v1/ministries/{system}/cases/{dossier_no}")
def case(system: System, dossier_no: str, client: Client, service: Gateway) -> dict[str, Any]:
    """The ministry case of one handed-over dossier (404 when it was never handed over)."""
    ministry = _ministry(service, system)
    stored = ministry.store.get(system, dossier_no)
    # Another client's case answers 404 like a missing one (as deliveries do), so one province
    # cannot follow, or probe for, another's dossiers.
    mine = stored is not None and (client.operator or stored.client == client.id)
    found = ministry.case(system, dossier_no) if mine else None
    if found is None:
        raise Problem(404, f"{dossier_no} was not handed over to {system}", kind="not-found")
    return found
