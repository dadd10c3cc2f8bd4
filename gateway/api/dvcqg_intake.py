"""The DVCQG-compatible intake: provincial systems call the gateway as they call the portal.

``POST /dvcqg/auth`` logs in (``{"username", "password"}`` → ``session``) and
``POST /dvcqg/integration`` takes the adapter envelope (national-formats.md §2.1) for
``DongBoHoSoMC`` and ``CapNhatTienDoHoSoMC``. Answers keep the portal's shape
(``error_code``/``message``/``result``); errors are problem documents that also carry
``error_code`` and ``message``, so an existing client needs no change — in particular
``error_code`` "401" makes it log in again, as the portal's session rejection does. Repeated
failed logins answer 429 (``error_code`` "429", ``Retry-After``): :mod:`gateway.api.throttle`.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError

from gateway.api.auth import SessionStore
from gateway.api.deps import get_service, parse_json, raw_body, request_body
from gateway.api.intake import RecordResult, accept_records, national_record
from gateway.api.problems import Problem
from gateway.api.throttle import LoginAttempt, LoginThrottle
from gateway.connectors.dvcqg import Service
from gateway.mappers import contract_error_from
from gateway.schemas.envelope import (
    TYPED_CALL,
    CallEnvelope,
    DossierSyncCall,
    LoginRequest,
    ProgressCall,
)
from gateway.service import GatewayService

__all__ = ["router"]

log = logging.getLogger("gateway.api")
router = APIRouter(prefix="/dvcqg", tags=["dvcqg"])

Gateway = Annotated[GatewayService, Depends(get_service)]
Body = Annotated[bytes, Depends(raw_body)]

_FIELD_OF_RULE = {
    Service.DOSSIER: {"status_transition": "TrangThaiHoSo", "agency_not_allowed": "MaHoSo"},
    Service.PROGRESS: {
        "status_transition": "TrangThai",
        "step_out_of_order": "ThoiDiemXuLy",
        "agency_not_allowed": "MaHoSo",
    },
}


def _fail(status: int, code: str, message: str, *, kind: str, **kw: Any) -> Problem:
    return Problem(
        status, message, kind=kind, extensions={"error_code": code, "message": message}, **kw
    )


@router.post("/auth", openapi_extra=request_body(LoginRequest))
def login(request: Request, body: Body, gateway: Gateway) -> dict[str, Any]:
    """Open a session for a client's DVCQG-style username and password.

    Repeated failures for one username or from one address answer 429 with ``Retry-After``
    (``[login]`` settings) until their window closes.
    """
    ext = {"error_code": "1", "message": "invalid login request"}
    payload = parse_json(body, extensions=ext)
    try:
        req = LoginRequest.model_validate(payload)
    except ValidationError as exc:
        err = contract_error_from(exc)
        raise _fail(
            400,
            "1",
            "invalid login request: username and password are required",
            kind="invalid-body",
            errors=err.violations,
        ) from exc
    throttle = LoginThrottle(
        gateway.client, namespace=gateway.settings.namespace, settings=gateway.settings.login
    )
    # uvicorn puts the X-Forwarded-For address here when the proxy is trusted (--proxy-headers,
    # FORWARDED_ALLOW_IPS); otherwise it is the peer address.
    attempt = throttle.admit(req.username, request.client.host if request.client else "unknown")
    if not isinstance(attempt, LoginAttempt):
        # Said the same whichever limit was reached, and before the password is looked at.
        log.info("dvcqg login throttled")
        raise _fail(
            429,
            "429",
            f"too many failed logins; try again in {attempt} s",
            kind="login-throttled",
            headers={"Retry-After": str(attempt)},
        )
    client = gateway.settings.client_by_login(req.username, req.password)
    if client is None:
        # Neither the username nor the reason is echoed: no hint for guessing either.
        log.info("dvcqg login refused")
        raise _fail(401, "401", "wrong username or password", kind="login-failed")
    throttle.succeeded(attempt)
    session = SessionStore(gateway).open(client)
    log.info("dvcqg login client=%s", client.id)
    return {"error_code": 0, "message": "login successful", "session": session}


@router.post("/integration", openapi_extra=request_body(CallEnvelope))
def integration(body: Body, gateway: Gateway) -> Response:
    """Take one adapter call; answers per record, in input order, once all are durable."""
    rules = gateway.settings.wire.rules()
    typed: DossierSyncCall | ProgressCall | None
    try:
        # Fast path: a well-formed call is parsed and validated in one pass from the bytes.
        typed = TYPED_CALL.validate_json(body, context=rules)
    except ValidationError:
        typed = None
    if typed is not None:
        env: CallEnvelope = typed
    else:
        env = _envelope(body)
    client = SessionStore(gateway).client(env.session)

    if client is None:
        raise _fail(
            401,
            "401",
            "session rejected: unknown or expired, log in again",
            kind="session-rejected",
        )
    if not client.may_push_for(env.madonvi):
        raise _fail(
            403,
            "403",
            f"client {client.id} may not push for agency {env.madonvi}",
            kind="agency-not-allowed",
        )
    try:
        service = Service.from_national(env.service)
    except ValueError as exc:
        raise _fail(
            400,
            "1",
            f"service {env.service!r} is not supported by the gateway;"
            " supported: DongBoHoSoMC, CapNhatTienDoHoSoMC",
            kind="unknown-service",
        ) from exc
    if env.data is None:
        raise _fail(
            400, "1", f"{env.service} needs a data array of records", kind="invalid-envelope"
        )
    limit = gateway.settings.intake.max_records_per_call
    if len(env.data) > limit:
        raise _fail(
            413,
            "413",
            f"{len(env.data)} records in one call; at most {limit} allowed",
            kind="too-many-records",
        )

    fields = _FIELD_OF_RULE[service]

    def path_of(index: int, rule: str) -> str:
        field = fields.get(rule)
        return f"data.{index}.{field}" if field else f"data.{index}"

    items: list[Any] = (
        list(typed.data)
        if typed is not None
        else [
            national_record(service, i, item, prefix="data", rules=rules)
            for i, item in enumerate(env.data)
        ]
    )
    results = accept_records(gateway, service, client, items, path_of=path_of, agency=env.madonvi)
    accepted = sum(r.accepted for r in results)
    log.info(
        "dvcqg push client=%s madonvi=%s service=%s records=%d accepted=%d",
        client.id,
        env.madonvi,
        env.service,
        len(results),
        accepted,
    )
    everything = accepted == len(results)
    reply = {
        "error_code": 0 if everything else "1",
        "message": f"accepted {accepted} of {len(results)} records",
        "result": [_result(r) for r in results],
    }
    # Encoded here: FastAPI's generic encoder walks a 1,000-record reply in Python.
    return Response(orjson.dumps(reply), media_type="application/json")


def _envelope(body: bytes) -> CallEnvelope:
    """The envelope alone (records stay raw, to be validated one by one)."""
    payload = parse_json(body, extensions={"error_code": "1", "message": "invalid request body"})
    try:
        return CallEnvelope.model_validate(payload)
    except ValidationError as exc:
        err = contract_error_from(exc)
        raise _fail(
            400, "1", "invalid call envelope", kind="invalid-envelope", errors=err.violations
        ) from exc


def _result(r: RecordResult) -> dict[str, Any]:
    return {
        "MaHoSo": r.dossier_no,
        "accepted": r.accepted,
        "delivery_id": r.delivery_id,
        "duplicate": r.duplicate,
        "errors": [{"path": v.path, "rule": v.rule, "message": v.message} for v in r.errors],
    }
