"""Payments: ``POST /v1/payments`` (``Idempotency-Key`` required), the providers' callbacks,
receipts, the stale-payment sweep and the audit.

The callbacks (``/payments/paygov/confirm``, ``/payments/vnpay/ipn``) carry no bearer token:
the provider's checksum authenticates them, verified in constant time; they always answer in the
provider's own codes. ``/payments/vnpay/return`` is the payer's browser: it shows the outcome
and settles nothing.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, cast

import orjson
from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from gateway.api.auth import Client, Operator
from gateway.api.deps import get_service, parse_json, raw_body, request_body
from gateway.api.idempotency import StoredResponse, idempotent, key_from
from gateway.api.problems import Problem
from gateway.config import ClientConfig
from gateway.errors import (
    ContractError,
    IdempotencyError,
    NotFoundError,
    PermanentPeerError,
    TransientPeerError,
)
from gateway.mappers.errors import contract_error_from
from gateway.payments.service import PaymentService
from gateway.schemas.payments import Payment, PaymentRequest
from gateway.service import GatewayService

__all__ = ["install", "payment_json", "router", "shutdown"]

router = APIRouter(tags=["payments"])
Gateway = Annotated[GatewayService, Depends(get_service)]
Body = Annotated[bytes, Depends(raw_body)]
PaymentId = Annotated[str, Path(pattern=r"^[0-9]{1,20}$")]


def install(app: FastAPI, service: GatewayService) -> None:
    """Add the payment routes, with a service if ``[payments]`` is configured; its stale
    sweep then runs on the workers' sweeper (if this process runs workers)."""
    settings = service.settings.payments
    payments = PaymentService.build(settings, service) if settings else None
    if payments is not None:
        payments.attach()
    app.state.payments = payments
    app.include_router(router)


def shutdown(app: FastAPI) -> None:
    """Detach the payment service's sweep and close its provider clients (app shutdown)."""
    payments = cast(PaymentService | None, getattr(app.state, "payments", None))
    if payments is not None:
        payments.close()


def payments_of(request: Request) -> PaymentService:
    """The app's payment service; 404 problem when payments are not configured."""
    payments = cast(PaymentService | None, getattr(request.app.state, "payments", None))
    if payments is None:
        raise Problem(404, "payments are not configured ([payments])", kind="not-configured")
    return payments


def payment_json(payment: Payment) -> dict[str, Any]:
    """A payment as the API shows it (amounts in đồng)."""
    return payment.model_dump(mode="json")


def _may_pay_for(client: ClientConfig, agency: str) -> bool:
    return "*" in client.agencies or agency in client.agencies


def _create(
    payments: PaymentService, client: ClientConfig, key: str, body: bytes
) -> StoredResponse:
    try:
        req = PaymentRequest.model_validate(parse_json(body))
    except ValidationError as exc:
        raise Problem(
            422,
            "the payment request breaks the contract",
            kind="invalid-request",
            errors=contract_error_from(exc).violations,
        ) from None
    if not _may_pay_for(client, req.agency):
        raise Problem(
            403,
            f"this client may not collect fees for agency {req.agency}",
            kind="agency-not-allowed",
        )
    try:
        payment = payments.create(client.id, key, req)
    except ContractError as exc:
        raise Problem(422, str(exc), kind="no-provider", errors=exc.violations) from None
    except IdempotencyError as exc:
        headers = {"Retry-After": "1"} if exc.status == 409 else None
        raise Problem(exc.status, str(exc), kind="idempotency", headers=headers) from None
    except TransientPeerError as exc:
        wait = str(max(1, math.ceil(exc.retry_after or 5)))
        raise Problem(
            503,
            f"{exc.system} did not answer; retry with the same Idempotency-Key:"
            " the gateway asks the provider before creating anything again",
            kind="provider-unavailable",
            headers={"Retry-After": wait},
        ) from None
    except PermanentPeerError as exc:
        raise Problem(
            502, f"{exc.system} refused the payment ({exc.reason})", kind="provider-refused"
        ) from None
    return StoredResponse(
        201, orjson.dumps(payment_json(payment)), location=f"/v1/payments/{payment.id}"
    )


@router.post(
    "/v1/payments",
    status_code=201,
    openapi_extra=request_body(PaymentRequest),
    responses={
        201: {"description": "the payment, with the provider's pay_url"},
        503: {"description": "the provider did not answer: retry with the same key"},
    },
)
def post_payment(request: Request, body: Body, client: Client, gateway: Gateway) -> Response:
    """Create (once per ``Idempotency-Key``) a payment of a dossier's fees."""
    payments = payments_of(request)
    key = key_from(request)
    return idempotent(request, body, client, gateway, lambda: _create(payments, client, key, body))


def _owned(request: Request, client: ClientConfig, payment_id: str) -> Payment:
    payment = payments_of(request).get(payment_id)
    if payment is None or not (client.operator or payment.client == client.id):
        raise Problem(404, f"no payment {payment_id}", kind="not-found")
    return payment


@router.get("/v1/payments/{payment_id}")
def get_payment(request: Request, payment_id: PaymentId, client: Client) -> dict[str, Any]:
    """One payment of this client (any payment, for operators)."""
    return payment_json(_owned(request, client, payment_id))


@router.get("/v1/payments/{payment_id}/bill", response_class=Response)
def get_bill(request: Request, payment_id: PaymentId, client: Client) -> Response:
    """The receipt of a paid PayGov payment (``GET_BILL``), as PDF."""
    _owned(request, client, payment_id)
    try:
        pdf = payments_of(request).bill(payment_id)
    except NotFoundError as exc:
        raise Problem(404, str(exc), kind="not-found") from None
    except TransientPeerError:
        raise Problem(
            503,
            "PayGov did not answer; retry later",
            kind="provider-unavailable",
            headers={"Retry-After": "5"},
        ) from None
    except PermanentPeerError as exc:
        raise Problem(502, f"PayGov refused ({exc.reason})", kind="provider-refused") from None
    return Response(pdf, media_type="application/pdf")


@router.post("/payments/paygov/confirm")
def paygov_confirm(request: Request, body: Body) -> JSONResponse:
    """PayGov's confirm callback (authenticated by ``MaXacThuc``)."""
    payments = payments_of(request)
    message = parse_json(body)
    if not isinstance(message, dict):
        raise Problem(400, "the confirm message must be a JSON object", kind="invalid-body")
    try:
        return JSONResponse(payments.paygov_confirm(message))
    except NotFoundError as exc:
        raise Problem(404, str(exc), kind="not-configured") from None


@router.get("/payments/vnpay/ipn")
def vnpay_ipn(request: Request) -> JSONResponse:
    """VNPay's IPN (authenticated by ``vnp_SecureHash``); answers ``RspCode``/``Message``."""
    try:
        return JSONResponse(payments_of(request).vnpay_ipn(dict(request.query_params)))
    except NotFoundError as exc:
        raise Problem(404, str(exc), kind="not-configured") from None


@router.get("/payments/vnpay/return")
def vnpay_return(request: Request) -> dict[str, Any]:
    """Where the payer's browser comes back: the outcome shown, nothing settled."""
    try:
        return payments_of(request).vnpay_return(dict(request.query_params))
    except NotFoundError as exc:
        raise Problem(404, str(exc), kind="not-configured") from None


@router.post("/v1/payments:sweep")
def sweep(request: Request, operator: Operator) -> dict[str, int]:
    """Query stale payments and finish what is due after payments (operators)."""
    report = payments_of(request).sweep()
    return dict(vars(report))


@router.get("/v1/payments-audit")
def audit(request: Request, operator: Operator) -> list[dict[str, str]]:
    """The newest payment audit entries, newest first (operators)."""
    return payments_of(request).store.audit_log()
