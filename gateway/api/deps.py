"""Request plumbing shared by the routers: the service, the raw body, JSON parsing, OpenAPI bodies.

Intake endpoints read the raw body themselves instead of declaring a pydantic body parameter:
the idempotency fingerprint needs the exact bytes, and records are validated one by one so a
bad record is refused alone rather than failing the whole call. :func:`request_body` still
documents the expected shape in the OpenAPI document.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from fastapi import Request
from pydantic import BaseModel

from gateway.api.problems import Problem
from gateway.service import GatewayService

__all__ = ["get_service", "parse_json", "raw_body", "request_body"]


def get_service(request: Request) -> GatewayService:
    """The :class:`GatewayService` the app was built around."""
    return cast(GatewayService, request.app.state.service)


async def raw_body(request: Request) -> bytes:
    """The request body as sent (already bounded by the body-size middleware)."""
    return await request.body()


def parse_json(body: bytes, *, extensions: dict[str, Any] | None = None) -> Any:
    """Decode a JSON body; a 400 problem (rule ``json_invalid``) when it is not JSON."""
    if not body:
        raise Problem(
            400,
            "the request body is empty; a JSON document is required",
            kind="invalid-body",
            extensions=extensions,
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # The decoder's message names a position, never the content, so it is safe to return.
        raise Problem(
            400,
            f"the request body is not valid JSON: {exc}",
            kind="invalid-body",
            extensions=extensions,
        ) from exc


def request_body(model: type[BaseModel] | dict[str, Any], *, many: bool = False) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body of ``model`` (``{"items": [model]}`` if many).

    Nested models are referenced as ``#/components/schemas/<Name>`` and carried under
    ``$defs``; the app factory moves them into ``components`` (see ``app._openapi``).
    """
    if isinstance(model, dict):
        schema = model
    else:
        schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    if many:
        defs = schema.pop("$defs", {})
        name = schema.get("title", "Item")
        defs[name] = schema
        schema = {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}}
            },
            "$defs": defs,
        }
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
