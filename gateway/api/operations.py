"""Dead-letter operations for operator clients: list, show, replay, discard, audit.

Every action is recorded in the audit stream under the operator client's id. Bulk replay is
throttled (``rate`` per second) because the peer has usually just recovered, so it runs as a
background job on a worker (:mod:`gateway.pipeline.replayjobs`) that the operator polls.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.api.auth import Operator
from gateway.api.deps import get_service, parse_json, raw_body, request_body
from gateway.api.native import ID_PATTERN
from gateway.api.problems import Problem
from gateway.errors import NotFoundError
from gateway.mappers import contract_error_from
from gateway.pipeline.deadletters import DeadLetterFilter, ReplayResult
from gateway.schemas.isotime import IsoDateTime
from gateway.service import GatewayService

__all__ = ["ReplayFilter", "router"]

log = logging.getLogger("gateway.api")
router = APIRouter(prefix="/v1", tags=["operations"])

Gateway = Annotated[GatewayService, Depends(get_service)]
Body = Annotated[bytes, Depends(raw_body)]
_M = TypeVar("_M", bound=BaseModel)
LetterId = Annotated[str, Path(pattern=ID_PATTERN)]
JobId = Annotated[str, Path(pattern=ID_PATTERN)]
_CHANNEL_PATTERN = "^[A-Za-z0-9_-]+[.][A-Za-z0-9_.-]+$"
ChannelId = Annotated[
    str | None,
    Query(pattern=_CHANNEL_PATTERN, description="channel id, <peer>.<operation>"),
]


def _filter(
    peer: str | None,
    reason: str | None,
    partition: str | None,
    channel: str | None,
    since: datetime | None,
    until: datetime | None,
) -> DeadLetterFilter:
    return DeadLetterFilter(
        peer=peer,
        reason=reason,
        partition=partition,
        channel=channel,
        since=since,
        until=until,
    )


def _result(r: ReplayResult) -> dict[str, str]:
    return {"id": r.id, "outcome": r.outcome, "detail": r.detail}


def _not_found(letter_id: str) -> Problem:
    return Problem(404, f"no dead letter {letter_id}", kind="not-found")


@router.get("/dead-letters")
def list_dead_letters(
    operator: Operator,
    gateway: Gateway,
    peer: str | None = None,
    reason: str | None = None,
    partition: Annotated[str | None, Query(description="agency, client …")] = None,
    channel: ChannelId = None,
    since: Annotated[
        IsoDateTime | None, Query(description="ISO 8601 with offset, inclusive")
    ] = None,
    until: Annotated[
        IsoDateTime | None, Query(description="ISO 8601 with offset, inclusive")
    ] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Waiting dead letters, newest first; pass ``next_offset`` back for the next page."""
    flt = _filter(peer, reason, partition, channel, since, until)
    page = gateway.deadletters.find(flt, offset=offset, limit=limit)
    return {"items": [d.to_json() for d in page.items], "next_offset": page.next_offset}


@router.get("/dead-letters/{letter_id}")
def get_dead_letter(letter_id: LetterId, operator: Operator, gateway: Gateway) -> dict[str, Any]:
    """One dead letter with its record, reason and every failed attempt."""
    try:
        return gateway.deadletters.get(letter_id).to_json()
    except NotFoundError as exc:
        raise _not_found(letter_id) from exc


@router.post("/dead-letters/{letter_id}/replay")
def replay_dead_letter(letter_id: LetterId, operator: Operator, gateway: Gateway) -> dict[str, str]:
    """Queue one dead letter again; a second replay answers ``already``."""
    try:
        result = gateway.deadletters.replay(letter_id, actor=operator.id)
    except NotFoundError as exc:
        raise _not_found(letter_id) from exc
    log.info("dead letter replay id=%s by=%s outcome=%s", letter_id, operator.id, result.outcome)
    return _result(result)


class ReplayFilter(BaseModel):
    """Body of a bulk replay: which letters (absent fields match all) and how fast."""

    model_config = ConfigDict(extra="forbid")

    peer: str | None = None
    reason: str | None = None
    partition: str | None = None
    channel: str | None = Field(None, pattern=_CHANNEL_PATTERN)
    since: IsoDateTime | None = None
    until: IsoDateTime | None = None
    rate: float = Field(50.0, gt=0, le=1000, description="replays per second at most")


def _parsed(model: type[_M], body: bytes) -> _M:
    """The body as ``model``, read only after the operator is authenticated (a declared
    pydantic body would be parsed by FastAPI before any dependency runs)."""
    payload = parse_json(body)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        # Located as FastAPI locates body errors elsewhere in the API ("body.reason").
        err = contract_error_from(exc, prefix="body")
        raise Problem(
            422, "the request body is invalid", kind="invalid-body", errors=err.violations
        ) from exc


@router.post("/dead-letters:replay", status_code=202, openapi_extra=request_body(ReplayFilter))
def replay_dead_letters(
    raw: Body, operator: Operator, gateway: Gateway, response: Response
) -> dict[str, str]:
    """Start a background job replaying every matching letter at ``rate`` per second.

    Answers at once with the job's id; poll ``status_url`` (also the ``Location``) for progress
    and, when it has finished, the counts by outcome.
    """
    body = _parsed(ReplayFilter, raw)
    flt = _filter(body.peer, body.reason, body.partition, body.channel, body.since, body.until)
    job_id = gateway.replayjobs.start(flt, actor=operator.id, rate=body.rate)
    url = f"/v1/dead-letters:replay/{job_id}"
    response.headers["Location"] = url
    log.info("dead letter bulk replay job=%s by=%s rate=%s", job_id, operator.id, body.rate)
    return {"job_id": job_id, "status_url": url}


@router.get("/dead-letters:replay/{job_id}")
def get_replay_job(job_id: JobId, operator: Operator, gateway: Gateway) -> dict[str, Any]:
    """A bulk replay job: state (queued, running, finished, failed), progress and outcomes."""
    try:
        return gateway.replayjobs.get(job_id)
    except NotFoundError as exc:
        raise Problem(404, f"no replay job {job_id}", kind="not-found") from exc


class DiscardRequest(BaseModel):
    """Body of a discard: why the letter is given up (kept in the audit)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)


@router.post("/dead-letters/{letter_id}/discard", openapi_extra=request_body(DiscardRequest))
def discard_dead_letter(
    letter_id: LetterId, raw: Body, operator: Operator, gateway: Gateway
) -> dict[str, str]:
    """Give up on one dead letter for good, with a reason."""
    body = _parsed(DiscardRequest, raw)
    if not body.reason.strip():
        raise Problem(422, "a reason is required", kind="invalid-body")
    try:
        result = gateway.deadletters.discard(letter_id, actor=operator.id, reason=body.reason)
    except NotFoundError as exc:
        raise _not_found(letter_id) from exc
    log.info("dead letter discard id=%s by=%s outcome=%s", letter_id, operator.id, result.outcome)
    return _result(result)


@router.get("/audit")
def audit(
    operator: Operator, gateway: Gateway, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    """The newest operator actions, newest first."""
    return {"items": gateway.deadletters.audit(count=limit)}
