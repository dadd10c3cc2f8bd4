"""The native intake API: provincial records in, national records queued, delivery status out.

Writes take provincial :class:`~gateway.schemas.provincial.Dossier` /
:class:`~gateway.schemas.provincial.ProgressStep` JSON, map them with :mod:`gateway.mappers` and
queue them; each write needs an ``Idempotency-Key`` (:mod:`gateway.api.idempotency`). A 202 means
the records are durable in the outbox, not yet delivered: follow ``/v1/deliveries/{id}``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.api.auth import Client
from gateway.api.deps import get_service, parse_json, raw_body, request_body
from gateway.api.idempotency import StoredResponse, idempotent
from gateway.api.intake import RecordResult, accept_records, intake_rules, provincial_record
from gateway.api.problems import PROBLEM_JSON, Problem
from gateway.connectors.dvcqg import Service
from gateway.errors import NotFoundError
from gateway.mappers import contract_error_from
from gateway.pipeline.outbox import DeliveryStatus, text
from gateway.schemas.provincial import Dossier, ProgressStep
from gateway.service import GatewayService

__all__ = ["ID_PATTERN", "router", "status_json"]

log = logging.getLogger("gateway.api")
router = APIRouter(tags=["native"])

Gateway = Annotated[GatewayService, Depends(get_service)]
Body = Annotated[bytes, Depends(raw_body)]
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
"""Delivery and dead-letter ids: they end up inside Redis key names, so nothing else passes."""

_FIELD_OF_RULE = {
    "status_transition": "status",
    "step_out_of_order": "handled_at",
    "agency_not_allowed": "dossier_no",
}
_IDEMPOTENCY_HEADER = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
            "description": "unique per logical request; the first response is replayed",
        }
    ]
}


class _Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[Any]


def _path_of(prefix: str) -> Any:
    def path_of(index: int, rule: str) -> str:
        field = _FIELD_OF_RULE.get(rule, "")
        head = f"{prefix}.{index}" if prefix else ""
        return ".".join(p for p in (head, field) if p)

    return path_of


def _delivery(result: RecordResult) -> dict[str, Any]:
    return {
        "index": result.index,
        "delivery_id": result.delivery_id,
        "duplicate": result.duplicate,
        "dossier_no": result.dossier_no,
        "flags": list(result.flags),
    }


def _refusal(result: RecordResult) -> dict[str, Any]:
    return {
        "index": result.index,
        "dossier_no": result.dossier_no,
        "rule": result.rule,
        "message": result.errors[0].message if result.errors else "",
        "errors": [{"path": v.path, "rule": v.rule, "message": v.message} for v in result.errors],
    }


def _json(status: int, payload: dict[str, Any], **kw: Any) -> StoredResponse:
    return StoredResponse(status, orjson.dumps(payload), **kw)


def _single(service: Service, body: bytes, client: Any, gateway: GatewayService) -> StoredResponse:
    rules = intake_rules(gateway)
    item = provincial_record(service, 0, parse_json(body), prefix="", rules=rules)
    if isinstance(item, RecordResult):
        raise Problem(
            422, "the record breaks the contract", kind="invalid-record", errors=item.errors
        )
    [result] = accept_records(gateway, service, client, [item], path_of=_path_of(""))
    if result.accepted:
        log.info(
            "native accept client=%s service=%s dossier=%s delivery=%s dup=%s",
            client.id,
            service.name,
            result.dossier_no,
            result.delivery_id,
            result.duplicate,
        )
        payload = _delivery(result)
        del payload["index"]
        return _json(202, payload, location=f"/v1/deliveries/{result.delivery_id}")
    if result.rule == "agency_not_allowed":
        raise Problem(
            403,
            result.errors[0].message,
            kind="agency-not-allowed",
            errors=result.errors,
            extensions={"rule": result.rule},
        )
    # A pipeline refusal is the outcome of processing, so it is stored and replayed like a 202.
    problem = Problem(
        409,
        result.errors[0].message,
        kind="record-refused",
        errors=result.errors,
        extensions={"rule": result.rule, "dossier_no": result.dossier_no},
    )
    return _json(409, problem.to_json(), media_type=PROBLEM_JSON)


def _batch(service: Service, body: bytes, client: Any, gateway: GatewayService) -> StoredResponse:
    try:
        batch = _Batch.model_validate(parse_json(body))
    except ValidationError as exc:
        err = contract_error_from(exc)
        raise Problem(
            422, 'the body must be {"items": [...]}', kind="invalid-body", errors=err.violations
        ) from exc
    limit = gateway.settings.intake.max_records_per_call
    if len(batch.items) > limit:
        raise Problem(
            413,
            f"{len(batch.items)} records in one call; at most {limit} allowed",
            kind="too-many-records",
        )
    rules = intake_rules(gateway)
    items = [
        provincial_record(service, i, it, prefix="items", rules=rules)
        for i, it in enumerate(batch.items)
    ]
    results = accept_records(gateway, service, client, items, path_of=_path_of("items"))
    log.info(
        "native batch client=%s service=%s records=%d accepted=%d",
        client.id,
        service.name,
        len(results),
        sum(r.accepted for r in results),
    )
    return _json(
        202,
        {
            "deliveries": [_delivery(r) for r in results if r.accepted],
            "refused": [_refusal(r) for r in results if not r.accepted],
        },
    )


@router.post(
    "/v1/dossiers", status_code=202, openapi_extra={**request_body(Dossier), **_IDEMPOTENCY_HEADER}
)
def post_dossier(request: Request, body: Body, client: Client, gateway: Gateway) -> Response:
    """Queue one provincial dossier for delivery (202 with its delivery id)."""
    return idempotent(
        request, body, client, gateway, lambda: _single(Service.DOSSIER, body, client, gateway)
    )


@router.post(
    "/v1/dossiers:batch",
    status_code=202,
    openapi_extra={**request_body(Dossier, many=True), **_IDEMPOTENCY_HEADER},
)
def post_dossiers(request: Request, body: Body, client: Client, gateway: Gateway) -> Response:
    """Queue many dossiers; invalid or refused ones are listed under ``refused``."""
    return idempotent(
        request, body, client, gateway, lambda: _batch(Service.DOSSIER, body, client, gateway)
    )


@router.post(
    "/v1/steps",
    status_code=202,
    openapi_extra={**request_body(ProgressStep), **_IDEMPOTENCY_HEADER},
)
def post_step(request: Request, body: Body, client: Client, gateway: Gateway) -> Response:
    """Queue one progress step for delivery (202 with its delivery id)."""
    return idempotent(
        request, body, client, gateway, lambda: _single(Service.PROGRESS, body, client, gateway)
    )


@router.post(
    "/v1/steps:batch",
    status_code=202,
    openapi_extra={**request_body(ProgressStep, many=True), **_IDEMPOTENCY_HEADER},
)
def post_steps(request: Request, body: Body, client: Client, gateway: Gateway) -> Response:
    """Queue many progress steps; invalid or refused ones are listed under ``refused``."""
    return idempotent(
        request, body, client, gateway, lambda: _batch(Service.PROGRESS, body, client, gateway)
    )


def status_json(status: DeliveryStatus) -> dict[str, Any]:
    """A delivery status as JSON (times ISO 8601 UTC, ``null`` when not applicable)."""

    def iso(value: Any) -> str | None:
        return None if value is None else str(value.isoformat())

    return {
        "delivery_id": status.delivery_id,
        "channel": status.channel,
        "partition": status.partition,
        "subject": status.subject,
        "state": status.state.value,
        "flags": list(status.flags),
        "ambiguous": status.ambiguous,
        "attempts": status.attempts,
        "last_error": status.last_error,
        "next_attempt_at": iso(status.next_attempt_at),
        "accepted_at": iso(status.accepted_at),
        "delivered_at": iso(status.delivered_at),
        "superseded_by": status.superseded_by,
    }


@router.get("/v1/deliveries/{delivery_id}")
def get_delivery(
    delivery_id: Annotated[str, Path(pattern=ID_PATTERN)], client: Client, gateway: Gateway
) -> dict[str, Any]:
    """Where one accepted record stands. Only its pusher (or an operator) may read it."""
    owner = gateway.client.hget(f"{gateway.settings.namespace}:rec:{delivery_id}", "client")
    # Another client's delivery answers 404 like a missing one, so ids cannot be probed.
    mine = owner is not None and (client.operator or text(owner) == client.id)
    try:
        if not mine:
            raise NotFoundError(delivery_id)
        return status_json(gateway.outbox.status(delivery_id))
    except NotFoundError as exc:
        raise Problem(404, f"no delivery {delivery_id}", kind="not-found") from exc
