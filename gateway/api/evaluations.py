"""Evaluations over HTTP: citizens' ratings in, the national portal's pull API out.

- ``POST /v1/ratings`` (provincial clients, ``Idempotency-Key`` required): one citizen rating.
- ``GET /v1/evaluations/indicators`` and ``…/indicators/{id}/explanations`` (portal role):
  a snapshot of an agency's indicators for a period, and the dossiers that cost points.
- ``GET /v1/evaluations/feed`` (portal role): per-dossier evaluation records after a cursor,
  paged, with ``ETag`` / ``If-None-Match``.

The portal role is ``[evaluations] portal_clients``: read-only clients, separate from provincial
ones. Snapshots and feed pages carry strong ETags of their content.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from gateway.api.auth import Client
from gateway.api.deps import get_service, parse_json, raw_body, request_body
from gateway.api.idempotency import StoredResponse, idempotent
from gateway.api.problems import Problem
from gateway.config import ClientConfig
from gateway.errors import Violation
from gateway.evaluations import INDICATOR_IDS, Scorecard
from gateway.mappers import contract_error_from
from gateway.schemas.rating import DossierRating
from gateway.service import GatewayService

__all__ = ["router", "scorecard_json"]

router = APIRouter(tags=["evaluations"])
Gateway = Annotated[GatewayService, Depends(get_service)]
Body = Annotated[bytes, Depends(raw_body)]
_AGENCY = r"^[0-9A-Z]{2,3}(\.[0-9A-Z]{2,3}){3}$"
_IDEMPOTENCY = {
    "parameters": [
        {"name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string"}}
    ]
}


def portal_client(client: Client, gateway: Gateway) -> ClientConfig:
    """The authenticated client, if it holds the national portal's role; 403 otherwise."""
    if client.id not in gateway.settings.evaluations.portal_clients:
        raise Problem(
            403, "evaluations are served to the national portal's client only", kind="forbidden"
        )
    return client


Portal = Annotated[ClientConfig, Depends(portal_client)]


def scorecard_json(card: Scorecard, *, high_water: int | None = None) -> dict[str, Any]:
    """A scorecard as the API and ``gateway score --format json`` print it."""
    out: dict[str, Any] = {
        "agency": card.agency,
        "period": card.period,
        "indicators": [
            {
                "id": i.id,
                "group": i.group,
                "numerator": i.numerator,
                "denominator": i.denominator,
                "ratio": i.ratio,
                "points": i.points,
                "max_points": i.max_points,
                "target": i.target,
                **({"note": i.note} if i.note else {}),
            }
            for i in card.indicators
        ],
        "groups": card.groups,
        "total": card.total,
        "max_total": card.max_total,
    }
    if high_water is not None:
        out["feed_position"] = high_water
    return out


def _etagged(request: Request, body: bytes, etag: str | None = None) -> Response:
    tag = etag or f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    match = request.headers.get("if-none-match", "")
    if tag in (t.strip() for t in match.split(",")) or match.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(body, 200, headers=headers, media_type="application/json")


def _bad(path: str, rule: str, message: str) -> Problem:
    return Problem(422, message, kind="invalid-request", errors=[Violation(path, rule, message)])


def _card(
    gateway: GatewayService, agency: str, period: str, reported: int | None, explain: str | None
) -> Scorecard:
    try:
        return gateway.evaluations.scorecard(agency, period, reported=reported, explain=explain)
    except ValueError as exc:
        raise _bad("query.period", "period_format", str(exc)) from None


@router.get("/v1/evaluations/indicators")
def get_indicators(
    request: Request,
    client: Portal,
    gateway: Gateway,
    agency: Annotated[str, Query(pattern=_AGENCY)],
    period: Annotated[str, Query(max_length=16)],
    reported: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """The indicators of ``agency`` (and the agencies below it) for ``period``."""
    card = _card(gateway, agency, period, reported, None)
    high = gateway.evaluations.store.high_water()
    return _etagged(request, orjson.dumps(scorecard_json(card, high_water=high)))


@router.get("/v1/evaluations/indicators/{indicator}/explanations")
def get_explanations(
    request: Request,
    client: Portal,
    gateway: Gateway,
    indicator: Annotated[str, Path(pattern="^[a-z_]{1,32}$")],
    agency: Annotated[str, Query(pattern=_AGENCY)],
    period: Annotated[str, Query(max_length=16)],
) -> Response:
    """The dossiers that cost ``agency`` points on ``indicator`` in ``period``, and why."""
    if indicator not in INDICATOR_IDS:
        raise Problem(
            404, f"no indicator {indicator}; known: {', '.join(INDICATOR_IDS)}", kind="not-found"
        )
    card = _card(gateway, agency, period, None, indicator)
    body = {
        "agency": agency,
        "period": card.period,
        "indicator": indicator,
        "dossiers": [
            {"dossier_no": e.dossier_no, "reason": e.reason, "excluded": e.excluded}
            for e in card.explanations
        ],
    }
    return _etagged(request, orjson.dumps(body))


@router.get("/v1/evaluations/feed")
def get_feed(
    request: Request,
    client: Portal,
    gateway: Gateway,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> Response:
    """Evaluation records changed after ``cursor``, oldest change first.

    Each dossier appears once per version; resume with ``next_cursor``. ``has_more`` false
    means caught up: poll later with the same cursor (``If-None-Match`` answers 304 while
    nothing changed).
    """
    try:
        page = gateway.evaluations.feed_page(cursor, limit)
    except ValueError as exc:
        raise Problem(
            400,
            str(exc),
            kind="invalid-cursor",
            errors=[Violation("query.cursor", "cursor", str(exc))],
        ) from None
    # Bodies are stored JSON: spliced in as they are, never decoded and encoded again.
    parts = [b'{"items":[']
    for n, (seq, body) in enumerate(page.items):
        if n:
            parts.append(b",")
        parts.append(b'{"position":%d,"record":' % seq + body + b"}")
    parts.append(
        b'],"next_cursor":'
        + orjson.dumps(page.next_cursor)
        + b',"has_more":'
        + (b"true" if page.has_more else b"false")
        + b"}"
    )
    return _etagged(request, b"".join(parts), page.etag)


def _rate(body: bytes, client: ClientConfig, gateway: GatewayService) -> StoredResponse:
    try:
        rating = DossierRating.model_validate(parse_json(body))
    except ValidationError as exc:
        err = contract_error_from(exc)
        raise Problem(
            422, "the rating breaks the contract", kind="invalid-rating", errors=err.violations
        ) from exc
    if not client.may_push_for(rating.agency):
        message = f"client {client.id} may not push ratings of agency {rating.agency}"
        raise Problem(
            403,
            message,
            kind="agency-not-allowed",
            errors=[Violation("dossier_no", "agency_not_allowed", message)],
        )
    applied, seq = gateway.evaluations.rate(rating)
    payload = {"dossier_no": rating.dossier_no, "applied": applied, "feed_position": seq}
    return StoredResponse(202, orjson.dumps(payload))


@router.post(
    "/v1/ratings", status_code=202, openapi_extra={**request_body(DossierRating), **_IDEMPOTENCY}
)
def post_rating(request: Request, body: Body, client: Client, gateway: Gateway) -> Response:
    """Store one citizen rating (202 once durable). ``applied`` is false for a rating older
    than the one the dossier already has."""
    return idempotent(request, body, client, gateway, lambda: _rate(body, client, gateway))
