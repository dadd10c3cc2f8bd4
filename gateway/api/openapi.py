"""The error answers of every route, written into the OpenAPI document.

FastAPI documents only what a route returns on success (and a 422 it would produce itself).
Every route also answers problem documents (``application/problem+json``): which statuses
follow from what the route is (a POST reads a body, a ``/v1`` route needs a key, an operator
route an operator, a path parameter names something that may be missing). The table here is
the one place that says so; a test checks each documented route against it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PROBLEM_SCHEMA", "document_problems", "statuses_of"]

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; the DVCQG routes add error_code and message.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "rule", "message"],
                "properties": {
                    "path": {"type": "string"},
                    "rule": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
        "error_code": {"type": "string"},
        "message": {"type": "string"},
    },
}

_WHY = {
    400: "bad request: malformed body, header or parameter",
    401: "not authenticated (API key or DVCQG session)",
    403: "authenticated, but not allowed (operator only, or another agency)",
    404: "no such resource",
    408: "the request body did not arrive in time ([intake] body_timeout_seconds)",
    409: "conflict: a record refused by the pipeline, or the same Idempotency-Key in flight",
    413: "body, record count or object count over the limit",
    422: "the request breaks the contract (every error with path and rule)",
    429: "too many failed logins; retry after Retry-After seconds",
    502: "the peer answered something unusable (identity checks, payment providers)",
    503: "the peer cannot be reached now (identity checks, payment providers)",
}
# Identity checks (gateway/api/identity.py) answer 404 while [identity] is not configured, and
# relay the population database's own failures.
_IDENTITY = {403, 404, 502, 503}

# Payments (gateway/api/payments.py) answer 404 while [payments] is not configured, refuse
# another agency or a non-operator (403) and a key in flight (409), and relay the providers'
# failures (502, 503).
_PAYMENTS = ("/v1/payments", "/payments/")
_PAYMENT_STATUSES = {403, 404, 409, 502, 503}

_OPEN = ("/health", "/metrics", "/openapi", "/docs")
# Writes with an Idempotency-Key and an agency scope (native records, dossier ratings).
_NATIVE_WRITES = ("/v1/dossiers", "/v1/steps", "/v1/ratings")


def statuses_of(path: str, method: str) -> set[int]:
    """The error statuses a route can answer."""
    if path == "/health/identity":
        return {404, 503}
    if path.startswith(_OPEN):
        return set()
    out: set[int] = set()
    post = method.lower() == "post"
    if post:
        out |= {400, 408, 413}
    if path.startswith("/dvcqg/"):
        if path == "/dvcqg/auth":
            return out | {401, 429}
        return out | {401, 403}
    out |= {401, 422}
    if "{" in path:
        out.add(404)
    if path.startswith("/v1/dead-letters") or path.startswith("/v1/audit"):
        out.add(403)
    if path.startswith("/v1/identity"):
        out |= _IDENTITY
    if path.startswith("/v1/evaluations"):
        # The national portal's client only; a feed cursor that is not one of ours is a 400.
        out |= {400, 403}
    if path.startswith(_PAYMENTS):
        out |= _PAYMENT_STATUSES
    if post and path.startswith((*_NATIVE_WRITES, "/v1/ratings")):
        out |= {403, 409}
    return out


def document_problems(schema: dict[str, Any]) -> None:
    """Add each route's problem answers (and the Problem schema) to an OpenAPI document."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses_of(path, method)):
                responses[str(status)] = {
                    "description": _WHY[status],
                    "content": {"application/problem+json": {"schema": ref}},
                }
